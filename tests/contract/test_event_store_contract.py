"""The EventStore contract: the same assertions against the memory and the SQLite backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest

from tests.contract.conftest import open_backend
from virtuoso.errors import (
    ConcurrencyError,
    InvalidEventError,
    SessionError,
    StoreClosedError,
    UsageError,
    VirtuosoError,
)
from virtuoso.events import Event, Gap, Note, Payload, Quote, SessionEnded, SessionStarted, Trade
from virtuoso.store import (
    NO_STREAM,
    AppendResult,
    EventFilter,
    EventStore,
    SessionInfo,
    SQLiteEventStore,
    StreamStats,
    lifecycle_stream,
    open_sqlite_store,
)

pytestmark = pytest.mark.asyncio

A = "binance:BTC/USDT:trades"
B = "binance:ETH/USDT:trades"
C = "binance:BTC/USDT:quotes"
NOTES = "system:notes"
SID = "s-main"


def trade(n: int, stream: str = A, *, session: str = SID, ts: int | None = None, event_id: str | None = None) -> Event:
    """Trade number ``n`` of ``stream``; its id is ``<stream>/<n>`` unless given."""
    ts = 2_000 + 100 * n if ts is None else ts
    side = "buy" if n % 2 else "sell"
    payload = Trade(60_000.0 + n / 8, 0.001 * (n + 1), side, str(3_735_683_259 + n))
    return Event(event_id or f"{stream}/{n}", stream, ts, ts + 7, session, payload)


def note(n: int, *, session: str = SID, ts: int | None = None) -> Event:
    ts = 2_050 + 100 * n if ts is None else ts
    return Event(f"note/{n}", NOTES, ts, ts, session, Note(f"note {n}", "warning", {"n": str(n)}))


async def read_all(store: EventStore, flt: EventFilter | None = None, chunk_size: int = 5000) -> list[Event]:
    return [e async for e in store.read(flt, chunk_size=chunk_size)]


async def ids(store: EventStore, flt: EventFilter | None = None) -> list[str]:
    return [e.id for e in await read_all(store, flt)]


async def state(store: EventStore) -> tuple[int, dict[str, int], list[tuple[str, str, int, int]], int]:
    """What must not change when an append is refused: positions, versions, events, batches."""
    versions = {s: await store.stream_version(s) for s in (A, B, C, NOTES)}
    events = [(e.id, e.stream, e.version, e.position) for e in await read_all(store)]
    return await store.max_position(), versions, events, (await store.verify()).batches


async def wait_for(condition: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    """Poll ``condition`` until it holds; TimeoutError after ``within_s`` seconds."""
    async with asyncio.timeout(within_s):
        while not await condition():  # noqa: ASYNC110 - the store has no commit notification to wait on
            await asyncio.sleep(0.001)


# -- sessions -----------------------------------------------------------------------


async def test_begin_session_logs_session_started(store: EventStore, session: SessionInfo) -> None:
    assert (session.id, session.name, session.source, session.status) == (SID, "contract", "tests", "open")
    assert (session.symbols, session.channels, session.started_ns, session.ended_ns) == (
        ("BTC/USDT",),
        ("trades",),
        1_000,
        None,
    )
    (started,) = await read_all(store)
    assert started == Event(
        started.id,
        lifecycle_stream(SID),
        1_000,
        1_000,
        SID,
        SessionStarted("contract", "tests", ("BTC/USDT",), ("trades",), session.config_hash),
        version=1,
        position=1,
    )
    assert await store.max_position() == 1
    assert await store.stream_version(lifecycle_stream(SID)) == 1
    (listed,) = await store.sessions()
    assert (listed.id, listed.status, listed.events) == (SID, "open", 1)


async def test_default_session_id_is_deterministic_and_unique(store: EventStore) -> None:
    first = await store.begin_session("rec", "binance", started_ns=5)
    other = await store.begin_session("rec", "binance", started_ns=6)
    assert len(first.id) == 32
    assert first.id != other.id
    with pytest.raises(SessionError):
        await store.begin_session("rec", "binance", started_ns=5)
    assert [s.id for s in await store.sessions()] == [first.id, other.id]
    assert await store.max_position() == 2


async def test_end_session_logs_session_ended(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    ended = await store.end_session(SID, ended_ns=9_000, reason="operator stop")
    assert (ended.status, ended.ended_ns, ended.end_reason) == ("closed", 9_000, "operator stop")
    lifecycle = await read_all(store, EventFilter(streams=(lifecycle_stream(SID),)))
    assert [(e.type, e.version, e.position, e.ts_event) for e in lifecycle] == [
        ("SessionStarted", 1, 1, 1_000),
        ("SessionEnded", 2, 3, 9_000),
    ]
    assert lifecycle[1].payload == SessionEnded("closed", "operator stop")
    assert (await store.session(SID)).status == "closed"


async def test_extra_manifest_keys_and_a_checkpoint_keep_everything(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    rotated = await store.begin_session("rec @2", "binance", started_ns=2_000, extra={"previous": SID, "part": 2})
    assert (rotated.manifest["previous"], rotated.manifest["part"]) == (SID, 2)
    assert rotated.config_hash == session.config_hash  # the chain's config is one config
    await store.checkpoint()
    assert (await store.session(rotated.id)).manifest["previous"] == SID
    assert await store.max_position() == 3
    assert (await store.verify()).ok


async def test_end_session_twice_is_refused(store: EventStore, session: SessionInfo) -> None:
    await store.end_session(SID, ended_ns=9_000)
    before = await state(store)
    with pytest.raises(SessionError, match="closed"):
        await store.end_session(SID, ended_ns=9_500)
    assert await state(store) == before
    assert (await store.session(SID)).ended_ns == 9_000


async def test_end_unknown_session_is_refused(store: EventStore, session: SessionInfo) -> None:
    with pytest.raises(SessionError):
        await store.end_session("no-such-session", ended_ns=2)
    assert await store.max_position() == 1


async def test_session_lookup_by_id_or_unique_prefix(store: EventStore) -> None:
    for sid in ("abcd-1111", "abcd-2222", "xyz"):
        await store.begin_session(sid, "tests", started_ns=1, session_id=sid)
    assert (await store.session("abcd-2")).id == "abcd-2222"
    assert (await store.session("abcd-1111")).id == "abcd-1111"
    assert (await store.session("xyz")).id == "xyz"
    for ambiguous_short_or_unknown in ("abcd", "xy", "nope"):
        with pytest.raises(SessionError):
            await store.session(ambiguous_short_or_unknown)


async def test_sessions_report_per_stream_stats(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1, ts=5_000), trade(2, ts=3_000), trade(1, B, ts=4_000)])
    await store.append([trade(3, ts=7_000)])
    await store.begin_session("second", "tests", started_ns=8_000, session_id="s-two")
    await store.append([trade(4, session="s-two", ts=8_500)])
    main, two = await store.sessions()
    assert (main.id, two.id) == (SID, "s-two")
    assert dict(main.streams) == {
        lifecycle_stream(SID): StreamStats(1, 1_000, 1_000, 1, 1),
        A: StreamStats(3, 3_000, 7_000, 2, 5),
        B: StreamStats(1, 4_000, 4_000, 4, 4),
    }
    assert (main.events, main.first_ts_event, main.last_ts_event) == (5, 1_000, 7_000)
    assert dict(two.streams) == {
        lifecycle_stream("s-two"): StreamStats(1, 8_000, 8_000, 6, 6),
        A: StreamStats(1, 8_500, 8_500, 7, 7),
    }
    summary = main.summary()
    assert msgspec.json.decode(msgspec.json.encode(summary)) == summary
    assert (summary["id"], summary["events"], summary["first_ts_event"], summary["last_ts_event"]) == (
        SID,
        5,
        1_000,
        7_000,
    )
    assert (summary["symbols"], summary["status"]) == (["BTC/USDT"], "open")


# -- appends ------------------------------------------------------------------------


async def test_append_assigns_contiguous_positions_and_stream_versions(store: EventStore, session: SessionInfo) -> None:
    assert await store.append([trade(1), trade(1, B), trade(2)]) == AppendResult(3, 0, 2, 4)
    assert await store.append([trade(2, B), trade(1, C)]) == AppendResult(2, 0, 5, 6)
    events = await read_all(store)
    assert [e.position for e in events] == [1, 2, 3, 4, 5, 6]
    assert [(e.id, e.version) for e in events[1:]] == [
        (f"{A}/1", 1),
        (f"{B}/1", 1),
        (f"{A}/2", 2),
        (f"{B}/2", 2),
        (f"{C}/1", 1),
    ]
    assert [e.payload for e in events[1:]] == [
        trade(1).payload,
        trade(1, B).payload,
        trade(2).payload,
        trade(2, B).payload,
        trade(1, C).payload,
    ]
    assert [await store.stream_version(s) for s in (A, B, C, "never")] == [2, 2, 1, 0]
    assert await store.max_position() == 6


async def test_empty_append_writes_nothing(store: EventStore, session: SessionInfo) -> None:
    before = await state(store)
    assert await store.append([]) == AppendResult(0, 0)
    assert await store.append(iter([]), expected_version=7) == AppendResult(0, 0)
    assert await state(store) == before


async def test_expected_version_as_int(store: EventStore, session: SessionInfo) -> None:
    assert (await store.append([trade(1)], expected_version=NO_STREAM)).written == 1
    assert (await store.append([trade(2), trade(3)], expected_version=1)).written == 2
    before = await state(store)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append([trade(4)], expected_version=1)
    assert (caught.value.stream, caught.value.expected, caught.value.actual) == (A, 1, 3)
    assert await state(store) == before
    assert await store.append([trade(4)], expected_version=3) == AppendResult(1, 0, 5, 5)


async def test_expected_version_as_mapping(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1), trade(2)])
    result = await store.append([trade(3), trade(1, B)], expected_version={A: 2, B: NO_STREAM})
    assert result == AppendResult(2, 0, 4, 5)
    before = await state(store)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append([trade(4), trade(2, B), trade(5)], expected_version={A: 3, B: 5})
    assert (caught.value.stream, caught.value.expected, caught.value.actual) == (B, 5, 1)
    assert await state(store) == before


async def test_no_stream_refuses_an_existing_stream(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)], expected_version=NO_STREAM)
    before = await state(store)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append([trade(2)], expected_version=NO_STREAM)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert await state(store) == before


async def test_integer_expected_version_with_several_streams_is_usage_error(
    store: EventStore, session: SessionInfo
) -> None:
    await store.append([trade(1), trade(1, B)])
    before = await state(store)
    with pytest.raises(UsageError):
        await store.append([trade(2), trade(2, B)], expected_version=1)
    assert await state(store) == before


async def test_mapping_may_guard_a_stream_outside_the_batch(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1), trade(1, B), trade(2, B)])
    assert (await store.append([trade(2)], expected_version={A: 1, B: 2})).written == 1
    with pytest.raises(ConcurrencyError) as caught:
        await store.append([trade(3)], expected_version={A: 2, B: 1})
    assert (caught.value.stream, caught.value.expected, caught.value.actual) == (B, 1, 2)


@pytest.mark.parametrize("refusal", ["conflict", "usage"])
async def test_refused_batch_naming_new_streams_and_types_leaves_no_trace(
    store: EventStore, session: SessionInfo, refusal: str
) -> None:
    refused = [trade(1), note(1)]
    error: type[Exception] = ConcurrencyError if refusal == "conflict" else UsageError
    with pytest.raises(error):
        await store.append(refused, expected_version={A: 4} if refusal == "conflict" else 0)
    gap = Event("gap/1", C, 2_500, 2_500, SID, Gap(C, 2_000, 2_400, "reconnect"))
    assert (await store.append([gap])).written == 1
    assert (await store.append(refused)).written == 2
    assert [await store.stream_version(s) for s in (A, NOTES, C)] == [1, 1, 1]
    assert [(e.stream, e.type) for e in await read_all(store, EventFilter(after_position=1))] == [
        (C, "Gap"),
        (A, "Trade"),
        (NOTES, "Note"),
    ]
    assert await ids(store, EventFilter(streams=(NOTES,))) == ["note/1"]
    assert (await store.verify()).ok


async def test_unknown_session_is_refused_and_nothing_written(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    before = await state(store)
    with pytest.raises(SessionError, match="ghost"):
        await store.append([trade(2), trade(3, session="ghost")])
    assert await state(store) == before


class Unregistered(Payload, frozen=True):
    TYPE: ClassVar[str] = "Unregistered"
    TOPIC: ClassVar[str] = "test.unregistered"


class Impostor(Payload, frozen=True):
    TYPE: ClassVar[str] = "Trade"
    SCHEMA: ClassVar[int] = 2
    TOPIC: ClassVar[str] = "market.trade"


async def test_unregistered_payload_class_is_refused(store: EventStore, session: SessionInfo) -> None:
    before = await state(store)
    with pytest.raises(UsageError, match="Impostor"):
        await store.append([trade(1), Event("x", A, 1, 1, SID, Impostor())])
    with pytest.raises(VirtuosoError, match="Unregistered"):
        await store.append([trade(1), Event("y", A, 1, 1, SID, Unregistered())])
    assert await state(store) == before


# -- idempotency --------------------------------------------------------------------


async def test_reappending_the_same_ids_writes_nothing(store: EventStore, session: SessionInfo) -> None:
    batch = [trade(1), trade(1, B), trade(2)]
    await store.append(batch)
    before = await state(store)
    assert await store.append(batch) == AppendResult(0, 3)
    assert await state(store) == before


async def test_partial_overlap_writes_only_new_events(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1), trade(2)])
    result = await store.append([trade(2), trade(3), trade(1), trade(4)])
    assert result == AppendResult(2, 2, 4, 5)
    assert [(e.id, e.version, e.position) for e in await read_all(store, EventFilter(streams=(A,)))] == [
        (f"{A}/1", 1, 2),
        (f"{A}/2", 2, 3),
        (f"{A}/3", 3, 4),
        (f"{A}/4", 4, 5),
    ]
    assert await store.stream_version(A) == 4


async def test_partial_overlap_with_expected_version(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    assert await store.append([trade(1), trade(2)], expected_version=1) == AppendResult(1, 1, 3, 3)


async def test_partial_overlap_introducing_a_new_stream_and_type(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    assert await store.append([trade(1), note(1)]) == AppendResult(1, 1, 3, 3)
    assert await store.stream_version(NOTES) == 1
    await store.append([trade(1, B)])
    assert [(e.id, e.stream) for e in await read_all(store, EventFilter(after_position=1))] == [
        (f"{A}/1", A),
        ("note/1", NOTES),
        (f"{B}/1", B),
    ]
    assert (await store.verify()).ok
    assert (await durable_ids(store))[1:] == [f"{A}/1", "note/1", f"{B}/1"]


async def test_duplicate_ids_within_one_batch(store: EventStore, session: SessionInfo) -> None:
    twin = trade(9, event_id=f"{A}/1")
    assert await store.append([trade(1), twin, trade(1, B)]) == AppendResult(2, 1, 2, 3)
    stored = await read_all(store, EventFilter(after_position=1))
    assert [e.payload for e in stored] == [trade(1).payload, trade(1, B).payload]
    assert await store.stream_version(A) == 1


@pytest.mark.parametrize("mapping", [False, True], ids=["int", "mapping"])
async def test_retry_of_committed_batch_reports_duplicates_not_conflict(
    store: EventStore, session: SessionInfo, mapping: bool
) -> None:
    batch = [trade(1), trade(2)] + ([trade(1, B)] if mapping else [])
    expected = {A: NO_STREAM, B: NO_STREAM} if mapping else NO_STREAM
    first = await store.append(batch, expected_version=expected)
    before = await state(store)
    assert await store.append(batch, expected_version=expected) == AppendResult(0, len(batch))
    assert await state(store) == before
    assert first.written == len(batch)


async def test_conflicting_retry_with_a_new_event_still_raises(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)], expected_version=NO_STREAM)
    before = await state(store)
    with pytest.raises(ConcurrencyError):
        await store.append([trade(1), trade(2)], expected_version=NO_STREAM)
    assert await state(store) == before


# -- reads --------------------------------------------------------------------------


async def populate(store: EventStore) -> list[Event]:
    """Two sessions, three streams, three payload types; returns every stored event."""
    await store.append([trade(1), trade(1, B), note(1), trade(2)])
    await store.begin_session("second", "tests", started_ns=2_600, session_id="s-two")
    quote = Event("quote/1", C, 2_700, 2_701, "s-two", Quote(60_000.0, 1.5, 60_000.5, 0.25, sequence=7))
    await store.append([trade(3, session="s-two", ts=2_650), quote, trade(2, B, session="s-two", ts=2_800)])
    await store.append([note(2, ts=2_900), trade(4, ts=3_000)])
    return await read_all(store)


async def test_full_read_is_in_position_order(store: EventStore, session: SessionInfo) -> None:
    events = await populate(store)
    assert [e.position for e in events] == list(range(1, 12))
    assert [e.id for e in events[1:5]] == [f"{A}/1", f"{B}/1", "note/1", f"{A}/2"]
    assert await store.max_position() == 11


async def test_read_by_stream(store: EventStore, session: SessionInfo) -> None:
    await populate(store)
    assert await ids(store, EventFilter(streams=(A,))) == [f"{A}/1", f"{A}/2", f"{A}/3", f"{A}/4"]
    assert await ids(store, EventFilter(streams=(B, C))) == [f"{B}/1", "quote/1", f"{B}/2"]
    assert await ids(store, EventFilter(streams=("nowhere",))) == []
    assert await ids(store, EventFilter(streams=())) == []


async def test_read_by_session(store: EventStore, session: SessionInfo) -> None:
    events = await populate(store)
    two = await read_all(store, EventFilter(session="s-two"))
    assert [e.id for e in two] == [e.id for e in events if e.session == "s-two"]
    assert [e.type for e in two] == ["SessionStarted", "Trade", "Quote", "Trade"]
    assert await ids(store, EventFilter(session="unknown")) == []


async def test_read_by_type_set(store: EventStore, session: SessionInfo) -> None:
    await populate(store)
    assert await ids(store, EventFilter(types=("Note", "Quote"))) == ["note/1", "quote/1", "note/2"]
    assert len(await ids(store, EventFilter(types=("Trade",)))) == 6
    assert await ids(store, EventFilter(types=("Bar",))) == []
    assert await ids(store, EventFilter(types=("NoSuchType",))) == []


async def test_read_by_time_range_start_inclusive_end_exclusive(store: EventStore, session: SessionInfo) -> None:
    events = await populate(store)
    window = await read_all(store, EventFilter(start_ns=2_200, end_ns=2_700))
    assert [e.ts_event for e in window] == [2_200, 2_600, 2_650]
    assert [e.ts_event for e in await read_all(store, EventFilter(start_ns=2_800))] == [2_800, 2_900, 3_000]
    assert [e.ts_event for e in await read_all(store, EventFilter(end_ns=2_150))] == [1_000, 2_100, 2_100]
    assert await read_all(store, EventFilter(start_ns=2_700, end_ns=2_700)) == []
    assert len(await read_all(store, EventFilter(start_ns=0, end_ns=10**18))) == len(events)


async def test_catch_up_read_from_a_position(store: EventStore, session: SessionInfo) -> None:
    events = await populate(store)
    assert await read_all(store, EventFilter(after_position=7)) == events[7:]
    assert await read_all(store, EventFilter(after_position=11)) == []
    assert await read_all(store, EventFilter(until_position=3)) == events[:3]
    assert await read_all(store, EventFilter(after_position=3, until_position=6)) == events[3:6]
    assert await read_all(store, EventFilter(until_position=0)) == []
    await store.append([trade(5)])
    (newest,) = await read_all(store, EventFilter(after_position=11))
    assert (newest.id, newest.position) == (f"{A}/5", 12)


async def test_combined_filters(store: EventStore, session: SessionInfo) -> None:
    await populate(store)
    flt = EventFilter(session=SID, streams=(A, NOTES), types=("Trade",), start_ns=2_150, after_position=2)
    assert await ids(store, flt) == [f"{A}/2", f"{A}/4"]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize(
    "flt",
    [None, EventFilter(streams=(B,)), EventFilter(types=("Trade",), after_position=5), EventFilter(until_position=20)],
    ids=["all", "stream", "types-after", "until"],
)
async def test_chunked_reads(store: EventStore, session: SessionInfo, chunk_size: int, flt: EventFilter | None) -> None:
    await store.append([trade(n, A if n % 3 else B) for n in range(1, 41)])
    await store.append([note(n) for n in range(1, 6)])
    whole = await read_all(store, flt, chunk_size=100_000)
    chunks = [chunk async for chunk in store.read_chunks(flt, chunk_size=chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert [e for chunk in chunks for e in chunk] == whole
    assert await read_all(store, flt, chunk_size=chunk_size) == whole
    assert [e.position for e in whole] == sorted({e.position for e in whole})


async def test_empty_store(store: EventStore) -> None:
    assert await store.max_position() == 0
    assert await store.stream_version(A) == 0
    assert await read_all(store) == []
    assert await store.sessions() == []
    report = await store.verify()
    assert (report.ok, report.events, report.batches, report.head) == (True, 0, 0, "00" * 32)


# -- closing ------------------------------------------------------------------------


async def test_closed_store_refuses_everything(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    await store.close()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.append([trade(2)]),
        lambda: read_all(store),
        lambda: store.read_chunks().__anext__(),
        store.max_position,
        lambda: store.stream_version(A),
        store.sessions,
        lambda: store.session(SID),
        store.verify,
        lambda: store.begin_session("late", "tests", started_ns=9),
        lambda: store.end_session(SID, ended_ns=9),
        lambda: store.resume_session(SID, resumed_ns=9),
        lambda: store.append_atomic([[trade(2)]]),
        store.last_event,
        store.checkpoint,
    ]
    for call in calls:
        with pytest.raises(StoreClosedError):
            await call()
    with pytest.raises(StoreClosedError):
        store.writer()
    await store.close()


# -- integrity ----------------------------------------------------------------------


async def test_verify_counts_events_and_committed_batches(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1), trade(1, B)])
    await store.append([trade(1), trade(1, B)])
    with pytest.raises(ConcurrencyError):
        await store.append([trade(2)], expected_version=5)
    await store.append([trade(2)])
    report = await store.verify()
    assert (report.ok, report.events, report.batches, report.first_bad_position, report.problem) == (
        True,
        4,
        3,
        None,
        "",
    )
    assert len(report.head) == 64
    assert report.head != "00" * 32


async def script(store: EventStore) -> None:
    """A fixed sequence of appends, duplicates and refusals every backend must hash alike."""
    info = await store.begin_session("hash", "tests", started_ns=1_000, symbols=("BTC/USDT", "ETH/USDT"))
    sid = info.id
    await store.append([trade(n, A if n % 2 else B, session=sid) for n in range(1, 9)], expected_version={A: 0, B: 0})
    await store.append([trade(n, A, session=sid) for n in range(7, 12)])
    await store.append([note(1, session=sid), trade(20, C, session=sid)])
    with pytest.raises(ConcurrencyError):
        await store.append([trade(30, session=sid)], expected_version=1)
    await store.end_session(sid, ended_ns=9_000, reason="done")


async def test_same_appends_give_the_same_head_on_both_backends(tmp_path: Path) -> None:
    stores = [await open_backend(b, tmp_path / f"{b}.sqlite") for b in ("memory", "rows", "columnar")]
    try:
        for each in stores:
            await script(each)
        memory, *files = [await s.verify() for s in stores]
        assert memory.ok
        assert (memory.events, memory.batches) == (16, 5)
        for other, report in zip(stores[1:], files, strict=True):
            assert report.ok
            assert (memory.head, memory.events, memory.batches) == (report.head, report.events, report.batches)
            assert await read_all(stores[0]) == await read_all(other)
            assert await stores[0].sessions() == await other.sessions()
    finally:
        for each in stores:
            await each.close()


async def test_large_batches_hash_alike_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    stores = [
        await open_backend("memory", tmp_path / "m"),
        await open_backend("rows", path),
        await open_backend("columnar", tmp_path / "c.sqlite"),
    ]
    try:
        for each in stores:
            await each.begin_session("big", "tests", started_ns=1_000, session_id=SID)
            await each.append([trade(n) for n in range(2_500)])
            await each.append([trade(n, A if n % 3 else B) for n in range(2_500, 3_700)])
            # Causations make every column bound; the overlap forces the duplicate-id path mid-group.
            caused = [msgspec.structs.replace(trade(n, C if n % 2 else B), causation=n) for n in range(3_700, 4_901)]
            await each.append([trade(n, A if n % 3 else B) for n in range(3_000, 3_100)] + caused)
        memory, *files = [await s.verify() for s in stores]
        assert memory.ok
        for other, report in zip(stores[1:], files, strict=True):
            assert (memory.head, memory.events, memory.batches) == (report.head, report.events, report.batches)
            assert await read_all(stores[0]) == await read_all(other)
            assert [e.causation for e in (await read_all(other))[-1_201:]] == list(range(3_700, 4_901))
    finally:
        for each in stores:
            await each.close()
    reopened = await open_sqlite_store(path, readonly=True)
    try:
        again = await reopened.verify()
    finally:
        await reopened.close()
    assert (again.ok, again.head, again.events) == (True, memory.head, 4_902)


async def test_same_head_on_both_backends_after_a_refused_batch_with_new_streams(tmp_path: Path) -> None:
    stores = [await open_backend(b, tmp_path / f"{b}.sqlite") for b in ("memory", "rows", "columnar")]
    try:
        for each in stores:
            await each.begin_session("hash", "tests", started_ns=1_000, session_id=SID)
            with pytest.raises(ConcurrencyError):
                await each.append([trade(1), trade(1, B)], expected_version={A: 3})
            await each.append([trade(1, C)])
        memory, *files = [await s.verify() for s in stores]
        assert [memory.head] * 2 == [report.head for report in files]
    finally:
        for each in stores:
            await each.close()


# -- buffered writer ----------------------------------------------------------------


async def durable_ids(store: EventStore) -> list[str]:
    """Ids of the events another reader sees: a second connection for SQLite."""
    if isinstance(store, SQLiteEventStore):
        reader = await open_sqlite_store(store.path, readonly=True)
        try:
            return await ids(reader)
        finally:
            await reader.close()
    return await ids(store)


async def test_writer_commits_when_max_events_is_reached(store: EventStore, session: SessionInfo) -> None:
    writer = store.writer(max_events=3, max_delay_s=3600)
    await writer.write(trade(1))
    await writer.write(trade(2))
    assert (writer.pending, await store.max_position()) == (2, 1)
    await writer.write(trade(3))
    await wait_for(lambda: _position_is(store, 4))
    await writer.write(trade(4))
    assert writer.pending == 1
    assert await store.max_position() == 4
    await writer.flush()
    assert (writer.pending, writer.written, await store.max_position()) == (0, 4, 5)
    assert (await store.verify()).batches == 3
    await writer.close()


async def _position_is(store: EventStore, position: int) -> bool:
    return await store.max_position() == position


async def test_writer_commits_after_max_delay(store: EventStore, session: SessionInfo) -> None:
    writer = store.writer(max_events=1_000, max_delay_s=0.01)
    await writer.write(trade(1))
    await writer.write(trade(2))
    await wait_for(lambda: _position_is(store, 3))
    await writer.write_many([trade(3), trade(4), trade(5)])
    await wait_for(lambda: _position_is(store, 6))
    assert (writer.pending, writer.written) == (0, 5)
    assert await ids(store, EventFilter(streams=(A,))) == [f"{A}/{n}" for n in range(1, 6)]
    await writer.close()


async def test_writer_flush_and_close_are_durable(store: EventStore, session: SessionInfo) -> None:
    writer = store.writer(max_events=1_000, max_delay_s=3600)
    await writer.write_many(trade(n) for n in range(1, 11))
    await writer.flush()
    assert len(await durable_ids(store)) == 11
    await writer.write_many([trade(11), trade(12), trade(1)])
    await writer.close()
    assert (writer.written, writer.duplicates) == (12, 1)
    assert (await durable_ids(store))[-3:] == [f"{A}/10", f"{A}/11", f"{A}/12"]
    with pytest.raises(StoreClosedError):
        await writer.write(trade(12))
    await writer.close()


async def test_store_close_flushes_open_writers(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    store = await open_backend(backend, path)
    await store.begin_session("w", "tests", started_ns=1, session_id=SID)
    writer = store.writer(max_events=1_000, max_delay_s=3600)
    await writer.write_many([trade(1), trade(2), trade(3)])
    await store.close()
    assert (writer.pending, writer.written) == (0, 3)
    if backend != "memory":
        reopened = await open_sqlite_store(path, readonly=True)
        try:
            assert await ids(reopened, EventFilter(streams=(A,))) == [f"{A}/1", f"{A}/2", f"{A}/3"]
        finally:
            await reopened.close()


async def test_writer_failed_batch_is_raised_by_next_call_and_kept(store: EventStore, session: SessionInfo) -> None:
    writer = store.writer(max_events=2, max_delay_s=3600)
    ghost = trade(2, session="ghost")
    await writer.write(trade(1))
    await writer.write(ghost)

    async def failed() -> bool:
        return len(writer.failed) == 2

    await wait_for(failed)
    with pytest.raises(SessionError, match="ghost"):
        await writer.write(trade(3))
    assert writer.failed == [trade(1), ghost]
    assert await store.max_position() == 1
    await writer.write_many([trade(1), trade(3)])
    await writer.flush()
    assert await ids(store, EventFilter(after_position=1)) == [f"{A}/1", f"{A}/3"]
    assert writer.written == 2


async def test_writer_failure_is_raised_by_flush_and_close(store: EventStore, session: SessionInfo) -> None:
    writer = store.writer(max_events=100, max_delay_s=3600)
    ghost = trade(1, session="ghost")
    await writer.write(ghost)
    with pytest.raises(SessionError):
        await writer.flush()
    assert writer.failed == [ghost]
    await writer.write(ghost)
    with pytest.raises(SessionError):
        await writer.close()
    assert writer.failed == [ghost, ghost]
    with pytest.raises(StoreClosedError):
        await writer.write(trade(2))
    assert await store.max_position() == 1


async def test_store_close_flushes_every_writer_even_if_one_failed(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    store = await open_backend(backend, path)
    await store.begin_session("w", "tests", started_ns=1, session_id=SID)
    failing = store.writer(max_events=1, max_delay_s=3600)
    await failing.write(trade(1, session="ghost"))
    healthy = store.writer(max_events=1_000, max_delay_s=3600)
    await healthy.write_many([trade(2), trade(3)])
    with pytest.raises(SessionError, match="ghost"):
        await store.close()
    try:
        assert (healthy.pending, healthy.written) == (0, 2)
        with pytest.raises(StoreClosedError):
            await store.max_position()
    finally:
        await store.close()
    if backend != "memory":
        reopened = await open_sqlite_store(path, readonly=True)
        try:
            assert await ids(reopened, EventFilter(streams=(A,))) == [f"{A}/2", f"{A}/3"]
        finally:
            await reopened.close()


@pytest.mark.parametrize(
    "broken",
    [
        Trade(float("nan"), 1.0, "buy", "x"),
        Trade(1e999, 1.0, "buy", "x"),
        Trade(-5.0, 1.0, "buy", "x"),
        Trade(5.0, 0.0, "buy", "x"),
    ],
    ids=["nan", "inf", "negative", "zero-amount"],
)
async def test_an_event_breaking_the_value_rules_is_refused_with_its_batch(
    store: EventStore, session: SessionInfo, broken: Trade
) -> None:
    await store.append([trade(1)])
    before = await state(store)
    bad = Event("bad", A, 9_000, 9_001, SID, broken)
    with pytest.raises(InvalidEventError, match=r"invalid Trade on binance:BTC/USDT:trades: .* \(event 2 of the batch"):
        await store.append([trade(2), bad, trade(3)])
    assert await state(store) == before
    assert (await store.verify()).ok


async def test_verify_finds_an_earlier_head_and_refuses_an_unknown_one(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])
    earlier = await store.verify()
    await store.append([trade(2)])

    later = await store.verify(expect_head=earlier.head.upper())
    unknown = await store.verify(expect_head="ab" * 32)

    assert (later.ok, later.position, earlier.position) == (True, 3, 2)
    assert not unknown.ok
    assert "does not contain head abababab" in unknown.problem


async def test_verify_with_a_key_refuses_batches_written_without_one(store: EventStore, session: SessionInfo) -> None:
    await store.append([trade(1)])

    report = await store.verify(key=b"sixteen bytes or more of key")

    assert not report.ok
    assert "batch 1 (positions 1..1) carries no MAC" in report.problem
    assert "sixteen" not in report.problem


async def test_a_refused_session_start_leaves_nothing_behind(store: EventStore, session: SessionInfo) -> None:
    before = (await store.max_position(), len(await store.sessions()), (await store.verify()).head)

    with pytest.raises(SessionError):
        await store.begin_session("again", "tests", started_ns=5, session_id=session.id)

    assert (await store.max_position(), len(await store.sessions()), (await store.verify()).head) == before


async def test_session_rows_and_their_lifecycle_events_change_together(store: EventStore, session: SessionInfo) -> None:
    await store.end_session(session.id, ended_ns=2_000, reason="done")
    await store.resume_session(session.id, resumed_ns=3_000)
    await store.end_session(session.id, ended_ns=4_000)

    info = await store.session(session.id)
    lifecycle = [e.type async for e in store.read(EventFilter(session=session.id))]
    assert (info.status, info.ended_ns, info.end_reason) == ("closed", 4_000, "")
    assert lifecycle == ["SessionStarted", "SessionEnded", "SessionResumed", "SessionEnded"]
    assert (await store.verify()).ok
