"""The Replayer: order, filters, the clock, sessions merged by position."""

from __future__ import annotations

import pytest

from tests.unit.replay._support import BTC, ETH, collect, record, replay_container
from virtuoso.clock import Clock, LiveClock, ReplayClock
from virtuoso.errors import SessionError, UsageError
from virtuoso.events import Event, Trade
from virtuoso.replay import Replayer, ReplaySelection
from virtuoso.store import EventStore, MemoryEventStore

ROWS = [("a", BTC, 10, 15), ("b", ETH, 5, 20), ("c", BTC, 30, 25), ("d", ETH, 20, 40)]


@pytest.mark.asyncio
async def test_position_order_is_the_recorded_order_and_the_clock_follows_ts_recv() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", ROWS)
    seen = await collect(container, session)
    clock = await container.aresolve(Clock)  # type: ignore[type-abstract]
    await container.aclose()
    assert seen.ids == ["a", "b", "c", "d"]
    assert seen.times == [15, 20, 25, 40]
    assert clock.now_ns() == 41, "the session's SessionEnded moves the clock last"


@pytest.mark.asyncio
async def test_a_timer_fires_at_recorded_time_before_the_event_that_passes_it() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", ROWS)
    clock = await container.aresolve(Clock)  # type: ignore[type-abstract]
    assert isinstance(clock, ReplayClock)
    fired: list[int] = []
    clock.call_at(22, lambda: fired.append(clock.now_ns()))
    seen = await collect(container, session)
    await container.aclose()
    assert fired == [22]
    assert seen.times[2] == 25


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (ReplaySelection(streams=(ETH,)), ["b", "d"]),
        (ReplaySelection(symbols=("BTC/USDT",)), ["a", "c"]),
        (ReplaySelection(start_ns=10, end_ns=30), ["a", "d"]),
        (ReplaySelection(types=("Trade",), start_ns=20), ["c", "d"]),
        (ReplaySelection(types=("Quote",)), []),
    ],
)
async def test_filters_by_stream_symbol_type_and_exchange_time(selection: ReplaySelection, expected: list[str]) -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", ROWS)
    seen = await collect(container, session, selection)
    await container.aclose()
    assert seen.ids == expected


@pytest.mark.asyncio
async def test_several_sessions_are_merged_by_position() -> None:
    container = replay_container()
    store = await container.aresolve(EventStore)
    first = await store.begin_session("one", "test", started_ns=0)
    second = await store.begin_session("two", "test", started_ns=0)
    for i in range(6):  # interleaved appends, as two recorders writing at once
        session = first if i % 2 == 0 else second
        await store.append([_trade(f"t{i}", session.id, i)])
    seen = await collect(container, first.id, ReplaySelection(sessions=(second.id, first.id)))
    await container.aclose()
    assert seen.ids == [f"t{i}" for i in range(6)]


@pytest.mark.asyncio
async def test_an_unknown_session_is_a_one_line_error() -> None:
    container = replay_container()
    await record(await container.aresolve(EventStore), "s", ROWS)
    with pytest.raises(SessionError, match="no session"):
        await collect(container, "nope")
    await container.aclose()


@pytest.mark.asyncio
async def test_stream_and_symbol_errors_name_what_is_missing() -> None:
    container = replay_container()
    session = await record(await container.aresolve(EventStore), "s", ROWS)
    with pytest.raises(UsageError, match="no stream 'x:y:z'"):
        await collect(container, session, ReplaySelection(streams=("x:y:z",)))
    await container.aclose()
    other = replay_container()
    session = await record(await other.aresolve(EventStore), "s", ROWS)
    with pytest.raises(UsageError, match="no symbol 'DOGE/USDT'"):
        await collect(other, session, ReplaySelection(symbols=("DOGE/USDT",)))
    await other.aclose()


def test_bad_selections_are_refused() -> None:
    with pytest.raises(UsageError, match="order must be one of"):
        ReplaySelection(order="random")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="empty time range"):
        ReplaySelection(start_ns=5, end_ns=5)


def test_the_replayer_needs_the_replay_clock() -> None:
    with pytest.raises(UsageError, match="ReplayClock"):
        Replayer(MemoryEventStore(), LiveClock())


def _trade(event_id: str, session: str, ts: int) -> Event:
    return Event(event_id, BTC, ts, ts, session, Trade(1.0, 1.0, "buy", event_id))
