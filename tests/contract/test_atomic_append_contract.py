"""The EventStore contract for ``append_atomic`` and ``resume_session``, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.contract.conftest import open_backend
from tests.contract.test_event_store_contract import SID, A, B, read_all, state, trade
from virtuoso.errors import SessionError, VirtuosoError
from virtuoso.events import Event, FileImported, Gap, SessionResumed
from virtuoso.store import (
    AppendResult,
    EventFilter,
    EventStore,
    SessionInfo,
    imports_stream,
    lifecycle_stream,
)

pytestmark = pytest.mark.asyncio

NEW = "binance:SOL/USDT:gaps"


class Broken(VirtuosoError):
    """What the producers below raise halfway."""


def chunks_of(first: int, count: int, size: int, stream: str = A) -> list[list[Event]]:
    numbers = list(range(first, first + count))
    return [[trade(n, stream) for n in numbers[i : i + size]] for i in range(0, count, size)]


def gap(n: int) -> Event:
    return Event(f"gap/{n}", NEW, 5_000 + n, 5_000 + n, SID, Gap(A, 1, 2, "test"))


async def as_async(chunks: list[list[Event]]) -> AsyncIterator[list[Event]]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk


async def test_every_chunk_commits_as_one_batch(store: EventStore, session: SessionInfo) -> None:
    before = await store.verify()

    result = await store.append_atomic(as_async([*chunks_of(1, 7, 3), [], chunks_of(1, 2, 2, B)[0]]))

    assert result == AppendResult(9, 0, 2, 10)
    events = await read_all(store)
    assert [e.position for e in events] == list(range(1, 11))
    assert [e.version for e in events if e.stream == A] == list(range(1, 8))
    assert await store.stream_version(B) == 2
    after = await store.verify()
    assert after.ok
    assert after.batches - before.batches == 4, "chunks of 3, 3, 1 and 2 events; the empty one writes nothing"


async def test_a_sync_iterable_works_too(store: EventStore, session: SessionInfo) -> None:
    def produce() -> Iterator[list[Event]]:
        yield from chunks_of(1, 4, 2)

    result = await store.append_atomic(produce())

    assert (result.written, result.first_position, result.last_position) == (4, 2, 5)


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_producer_failing_halfway_leaves_no_trace(store: EventStore, session: SessionInfo, kind: str) -> None:
    await store.append([trade(1)])
    before = await state(store)

    def produce() -> Iterator[list[Event]]:
        yield [trade(2), trade(3)]
        yield [gap(1)]  # a stream and a type new to the store
        raise Broken("line 3 is malformed")

    async def produce_async() -> AsyncIterator[list[Event]]:
        for chunk in produce():
            yield chunk

    with pytest.raises(Broken, match="line 3"):
        await store.append_atomic(produce_async() if kind == "async" else produce())

    assert await state(store) == before
    assert await store.stream_version(NEW) == 0
    assert (await store.verify()).ok
    # The store goes on as if the atomic append never happened, new stream included.
    result = await store.append([trade(2), gap(1)])
    assert (result.written, result.first_position) == (2, 3)
    assert [(e.stream, e.version) for e in await read_all(store)][-2:] == [(A, 2), (NEW, 1)]


async def test_a_refused_chunk_undoes_the_chunks_before_it(store: EventStore, session: SessionInfo) -> None:
    before = await state(store)

    with pytest.raises(SessionError):
        await store.append_atomic([[trade(1)], [trade(2, session="nobody")]])

    assert await state(store) == before


async def test_duplicates_are_skipped_and_counted(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1), trade(2)])

    result = await store.append_atomic([[trade(1), trade(3)], [trade(3), trade(4), trade(2)]])

    assert (result.written, result.duplicates) == (2, 3)
    assert [e.id for e in await read_all(store, EventFilter(streams=(A,)))] == [f"{A}/{n}" for n in (1, 2, 3, 4)]
    assert await store.stream_version(A) == 4
    assert (await store.verify()).ok


async def test_nothing_new_writes_nothing(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    before = await state(store)

    result = await store.append_atomic([[trade(1)], []])

    assert result == AppendResult(0, 1)
    assert await state(store) == before


async def test_an_append_during_an_atomic_append_comes_after_it(store: EventStore, session: SessionInfo) -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    async def produce() -> AsyncIterator[list[Event]]:
        yield [trade(1)]
        started.set()
        await gate.wait()
        yield [trade(2)]

    atomic = asyncio.create_task(store.append_atomic(produce()))
    await started.wait()
    other = asyncio.create_task(store.append([trade(1, B)]))
    for _ in range(20):
        await asyncio.sleep(0)
    gate.set()
    done, other_done = await atomic, await other

    assert (done.first_position, done.last_position) == (2, 3)
    assert other_done.first_position == 4
    assert (await store.verify()).ok


async def test_same_head_on_both_backends_after_atomic_appends(tmp_path: Path) -> None:
    heads = []
    for backend in ("memory", "rows", "columnar"):
        store = await open_backend(backend, tmp_path / f"atomic-{backend}.sqlite")
        try:
            await store.begin_session("contract", "tests", started_ns=1_000, session_id=SID)
            await store.append_atomic(chunks_of(1, 5, 2))
            with pytest.raises(Broken):
                await store.append_atomic(_fails_after([[trade(6)], [gap(1)]]))
            await store.append_atomic([[gap(2), trade(1, B)], [trade(6)]])
            report = await store.verify()
            assert report.ok
            heads.append(report.head)
        finally:
            await store.close()
    assert heads[0] == heads[1] == heads[2]


def _fails_after(chunks: list[list[Event]]) -> Iterator[list[Event]]:
    yield from chunks
    raise Broken("stop")


async def test_file_imported_round_trips(store: EventStore, session: SessionInfo) -> None:
    payload = FileImported(
        "data/btcusdt_20240808.gz", "ab" * 32, 1_274_097, "binance-capture", {"Trade": 9757}, {A: (3735693015, 7)}
    )
    await store.append([Event("f1", imports_stream(SID), 9, 9, SID, payload)])

    (event,) = await read_all(store, EventFilter(streams=(imports_stream(SID),)))

    assert event.payload == payload
    assert event.topic == "system.import.file"


# -- resume_session ------------------------------------------------------------------


async def test_resume_reopens_an_ended_session_and_logs_it(store: EventStore, session: SessionInfo) -> None:
    await store.end_session(SID, ended_ns=5_000, reason="stopped at x.gz:3")

    resumed = await store.resume_session(SID, resumed_ns=6_000, reason="re-run")
    await store.append([trade(1)])
    ended = await store.end_session(SID, ended_ns=9_000, reason="done")

    assert (resumed.status, resumed.ended_ns, resumed.end_reason) == ("open", None, "")
    assert (ended.status, ended.ended_ns, ended.end_reason) == ("closed", 9_000, "done")
    lifecycle = await read_all(store, EventFilter(streams=(lifecycle_stream(SID),)))
    assert [(e.type, e.version, e.ts_event) for e in lifecycle] == [
        ("SessionStarted", 1, 1_000),
        ("SessionEnded", 2, 5_000),
        ("SessionResumed", 3, 6_000),
        ("SessionEnded", 4, 9_000),
    ]
    assert lifecycle[2].payload == SessionResumed("closed", "re-run")
    assert len({e.id for e in lifecycle}) == 4


async def test_ending_twice_at_the_same_time_after_a_resume_keeps_both_events(
    store: EventStore, session: SessionInfo
) -> None:
    await store.end_session(SID, ended_ns=5_000)
    await store.resume_session(SID, resumed_ns=5_000)
    await store.end_session(SID, ended_ns=5_000)

    lifecycle = await read_all(store, EventFilter(streams=(lifecycle_stream(SID),)))
    assert [e.type for e in lifecycle] == ["SessionStarted", "SessionEnded", "SessionResumed", "SessionEnded"]


async def test_resuming_an_open_session_is_refused(store: EventStore, session: SessionInfo) -> None:
    with pytest.raises(SessionError, match="already open"):
        await store.resume_session(SID, resumed_ns=2_000)
    with pytest.raises(SessionError):
        await store.resume_session("no-such-session", resumed_ns=2_000)
