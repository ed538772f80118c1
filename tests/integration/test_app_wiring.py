"""build_container: the same wiring live and replay, deterministic replays, nothing left undisposed."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from virtuoso.app import AppConfig, Runtime, build_container
from virtuoso.bus import EventBus, EventPublisher
from virtuoso.clock import Clock, LiveClock, ReplayClock
from virtuoso.errors import MissingRegistrationError, StoreClosedError
from virtuoso.events import Event, EventIdFactory, Note, Trade
from virtuoso.store import EventFilter, EventStore, open_sqlite_store

STREAMS = [f"binance:{symbol}:trades" for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT")]


class RunningVolume:
    """A handler whose state depends only on each stream's own events: a per-stream running volume."""

    def __init__(self) -> None:
        self.volume: dict[str, float] = {}

    def __call__(self, event: Event) -> list[Event]:
        assert isinstance(event.payload, Trade)
        total = self.volume.get(event.stream, 0.0) + event.payload.amount
        self.volume[event.stream] = total
        note = Note(f"{event.stream} volume {total:.4f}")
        return [Event(f"d-{event.id}", "analysis:volume", event.ts_event, event.ts_recv, event.session, note)]


async def recorded_session(path: Path, trades: int = 3_000) -> str:
    store = await open_sqlite_store(path)
    session = await store.begin_session("wiring", "test", started_ns=1_000)
    ids = EventIdFactory(session.id)
    events = [
        Event(
            ids(2_000 + i),
            STREAMS[i % 3],
            2_000 + i,
            3_000 + i,
            session.id,
            Trade(1.0, 0.001 * (i % 17 + 1), "buy", str(i)),
        )
        for i in range(trades)
    ]
    await store.append(events)
    await store.end_session(session.id, ended_ns=10_000_000)
    await store.close()
    return session.id


async def replay(path: Path, session: str, workers: int) -> bytes:
    container = build_container("replay", AppConfig(db=path, workers=workers, capacity=64), handlers=[RunningVolume()])
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        derived = await runtime.run(session)
    clock = await container.aresolve(Clock)  # type: ignore[type-abstract]
    assert clock.now_ns() == 10_000_000, "the replay clock follows the recorded times, up to SessionEnded"
    await container.aclose()
    assert container.undisposed() == []
    return msgspec.json.encode(derived)


@pytest.mark.asyncio
async def test_a_replay_gives_the_same_bytes_with_1_and_8_workers_and_on_every_run(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded_session(path)
    one = await replay(path, session, workers=1)
    eight = await replay(path, session, workers=8)
    again = await replay(path, session, workers=8)
    assert one == eight == again
    assert one.count(b'"stream":"analysis:volume"') == 3_000


@pytest.mark.asyncio
async def test_closing_the_container_disposes_the_store_and_every_scoped_service(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded_session(path, trades=30)
    container = build_container("replay", AppConfig(db=path))
    store = await container.aresolve(EventStore)
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        await runtime.run(session)
        assert runtime.processor.state == "closed"
    assert container.undisposed() == [store]
    await container.aclose()
    assert container.undisposed() == []
    with pytest.raises(StoreClosedError):
        await store.max_position()


class PublisherSource:
    """A live source standing in for an exchange adapter: publishes trades through the real EventPublisher."""

    def __init__(self, bus: EventBus, clock: Clock) -> None:
        self._bus = bus
        self._clock = clock

    async def run(self, runtime: Runtime, session: str) -> None:
        publisher = EventPublisher(self._bus, self._clock, session=session, exchange="binance")
        for i in range(500):
            publisher.trade("BTC/USDT", 100.0 + i, 0.01, "sell", str(i), ts_event=1_723_161_255_000_000_000 + i)
            await runtime.throttle()


@pytest.mark.asyncio
async def test_live_mode_records_market_and_derived_events_with_the_same_wiring(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    container = build_container("live", AppConfig(db=path), handlers=[RunningVolume()], source=PublisherSource)
    assert isinstance(await container.aresolve(Clock), LiveClock)  # type: ignore[type-abstract]
    store = await container.aresolve(EventStore)
    session = await store.begin_session("live", "test", started_ns=1)
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        derived = await runtime.run(session.id)
    stored = [e async for e in store.read(EventFilter(session=session.id))]
    await container.aclose()
    assert len(derived) == 500
    assert [e.type for e in stored].count("Trade") == 500
    assert [e.type for e in stored].count("Note") == 500


@pytest.mark.asyncio
async def test_live_mode_without_a_source_names_what_is_missing() -> None:
    container = build_container("live")
    with pytest.raises(MissingRegistrationError, match="EventSource"):
        async with container.scope() as scope:
            await scope.aresolve(Runtime)
    await container.aclose()


def test_replay_mode_registers_a_replay_clock() -> None:
    container = build_container("replay", AppConfig(replay_start_ns=42))
    clock = container.resolve(Clock)  # type: ignore[type-abstract]
    assert isinstance(clock, ReplayClock)
    assert clock.now_ns() == 42
    container.close()


@pytest.mark.asyncio
async def test_a_failing_processor_handler_becomes_a_recorded_handler_failed_event(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded_session(path, trades=12)

    def dislikes_seven(event: Event) -> None:
        assert isinstance(event.payload, Trade)
        if event.payload.trade_id == "7":
            raise ValueError("seven")

    config = AppConfig(db=path, record_topics=("system.handler.*",))
    container = build_container("replay", config, handlers=[dislikes_seven])
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        await runtime.run(session)
    assert [letter.event.payload.trade_id for letter in runtime.dead_letters] == ["7"]  # type: ignore[attr-defined]
    store = await container.aresolve(EventStore)
    [failure] = [e async for e in store.read(EventFilter(types=("HandlerFailed",)))]
    await container.aclose()
    assert failure.payload.error == "ValueError: seven"
    assert failure.causation == runtime.dead_letters[0].event.position
