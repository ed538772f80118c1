"""Reads that start mid-log, and ``last_event``: the same answers as filtering everything, on both backends.

Two sessions interleave three streams, so a read bounded by a session, a stream and
positions has to seek (SQLite binary-searches a stream's versions, and narrows a
session's read to its first and last positions) and must still return exactly
what a full scan filtered in Python returns.
"""

from __future__ import annotations

import pytest

from tests.contract.test_event_store_contract import A, B, C, read_all, trade
from virtuoso.events import Event
from virtuoso.store import EventFilter, EventStore
from virtuoso.store._rows import matches

pytestmark = pytest.mark.asyncio

EARLY, LATE = "s-early", "s-late"


async def interleaved_log(store: EventStore) -> list[Event]:
    """Session EARLY, then LATE and EARLY alternating, over streams A, B and C; every event of the log."""
    await store.begin_session("early", "tests", started_ns=1, session_id=EARLY)
    await store.append([trade(n, A, session=EARLY) for n in range(10)])
    await store.begin_session("late", "tests", started_ns=1, session_id=LATE)
    for block in range(4):
        for session, stream in ((LATE, B if block % 2 else C), (EARLY, A), (LATE, A)):
            first = 100 * block + (0 if session == EARLY else 50) + (10 if stream != A else 0)
            await store.append(
                [trade(n, stream, session=session, event_id=f"{session}/{stream}/{n}") for n in range(first, first + 7)]
            )
    return await read_all(store)


FILTERS = {
    "stream": lambda p: EventFilter(streams=(A,), after_position=p),
    "stream, until": lambda p: EventFilter(streams=(A,), until_position=p),
    "stream in session": lambda p: EventFilter(session=LATE, streams=(A,), after_position=p),
    "session": lambda p: EventFilter(session=EARLY, after_position=p),
    "session, until": lambda p: EventFilter(session=LATE, until_position=p),
    "stream in session, by time": lambda p: EventFilter(session=EARLY, streams=(A,), end_ns=2_000 + 100 * p),
    "two streams": lambda p: EventFilter(streams=(B, C), after_position=p // 2, until_position=p),
}


@pytest.mark.parametrize("name", FILTERS)
async def test_reads_and_last_event_agree_with_a_full_scan(store: EventStore, name: str) -> None:
    everything = await interleaved_log(store)
    for position in range(len(everything) + 2):
        flt = FILTERS[name](position)
        expected = [e for e in everything if matches(e, flt)]

        assert [e.position for e in await read_all(store, flt, chunk_size=3)] == [e.position for e in expected]
        assert await store.last_event(flt) == (expected[-1] if expected else None)


async def test_last_event_finds_the_latest_at_or_before_a_time(store: EventStore) -> None:
    await interleaved_log(store)

    found = await store.last_event(EventFilter(streams=(A,), end_ns=2_000 + 100 * 303 + 1))

    assert found is not None
    assert (found.ts_event, found.stream) == (2_000 + 100 * 303, A)


async def test_last_event_of_nothing_is_none(store: EventStore) -> None:
    assert await store.last_event() is None
    await interleaved_log(store)

    assert await store.last_event(EventFilter(streams=("binance:nowhere",))) is None
    assert await store.last_event(EventFilter(session="s-unknown")) is None
    assert await store.last_event(EventFilter(types=("Quote",))) is None
    newest = await store.last_event()
    assert newest is not None
    assert newest.position == await store.max_position()
