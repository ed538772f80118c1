"""The backtest engine: one bus subscriber that runs, for each recorded event, in this order:

1. the order arrivals up to its time and the equity marks before it, in time order (a mark at ``B``
   reflects everything that happened at or before ``B``);
2. the venue (book update, last price, fills of waiting orders);
3. the run's analyzers, inline (the container-built :class:`~virtuoso.analysis.AnalyzerPipeline`);
4. the strategy: the event, then each analyzer output.

A strategy needs one total order of market events and of the signals derived
from them: through the processor's lanes the interleaving of the two would
depend on scheduling, so the analyzers run here, on the bus's thread, with the
same inputs in the same order (their outputs are the same as in a replay).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from itertools import count, islice
from typing import Any

from msgspec.structs import replace

from virtuoso.analysis import AnalyzerPipeline
from virtuoso.backtest._config import VenueConfig
from virtuoso.backtest._orders import Order
from virtuoso.backtest._portfolio import Portfolio
from virtuoso.backtest._strategy import Strategy
from virtuoso.backtest._venue import SimulatedVenue
from virtuoso.errors import BacktestError, StrategyError, UsageError
from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    ConfluenceScore,
    EquityMarked,
    Event,
    IndicatorValue,
    MarketsLoaded,
    OrderFilled,
    OrderKind,
    Payload,
    Side,
    Signal,
    TimeInForce,
    Trade,
)
from virtuoso.timing import StageTimer

EQUITY_STREAM = "backtest:equity"
_SIDES = ("buy", "sell")
_TIFS = ("GTC", "IOC", "post-only")
Output = Callable[[Sequence[Event]], object]


class BacktestEngine:
    """Drives ``strategy`` and the :class:`SimulatedVenue` over the events the bus hands it (see the module).

    ``output`` receives the derived events (analyzer outputs, orders, fills,
    positions, equity marks) after each input event, in the order they happened;
    :attr:`ledger` keeps the order and portfolio events for the result.
    """

    def __init__(
        self, strategy: Strategy, config: VenueConfig, *, symbol: str, seed: int = 0,
        pipeline: AnalyzerPipeline | None = None, output: Output | None = None, timer: StageTimer | None = None,
    ) -> None:  # fmt: skip
        self.strategy = strategy
        self.symbol = symbol
        self.portfolio = Portfolio(config.initial_cash)
        self.venue = SimulatedVenue(config, self.portfolio, self._emit, self._on_fill, random.Random(f"{seed}:latency"))
        self.ledger: list[Event] = []
        self.now_ns = 0
        self.error: BacktestError | None = None
        """What stopped the run: the strategy raised (a :class:`StrategyError`), or the engine itself did."""
        self._pipeline = pipeline if pipeline else None
        self._output = output
        self._interval = config.mark_interval_ns
        self._next_mark = -1
        self._last_mark = -1
        self._cause: int | None = None
        self._early: list[Order] = []
        self._out: list[Event] = []
        self._ids = count(1)
        self._symbols: dict[str, str] = {}
        self._timer = timer
        """Benchmarks only: the strategy's calls are charged to ``strategy``, the venue's to ``venue``."""
        if timer is not None:
            _time_venue(self.venue, timer)
        self._dispatch = _dispatcher(strategy, self.venue, self._symbol_of, self._timed)
        plain = Trade in self._dispatch and not _overrides(strategy, "on_event") and self._pipeline is None
        self._fast_trades: Callable[[Event, Trade], object] | None = self._timed(strategy.on_trade) if plain else None
        self._plain_trades: Callable[[Event, Trade], object] | None = None
        """The strategy's ``on_trade`` when a trade needs nothing else (no analyzers, no ``on_event``), from
        the second event on (the first one sends what ``on_start`` ordered)."""
        self._on_trade_event = self._dispatch.get(Trade)
        """The strategy's call for a trade event when it is not plain (``on_event``, or analyzers run)."""
        self._opened = False
        """The first event was handled (it sent what ``on_start`` ordered): trades take the short path."""
        self._due = -1
        """The earliest of the next equity mark and the next order arrival."""
        self._started = False
        self.on_error: Callable[[], object] | None = None
        """Called once when the strategy raised (the run's source stops there)."""

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Bind the strategy and call its ``on_start`` (orders it sends there leave with the first event)."""
        self.strategy._engine = self
        self._started = True
        self._guarded(self._timed(self.strategy.on_start))

    def finish(self) -> None:
        """Call the strategy's ``on_stop``, then mark the portfolio one last time at the last event's time.

        Orders still open (or on their way) stay so: the log says what happened, and nothing did to them.
        """
        if self.error is None and self._started:
            self._guarded(self._timed(self.strategy.on_stop))
        if self._next_mark >= 0 and self.now_ns > self._last_mark:
            self._mark(self.now_ns)  # the state after the last event
        self._flush()
        if self.error is not None:
            raise self.error

    # -- the bus handler -----------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """Handle one recorded event (derived ones, with a ``causation``, are not input)."""
        # The backtest's hot path. A trade, for a strategy with only on_trade and no analyzers, costs
        # a price update, the venue only when orders wait for trades, and the strategy's call.
        if event.causation is not None or self.error is not None:
            return
        ts = event.ts_event
        if ts >= self._due:
            self._advance(ts)
        self.now_ns = ts
        self._cause = event.position
        payload = event.payload
        try:
            if payload.__class__ is Trade and self._opened:
                venue = self.venue
                symbol = self._symbols.get(event.stream) or self._symbol_of(event.stream)
                venue.last_prices[symbol] = payload.price
                if venue.waiting:
                    venue.on_trade(symbol, payload, ts)
                    if self.error is not None:  # on_fill raised while the venue filled
                        return
                if self._plain_trades is not None:
                    self._plain_trades(event, payload)
                else:  # what _handle does after the venue, for a trade
                    derived = self._pipeline(event) if self._pipeline is not None else None
                    if self._on_trade_event is not None:
                        self._on_trade_event(event)
                    if derived:
                        self._react(derived, event.position)
            else:
                self._handle(event)
        except Exception as exc:
            self._failed(exc, event)
        if self._out:
            self._flush()

    def handle_many(self, events: list[Event]) -> None:
        """Handle ``events`` in order, as :meth:`__call__` would one by one (the bus's batch handler).

        A stretch of trades that would change nothing but the last price and the
        time (no order waiting for trades, no arrival or mark due, the strategy not
        called on trades, no analyzer output) is counted at once; one for a strategy
        with only ``on_trade`` (no analyzers) goes through a loop that calls it
        with nothing else around (:meth:`_plain`). An error of the
        engine's own (not the strategy's) stops the run as a strategy's does:
        through the bus it would skip the rest of the chunk.
        """
        index, end = 0, len(events)
        while index < end and self.error is None:
            if self._plain_trades is not None:
                index = self._plain(events, index, end)
            else:
                index = self._quiet(events, index, end)
            if index < end and self.error is None:
                event = events[index]
                index += 1
                try:
                    self(event)
                except Exception as exc:
                    self._engine_failed(exc, event)

    def _plain(self, events: list[Event], start: int, stop: int) -> int:
        """Hand the strategy's ``on_trade`` the trades from ``start`` that need nothing else (one stream, no
        order waiting for trades, no arrival or mark due): what :meth:`__call__` does for them, minus its
        checks; the index of the first event not handled."""
        # The backtest's hot loop. No order waits for trades during the stretch: only an arrival (not
        # within it) or the venue's fills change that, never what the strategy calls.
        venue = self.venue
        if venue.waiting:
            return start
        on_trade, prices, stream = self._plain_trades, venue.last_prices, events[start].stream
        assert on_trade is not None
        symbol = self._symbols.get(stream) or self._symbol_of(stream)
        for index in range(start, stop):
            event = events[index]
            payload, ts = event.payload, event.ts_event
            if payload.__class__ is not Trade or ts >= self._due or event.causation is not None:
                return index
            if event.stream != stream:
                return index
            self.now_ns = ts
            self._cause = event.position
            prices[symbol] = payload.price
            try:
                on_trade(event, payload)
            except Exception as exc:
                self._failed(exc, event)
                self._flush_after(event)
                return index + 1
            if self._out:
                self._flush_after(event)
                if self.error is not None:
                    return index + 1
        return stop

    def _flush_after(self, event: Event) -> None:
        """Send what handling ``event`` derived; a failure of the output stops the run as the engine's."""
        try:
            self._flush()
        except Exception as exc:
            self._engine_failed(exc, event)

    def _quiet(self, events: list[Event], start: int, stop: int) -> int:
        """The end of the stretch of trades from ``start`` that would only move the last price and the time
        (see :meth:`handle_many`), those trades counted; ``start`` when there is none."""
        first = events[start]
        if (
            first.payload.__class__ is not Trade or first.causation is not None or not self._opened
            or self._on_trade_event is not None or self._plain_trades is not None or self.venue.waiting
        ):  # fmt: skip
            return start
        stream, due, end = first.stream, self._due, start
        for event in islice(events, start, stop):
            if event.payload.__class__ is not Trade or event.ts_event >= due or event.causation is not None:
                break
            if event.stream != stream:
                break
            end += 1
        if self._pipeline is not None and end > start:
            end = self._pipeline.absorb(events, start, end)
        if end > start:
            last = events[end - 1]
            self.now_ns, self._cause = last.ts_event, last.position
            self.venue.last_prices[self._symbols.get(stream) or self._symbol_of(stream)] = last.payload.price  # type: ignore[attr-defined]
        return end

    def _handle(self, event: Event) -> None:
        """Any event: the venue, the analyzers, then the strategy on the event and on their outputs."""
        payload = event.payload
        cls = payload.__class__
        venue = self.venue
        if cls is Trade:
            symbol = self._symbol_of(event.stream)
            venue.last_prices[symbol] = payload.price  # type: ignore[attr-defined]
            if venue.waiting:
                venue.on_trade(symbol, payload, event.ts_event)  # type: ignore[arg-type]
        elif cls is BookDelta or cls is BookSnapshot:
            venue.on_book(self._symbol_of(event.stream), event)
        elif cls is Bar:
            venue.on_bar(self._symbol_of(event.stream), payload)  # type: ignore[arg-type]
        elif cls is MarketsLoaded:
            venue.on_markets(payload)  # type: ignore[arg-type]
        if self.error is not None:  # on_fill raised while the venue filled
            return
        if not self._opened:
            self._first_event_done(event.ts_event)
        derived = self._pipeline(event) if self._pipeline is not None else None
        handler = self._dispatch.get(cls)
        if handler is not None:
            handler(event)
        if derived:
            self._react(derived, event.position)

    def _first_event_done(self, ts: int) -> None:
        """Send what ``on_start`` ordered (as if from the first event's callback); open the fast path."""
        early, self._early = self._early, []
        for order in early:
            order.submitted_ns = order.arrives_ns = ts
            self.venue.submit(order)
            self._due = min(self._due, self.venue.next_arrival)
        self._plain_trades = self._fast_trades
        self._opened = True

    def _react(self, derived: Sequence[Event], position: int) -> None:
        """Hand the analyzers' outputs for the event at ``position`` to the strategy."""
        for output in derived:
            caused = output if output.causation is not None else replace(output, causation=position)
            self._out.append(caused)
            handler = self._dispatch.get(caused.payload.__class__)
            if handler is not None:
                handler(caused)

    def _guarded(self, call: Callable[[], object], where: str = "") -> None:
        try:
            call()
        except Exception as exc:
            self._failed(exc, None, where)

    def _failed(self, exc: Exception, event: Event | None, where: str = "") -> None:
        if event is not None:
            where = f" on event {event.position} ({event.type}, {event.stream})"
        name = type(self.strategy).__name__
        self.error = StrategyError(f"strategy {name} raised{where}: {type(exc).__name__}: {exc}")
        self.error.__cause__ = exc
        if self.on_error is not None:
            self.on_error()

    def _engine_failed(self, exc: Exception, event: Event) -> None:
        where = f"event {event.position} ({event.type}, {event.stream})"
        self.error = BacktestError(f"the backtest engine failed on {where}: {type(exc).__name__}: {exc}")
        self.error.__cause__ = exc
        if self.on_error is not None:
            self.on_error()

    def _advance(self, ts: int) -> None:
        """Order arrivals up to ``ts`` and equity marks before it, in time order: a mark at ``B`` is
        taken once every event and arrival at or before ``B`` has happened."""
        if self._next_mark < 0:
            self._next_mark = ts
        venue = self.venue
        while True:
            arrival, mark = venue.next_arrival, self._next_mark
            if arrival <= ts and arrival <= mark:
                self.now_ns = arrival
                venue.arrive_next()
            elif mark < ts:
                self._mark(mark)
                self._next_mark = mark + self._interval
            else:
                self._due = min(mark + 1, arrival)
                return

    def _mark(self, ts: int) -> None:
        self._last_mark = ts
        self._emit(EQUITY_STREAM, ts, self._equity())

    def _equity(self) -> EquityMarked:
        prices = self.venue.prices()
        positions = {s: p.amount for s, p in self.portfolio.positions.items()}
        marked = {s: prices[s] for s in sorted({self.symbol, *positions}) if s in prices}
        portfolio = self.portfolio
        return EquityMarked(
            portfolio.equity(prices), portfolio.cash, marked, positions,
            portfolio.realized_pnl, portfolio.unrealized_pnl(prices),
        )  # fmt: skip

    # -- what the strategy calls ---------------------------------------------------------

    def submit(self, side: Side, amount: float, price: float | None, symbol: str, time_in_force: TimeInForce) -> str:
        """Send an order from the strategy; its id."""
        if side not in _SIDES:
            raise UsageError(f"side must be 'buy' or 'sell', not {side!r}")
        if time_in_force not in _TIFS:
            raise UsageError(f"time_in_force must be one of {', '.join(_TIFS)}, not {time_in_force!r}")
        kind: OrderKind = "market" if price is None else "limit"
        order_id = f"o{next(self._ids)}"
        order = Order(order_id, symbol, side, kind, float(amount), price, time_in_force, self.now_ns, self.now_ns)
        if not self._opened and self._cause is None:  # on_start: no exchange time before the first event
            self._early.append(order)
            return order_id
        self.venue.submit(order)
        self._due = min(self._due, self.venue.next_arrival)
        return order_id

    def cancel(self, order_id: str) -> None:
        """Send a cancel of an open order (unknown or finished orders raise :class:`UsageError`)."""
        order = self.venue.order(order_id)
        if order is None:
            raise UsageError(f"no open order {order_id!r} to cancel")
        self.venue.cancel(order, self.now_ns)
        self._due = min(self._due, self.venue.next_arrival)

    # -- plumbing ------------------------------------------------------------------------

    def _symbol_of(self, stream: str) -> str:
        symbol = self._symbols.get(stream)
        if symbol is None:
            parts = stream.split(":")
            symbol = self._symbols[stream] = parts[1] if len(parts) >= 3 else ""
        return symbol

    def _emit(self, stream: str, ts: int, payload: Payload) -> None:
        event = Event("", stream, ts, ts, "", payload, causation=self._cause)
        self.ledger.append(event)
        self._out.append(event)

    def _on_fill(self, fill: OrderFilled) -> None:
        # Guarded here, inside the venue's work: an exception must not leave a fill half booked.
        if self.error is None:
            on_fill = self._timed(self.strategy.on_fill)
            self._guarded(lambda: on_fill(fill), f" in on_fill (order {fill.order_id})")

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` (a strategy's), charged to the ``strategy`` stage when benchmarking."""
        return call if self._timer is None else self._timer.wrap("strategy", call)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and self._output is not None:
            self._output(out)


def _overrides(strategy: Strategy, name: str) -> bool:
    return getattr(type(strategy), name) is not getattr(Strategy, name)


_VENUE_CALLS = ("submit", "cancel", "arrive_next", "on_trade", "on_markets", "on_bar", "on_book")
"""The venue's methods the engine calls per event or per order (what ``venue`` is charged with)."""


def _time_venue(venue: SimulatedVenue, timer: StageTimer) -> None:
    # Instance attributes shadow the methods for this engine's venue alone: the classes stay as they are,
    # and a run without a timer never goes through a wrapper.
    for name in _VENUE_CALLS:
        setattr(venue, name, timer.wrap("venue", getattr(venue, name)))


def _dispatcher(
    strategy: Strategy,
    venue: SimulatedVenue,
    symbol_of: Callable[[str], str],
    timed: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> dict[type, Callable[[Event], Any]]:
    """Per payload class, the strategy call an event of it makes (classes the strategy ignores are left out,
    so that a trade-only strategy costs nothing on book updates); ``timed`` wraps each strategy call."""
    table = _strategy_calls(strategy, venue, symbol_of)
    if isinstance(table, _Always):
        return _Always(timed(table.handler))
    return {cls: timed(call) for cls, call in table.items()}


def _strategy_calls(
    strategy: Strategy, venue: SimulatedVenue, symbol_of: Callable[[str], str]
) -> dict[type, Callable[[Event], Any]]:
    if _overrides(strategy, "on_event"):
        return _Always(strategy.on_event)
    table: dict[type, Callable[[Event], Any]] = {}
    if _overrides(strategy, "on_trade"):
        on_trade = strategy.on_trade
        table[Trade] = lambda event: on_trade(event, event.payload)  # type: ignore[arg-type]
    if _overrides(strategy, "on_bar"):
        table[Bar] = lambda event: strategy.on_bar(event, event.payload)  # type: ignore[arg-type]
    if _overrides(strategy, "on_book"):

        def on_book(event: Event) -> None:
            book = venue.book(symbol_of(event.stream))
            if book is not None:
                strategy.on_book(event, book)

        table[BookSnapshot] = table[BookDelta] = on_book
    if _overrides(strategy, "on_signal"):
        for cls in (Signal, ConfluenceScore, IndicatorValue):
            table[cls] = lambda event: strategy.on_signal(event, event.payload)  # type: ignore[arg-type]
    return table


class _Always(dict[type, Callable[[Event], Any]]):
    """A dispatch table answering ``handler`` for every class (a strategy overriding ``on_event``)."""

    def __init__(self, handler: Callable[[Event], Any]) -> None:
        super().__init__()
        self.handler = handler

    def get(self, key: type, default: Any = None) -> Callable[[Event], Any]:
        return self.handler
