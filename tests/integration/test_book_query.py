"""The book at a time: checkpoints written into the log, and seeking from them.

Every answer with checkpoints is compared with a replay of the whole stream up to
the same time, on a real SQLite log and on the in-memory store.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from virtuoso.book import (
    SYNTHETIC_START_NS,
    BookBuilder,
    BookState,
    SyncRule,
    book_at,
    checkpoint_stream,
    find_book_stream,
    latest_checkpoint,
    synthetic_book_events,
    write_checkpoints,
)
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot, Event, EventIdFactory, Payload
from virtuoso.store import EventFilter, EventStore, MemoryEventStore, open_sqlite_store

SPOT = "binance:BTC/USDT:book"
FUTURES = "binanceusdm:BTC/USDT:USDT:book"
STEP = 10_000_000
DELTAS = 3_000


@pytest_asyncio.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    backend: EventStore = (
        await open_sqlite_store(tmp_path / "book.sqlite") if request.param == "sqlite" else MemoryEventStore()
    )
    try:
        yield backend
    finally:
        await backend.close()


async def session_with(store: EventStore, name: str, *streams: str, deltas: int = DELTAS) -> str:
    info = await store.begin_session(name, "test", started_ns=SYNTHETIC_START_NS - 1)
    for stream in streams:
        await store.append(list(synthetic_book_events(info.id, stream, deltas, seed=len(name), levels=50)))
    return info.id


async def replayed(store: EventStore, session: str, stream: str, at_ns: int, depth: int | None = None) -> BookState:
    """The book at ``at_ns`` by the definition: every event of the stream before the first stamped after it."""
    builder = BookBuilder.for_stream(stream)
    async for event in store.read(EventFilter(session=session, streams=(stream,))):
        if event.ts_event > at_ns:
            break
        builder.apply(event)
    return builder.state(depth, session=session, at_ns=at_ns)


def random_times(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    span = DELTAS * STEP
    return [SYNTHETIC_START_NS - STEP + rng.randrange(span + 2 * STEP) for _ in range(count)]


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [SPOT, FUTURES])
async def test_book_at_with_checkpoints_equals_the_replay_from_the_start(store: EventStore, stream: str) -> None:
    session = await session_with(store, "one", stream)
    report = await write_checkpoints(store, session, stream, every=200)
    assert (report.stream, report.events, report.gaps) == (checkpoint_stream(stream), DELTAS + 1, 0)
    assert report.checkpoints == report.written == DELTAS // 200

    for at_ns in random_times(12, seed=1):
        expected = await replayed(store, session, stream, at_ns, depth=20)
        assert await book_at(store, session, stream, at_ns, depth=20) == expected
        assert await book_at(store, session, stream, at_ns, depth=20, use_checkpoints=False) == expected


@pytest.mark.asyncio
async def test_the_book_after_the_last_event_and_before_the_first(store: EventStore) -> None:
    session = await session_with(store, "edges", SPOT)
    await write_checkpoints(store, session, SPOT, every=500)
    last_ts = SYNTHETIC_START_NS + (DELTAS - 1) * STEP

    late = await book_at(store, session, SPOT, last_ts + 10**12)
    early = await book_at(store, session, SPOT, SYNTHETIC_START_NS - 1)

    assert late == await replayed(store, session, SPOT, last_ts + 10**12)
    assert late.in_sync
    assert late.ts_event == last_ts
    assert late.bids[0][0] < late.asks[0][0]
    assert (early.in_sync, early.sequence, early.ts_event, early.bids, early.position) == (False, None, None, (), 0)
    assert early.reason == "no snapshot yet"


@pytest.mark.asyncio
async def test_checkpoints_are_idempotent_and_other_intervals_add_to_them(store: EventStore) -> None:
    session = await session_with(store, "again", SPOT)
    first = await write_checkpoints(store, session, SPOT, every=300)
    again = await write_checkpoints(store, session, SPOT, every=300)
    other = await write_checkpoints(store, session, SPOT, every=700)

    assert (again.checkpoints, again.written, again.duplicates) == (first.checkpoints, 0, first.checkpoints)
    assert other.checkpoints == DELTAS // 700
    assert 0 < other.written < other.checkpoints  # 2100 is a multiple of both: already there
    for at_ns in random_times(10, seed=2):
        assert await book_at(store, session, SPOT, at_ns, depth=5) == await replayed(store, session, SPOT, at_ns, 5)


@pytest.mark.asyncio
async def test_the_checkpoint_found_is_the_latest_at_or_before_the_time(store: EventStore) -> None:
    session = await session_with(store, "seek", SPOT)
    await write_checkpoints(store, session, SPOT, every=250)
    checkpoints = [e async for e in store.read(EventFilter(streams=(checkpoint_stream(SPOT),)))]
    assert len(checkpoints) == DELTAS // 250

    for at_ns in random_times(30, seed=3):
        due = [c for c in checkpoints if c.ts_event <= at_ns]
        found = await latest_checkpoint(store, session, SPOT, at_ns)
        assert found == (due[-1] if due else None)


@pytest.mark.asyncio
async def test_sessions_sharing_a_stream_have_their_own_books(store: EventStore) -> None:
    a = await session_with(store, "a", SPOT, deltas=1_000)
    b = await session_with(store, "bb", SPOT, deltas=1_000)
    await write_checkpoints(store, a, SPOT, every=100)
    await write_checkpoints(store, b, SPOT, every=100)
    at_ns = SYNTHETIC_START_NS + 700 * STEP

    book_a = await book_at(store, a, SPOT, at_ns, depth=10)
    book_b = await book_at(store, b, SPOT, at_ns, depth=10)

    assert book_a == await replayed(store, a, SPOT, at_ns, 10)
    assert book_b == await replayed(store, b, SPOT, at_ns, 10)
    assert book_a.bids != book_b.bids


def _events(session: str, items: list[tuple[int, Payload]]) -> list[Event]:
    ids = EventIdFactory(session)
    return [Event(ids(ts), SPOT, ts, ts, session, payload) for ts, payload in items]


def _snapshot(sequence: int, bid: float) -> BookSnapshot:
    return BookSnapshot(((bid, 1.0),), ((bid + 1, 1.0),), sequence)


@pytest.mark.asyncio
async def test_a_gap_is_out_of_sync_until_the_next_snapshot_and_never_checkpointed(store: EventStore) -> None:
    info = await store.begin_session("gap", "test", started_ns=0)
    chain = [(10 + i, BookDelta(((100.0, float(i)),), (), 101 + i, 101 + i)) for i in range(10)]
    broken = [(30 + i, BookDelta(((100.0, 50.0 + i),), (), 200 + i, 200 + i)) for i in range(10)]  # 111..199 lost
    healed = [(60 + i, BookDelta(((90.0, float(i + 1)),), (), 301 + i, 301 + i)) for i in range(10)]
    items = [(5, _snapshot(100, 100.0)), *chain, *broken, (50, _snapshot(300, 90.0)), *healed]
    await store.append(_events(info.id, items))

    report = await write_checkpoints(store, info.id, SPOT, every=4)

    assert report.gaps == 1
    checkpoints = [e async for e in store.read(EventFilter(streams=(checkpoint_stream(SPOT),)))]
    assert all(c.ts_event < 30 or c.ts_event >= 60 for c in checkpoints)
    before, during, after = [await book_at(store, info.id, SPOT, at) for at in (25, 45, 70)]
    assert (before.in_sync, before.sequence, before.bids) == (True, 110, ((100.0, 9.0),))
    assert (during.in_sync, during.sequence, during.bids, during.asks) == (False, None, (), ())
    assert "expected first update id 111, got 200" in during.reason
    assert (after.in_sync, after.sequence, after.bids[0]) == (True, 310, (90.0, 10.0))


@pytest.mark.asyncio
async def test_an_event_stamped_late_holds_back_the_events_after_it(store: EventStore) -> None:
    # Binance spot: deltas carry exchange time, the REST snapshot after them our (earlier) receive time.
    info = await store.begin_session("late", "test", started_ns=0)
    items: list[tuple[int, Payload]] = [
        (1_000, BookDelta(((100.0, 2.0),), (), 10, 12)),
        (500, _snapshot(11, 100.0)),
        (1_100, BookDelta(((100.0, 3.0),), (), 13, 13)),
    ]
    await store.append(_events(info.id, items))

    at_600, at_1000, at_1100 = [await book_at(store, info.id, SPOT, at) for at in (600, 1_000, 1_100)]

    assert (at_600.in_sync, at_600.ts_event, at_600.position) == (False, None, 0)
    assert (at_1000.in_sync, at_1000.sequence, at_1000.ts_event, at_1000.bids) == (True, 12, 1_000, ((100.0, 2.0),))
    assert (at_1100.sequence, at_1100.bids) == (13, ((100.0, 3.0),))


@pytest.mark.asyncio
async def test_the_rule_can_be_named_for_an_unknown_exchange(store: EventStore) -> None:
    info = await store.begin_session("other", "test", started_ns=0)
    stream = "someexchange:BTC/USDT:book"
    events = [Event(f"x{i}", stream, i + 1, i + 1, info.id, p) for i, p in enumerate([_snapshot(5, 10.0)])]
    await store.append(events)
    with pytest.raises(UsageError, match="someexchange"):
        await book_at(store, info.id, stream, 10)
    state = await book_at(store, info.id, stream, 10, rule=SyncRule.SPOT)
    assert (state.in_sync, state.sequence) == (True, 5)


@pytest.mark.asyncio
async def test_write_checkpoints_refuses_a_nonsense_interval(store: EventStore) -> None:
    with pytest.raises(UsageError, match="every"):
        await write_checkpoints(store, "s", SPOT, every=0)


@pytest.mark.asyncio
async def test_find_book_stream_by_symbol(store: EventStore) -> None:
    session = await session_with(store, "find", SPOT, FUTURES, deltas=5)
    info = await store.session(session)
    assert find_book_stream(info, "BTC/USDT") == SPOT
    assert find_book_stream(info, "BTC/USDT:USDT") == FUTURES
    with pytest.raises(UsageError, match="2 book streams for symbol 'BTCUSDT'"):
        find_book_stream(info, "BTCUSDT")
    with pytest.raises(UsageError, match=r"no book stream for symbol 'ETH/USDT'.*BTC/USDT, BTC/USDT:USDT"):
        find_book_stream(info, "ETH/USDT")
    only_spot = await store.session(await session_with(store, "spot", SPOT, deltas=5))
    assert find_book_stream(only_spot, "btcusdt") == SPOT
