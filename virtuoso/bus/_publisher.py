"""EventPublisher: the calls adapters use, so no adapter builds an envelope by hand."""

from __future__ import annotations

from collections.abc import Sequence

from virtuoso.bus._bus import EventBus
from virtuoso.clock import Clock
from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    Event,
    EventIdFactory,
    Level,
    Payload,
    Quote,
    Side,
    Ticker,
    Trade,
    stream_name,
)

CHANNELS = {Trade: "trades", BookSnapshot: "book", BookDelta: "book", Bar: "bars", Quote: "quotes", Ticker: "ticker"}
"""The stream channel of each market payload: snapshots and deltas share ``book`` so its versions order them."""


class EventPublisher:
    """Builds envelopes for one session and exchange and publishes them on the bus.

    ``ts_recv`` is always the Clock's time; ``ts_event`` is the exchange's time
    when the caller has it, else the Clock's. Ids come from one
    :class:`~virtuoso.events.EventIdFactory` per stream, so the same inputs at the
    same clock times give the same ids.

    >>> from virtuoso.bus import EventBus
    >>> from virtuoso.clock import ReplayClock
    >>> bus, clock = EventBus(), ReplayClock(start_ns=5_000)
    >>> seen = []
    >>> _ = bus.subscribe("market.*", seen.append)
    >>> publisher = EventPublisher(bus, clock, session="s1", exchange="binance")
    >>> event = publisher.trade("BTC/USDT", 61837.63, 0.02, "sell", "3735683259", ts_event=4_000)
    >>> (event.stream, event.ts_event, event.ts_recv, seen == [event])
    ('binance:BTC/USDT:trades', 4000, 5000, True)
    """

    def __init__(self, bus: EventBus, clock: Clock, *, session: str, exchange: str) -> None:
        self._bus = bus
        self._clock = clock
        self.session = session
        self.exchange = exchange
        self._ids: dict[str, EventIdFactory] = {}

    def trade(
        self, symbol: str, price: float, amount: float, side: Side, trade_id: str, *, ts_event: int | None = None
    ) -> Event:
        """Publish a public trade (``side`` is the taker's)."""
        return self.emit(symbol, Trade(price, amount, side, trade_id), ts_event=ts_event)

    def book_snapshot(
        self,
        symbol: str,
        bids: Sequence[Level],
        asks: Sequence[Level],
        sequence: int,
        *,
        ts_event: int | None = None,
    ) -> Event:
        """Publish an order-book snapshot (bids best first, asks best first)."""
        return self.emit(symbol, BookSnapshot(tuple(bids), tuple(asks), sequence), ts_event=ts_event)

    def book_delta(
        self,
        symbol: str,
        bids: Sequence[Level],
        asks: Sequence[Level],
        first_sequence: int,
        last_sequence: int,
        *,
        previous_sequence: int | None = None,
        ts_event: int | None = None,
    ) -> Event:
        """Publish changed book levels covering update ids ``first_sequence..last_sequence``."""
        delta = BookDelta(tuple(bids), tuple(asks), first_sequence, last_sequence, previous_sequence)
        return self.emit(symbol, delta, ts_event=ts_event)

    def bar(self, symbol: str, bar: Bar, *, ts_event: int | None = None) -> Event:
        """Publish an OHLCV candle."""
        return self.emit(symbol, bar, ts_event=ts_event)

    def ticker(self, symbol: str, ticker: Ticker, *, ts_event: int | None = None) -> Event:
        """Publish a ticker."""
        return self.emit(symbol, ticker, ts_event=ts_event)

    def quote(self, symbol: str, quote: Quote, *, ts_event: int | None = None) -> Event:
        """Publish a top-of-book quote."""
        return self.emit(symbol, quote, ts_event=ts_event)

    def emit(
        self,
        symbol: str,
        payload: Payload,
        *,
        channel: str | None = None,
        ts_event: int | None = None,
        causation: int | None = None,
    ) -> Event:
        """Publish any payload on ``exchange:symbol:channel`` (channel from :data:`CHANNELS` by default)."""
        stream = stream_name(self.exchange, symbol, channel or CHANNELS.get(type(payload), payload.TYPE.lower()))
        now = self._clock.now_ns()
        event = Event(
            self._next_id(stream, now),
            stream,
            now if ts_event is None else ts_event,
            now,
            self.session,
            payload,
            causation,
        )
        self._bus.publish(event)
        return event

    def _next_id(self, stream: str, ts_ns: int) -> str:
        ids = self._ids.get(stream)
        if ids is None:
            ids = self._ids[stream] = EventIdFactory(f"{self.session}:{stream}")
        return ids(ts_ns)
