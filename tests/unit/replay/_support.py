"""Recorded sessions in an in-memory log, and a replay that collects what the bus saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from virtuoso.app import AppConfig, Runtime, build_container
from virtuoso.bus import EventBus
from virtuoso.clock import Clock
from virtuoso.container import ServiceContainer
from virtuoso.events import Event, Payload, Trade
from virtuoso.replay import Pacer, Replayer, ReplayOptions, ReplaySelection
from virtuoso.store import EventStore

BTC = "binance:BTC/USDT:trades"
ETH = "binance:ETH/USDT:trades"
BOOK = "binance:BTC/USDT:book"


def trade(event_id: str, stream: str, ts_event: int, ts_recv: int, session: str) -> Event:
    return Event(event_id, stream, ts_event, ts_recv, session, Trade(100.0, 1.0, "buy", event_id))


@dataclass
class Seen:
    """What a bus subscriber saw: event ids and the clock's time at each."""

    ids: list[str] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


async def record(store: EventStore, name: str, rows: Sequence[tuple[str, str, int, int]], started_ns: int = 0) -> str:
    """A closed session of trades ``(id, stream, ts_event, ts_recv)`` in the given order."""
    info = await store.begin_session(name, "test", started_ns=started_ns)
    await store.append([trade(i, stream, te, tr, info.id) for i, stream, te, tr in rows])
    await store.end_session(info.id, ended_ns=max([r[3] for r in rows], default=started_ns) + 1)
    return info.id


async def append(store: EventStore, session: str, events: Sequence[tuple[str, str, int, int, Payload]]) -> None:
    await store.append([Event(i, stream, te, tr, session, payload) for i, stream, te, tr, payload in events])


def replay_container() -> ServiceContainer:
    return build_container("replay", AppConfig())


async def collect(
    container: ServiceContainer,
    session: str,
    selection: ReplaySelection | None = None,
    options: ReplayOptions | None = None,
    *,
    pacer: Pacer | None = None,
    seek_ns: int | None = None,
    types: tuple[type[Payload], ...] = (Payload,),
) -> Seen:
    """Replay ``session`` with a subscriber recording what it sees (lifecycle events left out)."""
    seen = Seen()
    bus = await container.aresolve(EventBus)
    clock = await container.aresolve(Clock)  # type: ignore[type-abstract]

    def on_event(event: Event) -> None:
        if not event.stream.startswith("system:"):
            seen.ids.append(event.id)
            seen.times.append(clock.now_ns())
            seen.events.append(event)

    subscriptions = [bus.subscribe(t, on_event) for t in types]
    async with container.scope() as scope:
        runtime = await scope.aresolve(Runtime)
        assert isinstance(runtime.source, Replayer)
        runtime.source.configure(selection, options, pacer)
        if seek_ns is not None:
            runtime.source.seek(seek_ns)
        await runtime.run(session)
    for subscription in subscriptions:
        bus.unsubscribe(subscription)
    return seen
