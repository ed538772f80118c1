"""Exchange-time merges, pacing against an injected wall clock, pause/resume, seek from a book checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.replay._support import BOOK, BTC, ETH, append, collect, record, replay_container
from virtuoso.app import Runtime
from virtuoso.book import (
    SYNTHETIC_START_NS,
    BookBuilder,
    book_at,
    checkpoint_stream,
    rule_for_stream,
    synthetic_book_events,
    write_checkpoints,
)
from virtuoso.bus import EventBus
from virtuoso.clock import ReplayClock
from virtuoso.events import BookDelta, BookSnapshot, Event, Quote, Trade
from virtuoso.replay import Pacer, ReplayOptions, ReplaySelection, stream_priority
from virtuoso.store import EventStore

EXCHANGE = ReplaySelection(order="exchange-time")
QUOTES = "binance:BTC/USDT:quotes"


@pytest.mark.asyncio
async def test_exchange_time_order_merges_streams_by_ts_event_and_the_clock_follows_it() -> None:
    container = replay_container()
    session = await record(
        await container.aresolve(EventStore),
        "s",
        [("a", BTC, 10, 15), ("b", ETH, 5, 20), ("c", BTC, 30, 25), ("d", ETH, 20, 40)],
    )
    seen = await collect(container, session, EXCHANGE)
    await container.aclose()
    assert seen.ids == ["b", "a", "d", "c"]
    assert seen.times == [5, 10, 20, 30]


@pytest.mark.asyncio
async def test_ties_go_by_stream_priority_then_position() -> None:
    container = replay_container()
    store = await container.aresolve(EventStore)
    info = await store.begin_session("s", "test", started_ns=0)
    trade, quote = Trade(1.0, 1.0, "buy", "1"), Quote(1.0, 1.0, 2.0, 1.0)
    delta = BookDelta(((1.0, 1.0),), (), 1, 1)
    await append(
        store,
        info.id,
        [("t1", BTC, 7, 7, trade), ("e1", ETH, 7, 7, trade), ("q1", QUOTES, 7, 7, quote), ("k1", BOOK, 7, 7, delta)],
    )
    await append(store, info.id, [("t2", BTC, 7, 8, trade)])
    seen = await collect(container, info.id, EXCHANGE)
    assert seen.ids == ["k1", "q1", "t1", "e1", "t2"], "book, quotes, trades; equal trades by position"
    explicit = await collect(container, info.id, EXCHANGE, ReplayOptions(priority=(ETH,)))
    await container.aclose()
    assert explicit.ids == ["e1", "k1", "q1", "t1", "t2"]


def test_stream_priority_puts_system_streams_last_and_unknown_channels_before_them() -> None:
    assert stream_priority("binance:BTC/USDT:bars") < stream_priority("x:y:funding") < stream_priority("system:s:gaps")


@pytest.mark.asyncio
async def test_a_stream_whose_times_step_back_keeps_its_order_and_the_clock_never_goes_back() -> None:
    container = replay_container()
    session = await record(
        await container.aresolve(EventStore), "s", [("a", BTC, 10, 10), ("b", BTC, 3, 11), ("c", ETH, 5, 12)]
    )
    seen = await collect(container, session, EXCHANGE)
    await container.aclose()
    assert seen.ids == ["c", "a", "b"]
    assert seen.times == [5, 10, 10]


class FakeWall:
    """A wall clock and a sleep that only move when slept on: pacing tested without waiting."""

    def __init__(self) -> None:
        self.clock = ReplayClock(1_000)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance_to(self.clock.now_ns() + round(seconds * 1e9))


SECOND = 1_000_000_000
PACED_ROWS = [
    ("a", BTC, 0, 10 * SECOND),
    ("b", BTC, 0, 12 * SECOND),
    ("c", BTC, 0, 13 * SECOND),
    ("d", BTC, 0, 17 * SECOND),
]


@pytest.mark.asyncio
async def test_speed_n_publishes_each_event_when_its_recorded_offset_divided_by_n_has_passed() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", PACED_ROWS, started_ns=10 * SECOND)
    wall = FakeWall()
    seen_at: list[int] = []
    bus = await container.aresolve(EventBus)
    bus.subscribe(Trade, lambda e: seen_at.append(wall.clock.now_ns() - 1_000))
    await collect(container, session, pacer=Pacer(2.0, wall=wall.clock, sleep=wall.sleep))
    await container.aclose()
    assert seen_at == [0, SECOND, 3 * SECOND // 2, 7 * SECOND // 2]


@pytest.mark.asyncio
async def test_pause_holds_the_replay_and_resume_goes_on_without_a_burst() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", PACED_ROWS, started_ns=10 * SECOND)
    wall = FakeWall()
    pacer = Pacer(1.0, wall=wall.clock, sleep=wall.sleep)
    seen_at: list[tuple[str, int]] = []
    runtime_source: list[object] = []

    def resume_later(replayer: object) -> None:
        assert replayer.paused  # type: ignore[attr-defined]
        wall.clock.advance_to(wall.clock.now_ns() + 100 * SECOND)  # a long pause
        replayer.resume()  # type: ignore[attr-defined]

    def on_trade(event: Event) -> None:
        seen_at.append((event.id, wall.clock.now_ns() - 1_000))
        if event.id == "b":
            replayer = runtime_source[0]
            replayer.pause()  # type: ignore[attr-defined]
            asyncio.get_running_loop().call_soon(resume_later, replayer)

    bus = await container.aresolve(EventBus)
    bus.subscribe(Trade, on_trade)
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        runtime.source.configure(pacer=pacer)  # type: ignore[attr-defined]
        runtime_source.append(runtime.source)
        await runtime.run(session)
    await container.aclose()
    assert seen_at == [("a", 0), ("b", 2 * SECOND), ("c", 103 * SECOND), ("d", 107 * SECOND)]


@pytest.mark.asyncio
async def test_seek_starts_the_book_from_its_latest_checkpoint_and_other_streams_at_the_time() -> None:
    container = replay_container()
    store = await container.aresolve(EventStore)
    info = await store.begin_session("book", "test", started_ns=SYNTHETIC_START_NS - 1)
    step = 10_000_000
    await store.append(list(synthetic_book_events(info.id, BOOK, 1_000, seed=3, levels=20, step_ns=step)))
    trades = [
        Event(
            f"t{i}",
            BTC,
            SYNTHETIC_START_NS + i * 50 * step,
            SYNTHETIC_START_NS + i * 50 * step,
            info.id,
            Trade(1.0, 1.0, "buy", str(i)),
        )
        for i in range(20)
    ]
    await store.append(trades)
    await write_checkpoints(store, info.id, BOOK, every=100)
    at = SYNTHETIC_START_NS + 555 * step
    seen = await collect(container, info.id, seek_ns=at, types=(BookSnapshot, BookDelta, Trade))
    expected = await book_at(store, info.id, BOOK, at)
    await container.aclose()
    first = seen.events[0]
    assert first.stream == checkpoint_stream(BOOK), "the checkpoint comes first"
    builder = BookBuilder.from_checkpoint(first, rule_for_stream(BOOK), BOOK)
    book_events = [e for e in seen.events[1:] if e.stream == BOOK]
    assert 0 < len([e for e in book_events if e.ts_event <= at]) < 100, "only the deltas after the checkpoint"
    for event in book_events:
        if event.ts_event > at:
            break
        builder.apply(event)
    assert builder.state(session=info.id, at_ns=at) == expected
    assert [e.id for e in seen.events if e.stream == BTC] == [f"t{i}" for i in range(12, 20)]


@pytest.mark.asyncio
async def test_seek_in_exchange_time_order_starts_each_stream_at_its_own_point() -> None:
    container = replay_container()
    store = await container.aresolve(EventStore)
    info = await store.begin_session("book", "test", started_ns=SYNTHETIC_START_NS - 1)
    step = 10_000_000
    await store.append(list(synthetic_book_events(info.id, BOOK, 600, seed=5, levels=10, step_ns=step)))
    await write_checkpoints(store, info.id, BOOK, every=100)
    at = SYNTHETIC_START_NS + 333 * step
    seen = await collect(container, info.id, EXCHANGE, seek_ns=at, types=(BookSnapshot, BookDelta))
    expected = await book_at(store, info.id, BOOK, at)
    await container.aclose()
    assert seen.events[0].stream == checkpoint_stream(BOOK)
    builder = BookBuilder.from_checkpoint(seen.events[0], rule_for_stream(BOOK), BOOK)
    for event in seen.events[1:]:
        if event.ts_event > at:
            break
        builder.apply(event)
    assert builder.state(session=info.id, at_ns=at) == expected


@pytest.mark.asyncio
async def test_stop_ends_the_replay_after_the_current_chunk() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", [(f"t{i}", BTC, i, i) for i in range(10)])
    bus = await container.aresolve(EventBus)
    replayers: list[object] = []
    bus.subscribe(Trade, lambda e: replayers[0].stop() if e.id == "t2" else None)  # type: ignore[attr-defined]
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        replayers.append(runtime.source)
        runtime.source.configure(options=ReplayOptions(chunk_size=4))  # type: ignore[attr-defined]
        await runtime.run(session)
    await container.aclose()
    assert runtime.source.events_in == 4  # type: ignore[attr-defined]
