"""Emitter: envelopes for one recording session, published through the runtime (bus, then the recorder's log)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from virtuoso.clock import Clock
from virtuoso.events import Event, EventIdFactory, Gap, Payload, stream_name
from virtuoso.exchange._normalize import ms_to_ns, stream_prefix, trade_event, trade_event_id


class Publisher(Protocol):
    """Where events go: :class:`virtuoso.app.Runtime` (bus dispatch, then backpressure)."""

    async def publish(self, event: Event) -> None:
        """Dispatch one event."""
        ...


class Emitter:
    """Builds the events of one session and exchange and publishes them.

    Trade ids (and bar ids) depend on the stream and the venue's key only, not on
    the session or the receive time, so the same trade recorded twice, even by
    two sessions of one log, is stored once. Other events get ids from one
    :class:`~virtuoso.events.EventIdFactory` per stream.
    """

    def __init__(self, publisher: Publisher, clock: Clock, *, session: str, exchange: str) -> None:
        self._publisher = publisher
        self._clock = clock
        self.session = session
        self.exchange = exchange
        self._ids: dict[str, EventIdFactory] = {}
        self._prefixes: dict[str, str] = {}

    def switch_session(self, session: str) -> None:
        """Stamp every event built from now on with ``session`` (a rotation); ids of its streams start afresh."""
        self.session = session
        self._ids.clear()

    def stream(self, symbol: str, channel: str) -> str:
        """The stream name ``exchange:symbol:channel``."""
        return stream_name(self.exchange, symbol, channel)

    def now_ns(self) -> int:
        """The clock's time."""
        return self._clock.now_ns()

    def _prefix(self, stream: str) -> str:
        prefix = self._prefixes.get(stream)
        if prefix is None:
            prefix = self._prefixes[stream] = stream_prefix("", stream)
        return prefix

    def trade_event(self, stream: str, trade: Mapping[str, Any]) -> Event:
        """The event of one ccxt trade (not yet published)."""
        return trade_event(
            trade, stream=stream, prefix=self._prefix(stream), session=self.session, ts_recv=self.now_ns()
        )

    async def publish(self, event: Event) -> None:
        """Publish a ready event."""
        await self._publisher.publish(event)

    async def emit(
        self, stream: str, payload: Payload, ts_event: int | None = None, *, key: str | None = None
    ) -> Event:
        """Publish ``payload`` on ``stream``; with ``key`` its id is made from the stream and key alone."""
        now = self.now_ns()
        ts = now if ts_event is None else ts_event
        event_id = trade_event_id(self._prefix(stream), ts, key) if key is not None else self._next_id(stream, now)
        event = Event(event_id, stream, ts, now, self.session, payload)
        await self._publisher.publish(event)
        return event

    async def gap(self, symbol: str, gap: Gap) -> Event:
        """Publish a :class:`~virtuoso.events.Gap` on the symbol's ``gaps`` stream (as the importers do)."""
        return await self.emit(self.stream(symbol, "gaps"), gap, gap.end_ns)

    def _next_id(self, stream: str, ts_ns: int) -> str:
        ids = self._ids.get(stream)
        if ids is None:
            ids = self._ids[stream] = EventIdFactory(f"{self.session}:{stream}")
        return ids(ts_ns)


def timestamp_ns(item: Mapping[str, Any] | Sequence[Any], default: int) -> int:
    """The exchange time of a ccxt structure (dict ``timestamp`` or an OHLCV row's first field) in ns."""
    raw = item.get("timestamp") if isinstance(item, Mapping) else item[0]
    return ms_to_ns(raw, default)
