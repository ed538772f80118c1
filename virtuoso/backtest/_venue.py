"""The SimulatedVenue: orders filled the way the market recorded in the log would have filled them.

- Orders (and cancels) reach the venue after the configured latency, in exchange time.
- A market order walks the recorded book when the symbol has one (price impact
  across levels, limited by the displayed sizes, less what earlier fills of ours
  took from a level since the book last updated it); without a book it fills at
  the next recorded trade's price, plus the slippage, against the order.
- A limit order that can trade at once takes liquidity like a market order, up to
  its price (post-only ones are rejected instead); the rest rests (GTC) or is
  canceled (IOC). A resting order fills, at its price, on later recorded trades
  strictly through it, for at most each trade's amount; the queue model also
  fills on trades at its price once the volume ahead of it has traded.
- Rejections name their reason: market rules, cash, position, no market data.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from itertools import count

from virtuoso.backtest._config import MarketRules, VenueConfig
from virtuoso.backtest._fills import Emit, Settlement
from virtuoso.backtest._markets import MarketRulebook
from virtuoso.backtest._matching import walk_book
from virtuoso.backtest._orders import Order
from virtuoso.backtest._portfolio import Portfolio
from virtuoso.book import BookBuilder, OrderBook
from virtuoso.events import (
    Bar,
    BookDelta,
    Event,
    MarketsLoaded,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    Trade,
)

_CANCEL = "cancel"
_NEVER = 2**63


class SimulatedVenue:
    """Books and last prices per symbol, and the orders on their way or resting.

    ``emit(stream, ts_ns, payload)`` receives every order and position event;
    ``on_fill`` each fill (the strategy's callback), after the portfolio took it.
    """

    def __init__(
        self, config: VenueConfig, portfolio: Portfolio, emit: Emit, on_fill: Callable[[OrderFilled], object],
        rng: random.Random,
    ) -> None:  # fmt: skip
        self.config = config
        self.last_prices: dict[str, float] = {}
        """The last recorded trade price of each symbol (the engine keeps it: see :meth:`on_trade`)."""
        self._bar_prices: dict[str, float] = {}
        self.waiting = 0
        """How many orders wait for trades (resting, or taking at the next trade): 0 spares
        :meth:`on_trade`."""
        self._books: dict[str, OrderBook] = {}
        self._builders: dict[str, BookBuilder] = {}
        self._latency = config.latency.sampler(rng)
        self.markets = MarketRulebook(config)
        """The market rules and fees in force (configured, recorded in the log, defaults)."""
        self._settle = Settlement(config, portfolio, emit, on_fill, self.markets.fees_for)
        self._emit = emit
        self._arrivals: list[tuple[int, int, str, Order]] = []
        self._seq = count()
        self._orders: dict[str, Order] = {}
        self._resting: dict[str, list[Order]] = {}
        self._takers: dict[str, list[Order]] = {}
        self.next_arrival = _NEVER
        """Exchange time of the next order or cancel to reach the venue."""

    # -- the strategy's side -------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Send ``order`` (``arrives_ns`` is set here, from the latency)."""
        order.arrives_ns = order.submitted_ns + self._latency()
        self._orders[order.id] = order
        self._emit(_orders(order.symbol), order.submitted_ns, _submitted(order))
        self._schedule(order.arrives_ns, "order", order)

    def cancel(self, order: Order, now_ns: int) -> None:
        """Send a cancel of ``order``; it takes effect when it arrives (if the order is still open then)."""
        self._schedule(now_ns + self._latency(), _CANCEL, order)

    def _schedule(self, when: int, what: str, order: Order) -> None:
        heapq.heappush(self._arrivals, (when, next(self._seq), what, order))
        self.next_arrival = self._arrivals[0][0]

    def order(self, order_id: str) -> Order | None:
        """The order of ``order_id``, while it is open or on its way."""
        return self._orders.get(order_id)

    def open_orders(self, symbol: str = "") -> list[Order]:
        """Orders not yet done, oldest first."""
        return [o for o in self._orders.values() if not symbol or o.symbol == symbol]

    def book(self, symbol: str) -> OrderBook | None:
        """The book of ``symbol`` as recorded up to now (``None`` before its first snapshot)."""
        return self._books.get(symbol)

    # -- arrivals ------------------------------------------------------------------------

    def arrive_next(self) -> None:
        """Deliver the next order or cancel on its way (at :attr:`next_arrival`)."""
        when, _, what, order = heapq.heappop(self._arrivals)
        self.next_arrival = self._arrivals[0][0] if self._arrivals else _NEVER
        if what == _CANCEL:
            self._cancel(order, when, "canceled by the strategy")
        elif not order.done:
            self._arrive(order, when)

    def _arrive(self, order: Order, now: int) -> None:
        reason = self._rejection(order)
        if reason:
            order.status = "rejected"
            self._forget(order)
            self._emit(_orders(order.symbol), now, OrderRejected(order.id, order.symbol, reason))
            return
        order.status = "open"
        self._emit(_orders(order.symbol), now, OrderAccepted(order.id, order.symbol))
        book = self._books.get(order.symbol)
        if book is not None and (book.best_ask if order.is_buy else book.best_bid) is not None:
            self._take_from_book(order, book, now)
        elif order.kind == "market" or self._crosses_last_trade(order):
            # held like a resting order's: two orders waiting for the same trade must not count the same funds
            self._settle.reserve_taker(order, self.last_prices[order.symbol])
            self._takers.setdefault(order.symbol, []).append(order)
            self.waiting += 1
        else:
            self._rest(order, now)

    def _take_from_book(self, order: Order, book: OrderBook, now: int) -> None:
        fills = walk_book(book, self._settle.taken(order.symbol), order)
        for price, amount in fills:
            self._settle.fill(order, price, amount, "taker", now)
        if order.done:
            self._forget(order)
        elif order.kind == "market" or order.time_in_force == "IOC":
            self._cancel(order, now, "no more displayed liquidity" if order.kind == "market" else "IOC rest")
        else:
            self._rest(order, now)

    def _crosses_last_trade(self, order: Order) -> bool:
        last = self.last_prices.get(order.symbol)
        if last is None or order.price is None:
            return False
        return last <= order.price if order.is_buy else last >= order.price

    def _rest(self, order: Order, now: int) -> None:
        if order.time_in_force == "IOC":
            self._cancel(order, now, "IOC rest")
            return
        book = self._books.get(order.symbol)
        if self.config.fill_model == "queue" and book is not None and order.price is not None:
            order.queue_ahead = book.size_at("bid" if order.is_buy else "ask", order.price)
        self._settle.reserve(order)
        self._resting.setdefault(order.symbol, []).append(order)
        self.waiting += 1

    def _cancel(self, order: Order, now: int, reason: str) -> None:
        if order.done:
            return
        order.status = "canceled"
        self._settle.release(order)
        self._forget(order)
        self._emit(_orders(order.symbol), now, OrderCanceled(order.id, order.symbol, order.remaining, reason))

    def _forget(self, order: Order) -> None:
        self._orders.pop(order.id, None)
        for table in (self._resting, self._takers):
            waiting = table.get(order.symbol)
            if waiting and order in waiting:
                waiting.remove(order)
                self.waiting -= 1

    # -- rules ---------------------------------------------------------------------------

    def _rejection(self, order: Order) -> str:
        """Why the venue refuses ``order`` now ("" if it does not)."""
        if self.markets.halted(order.symbol):
            return f"market {order.symbol} is not trading (inactive in the recorded markets)"
        rules = self.markets.rules_for(order.symbol)
        reference = self._reference_price(order)
        return (
            _shape_problem(order, rules)
            or ("" if reference is not None else f"no market data for {order.symbol} yet")
            or _notional_problem(order, rules, reference or 0.0)
            or self._post_only_problem(order)
            or self._settle.funds_problem(order, reference or 0.0, self._books.get(order.symbol))
        )

    def _reference_price(self, order: Order) -> float | None:
        if order.price is not None:
            return order.price
        book = self._books.get(order.symbol)
        best = None if book is None else (book.best_ask if order.is_buy else book.best_bid)
        return best[0] if best is not None else self.last_prices.get(order.symbol)

    def _post_only_problem(self, order: Order) -> str:
        if order.time_in_force != "post-only" or order.price is None:
            return ""
        book = self._books.get(order.symbol)
        best = None if book is None else (book.best_ask if order.is_buy else book.best_bid)
        crosses = (
            best is not None and (best[0] <= order.price if order.is_buy else best[0] >= order.price)
        ) or self._crosses_last_trade(order)
        return "post-only order would take liquidity" if crosses else ""

    # -- market data ---------------------------------------------------------------------

    def prices(self) -> dict[str, float]:
        """The price of each symbol: its last trade, else its last bar's close."""
        return {**self._bar_prices, **self.last_prices} if self._bar_prices else self.last_prices

    def on_trade(self, symbol: str, trade: Trade, now: int) -> None:
        """A recorded trade, after :attr:`last_prices` took its price: fills waiting takers, then resting
        orders it trades through."""
        if self._takers.get(symbol):
            self._fill_takers(self._takers[symbol], trade, now)
        resting = self._resting.get(symbol)
        if resting:
            self._fill_resting(resting, trade, now)

    def _fill_takers(self, takers: list[Order], trade: Trade, now: int) -> None:
        slip = self.config.slippage_bps / 10_000
        for order in list(takers):
            self._settle.release(order)
            price = trade.price * (1 + slip) if order.is_buy else trade.price * (1 - slip)
            if order.price is not None:
                if (trade.price > order.price) if order.is_buy else (trade.price < order.price):
                    takers.remove(order)
                    self.waiting -= 1
                    self._rest(order, now)
                    continue
                price = min(price, order.price) if order.is_buy else max(price, order.price)
            elif order.is_buy and (problem := self._settle.cash_problem(order, price)):
                # a market buy's price is only known now: the funds check at arrival used the last price
                self._cancel(order, now, problem)
                continue
            self._settle.fill(order, price, order.remaining, "taker", now)
            self._forget(order)

    def _fill_resting(self, resting: list[Order], trade: Trade, now: int) -> None:
        volume = trade.amount
        for order in list(resting):
            available = self._fillable(order, trade, volume)
            if available <= 0:
                continue
            amount = min(order.remaining, available)
            volume -= amount
            assert order.price is not None
            self._settle.fill(order, order.price, amount, "maker", now)
            if order.done:
                self._forget(order)

    def _fillable(self, order: Order, trade: Trade, volume: float) -> float:
        """What resting ``order`` may take of ``volume`` (the trade's amount less what filled ours before it):
        all of it on a trade strictly through its price; in the queue model, on a trade at its price, what
        is left once the volume displayed ahead of it has traded."""
        limit = order.price
        assert limit is not None
        if trade.price < limit if order.is_buy else trade.price > limit:
            return volume
        if self.config.fill_model != "queue" or trade.price != limit or (trade.side == "sell") != order.is_buy:
            return 0.0
        # the recorded trade went through the real queue, whatever our orders took of it: each one's queue
        # shrinks by all of it; our earlier fills at this price stand ahead too (they are out of ``volume``)
        ahead = min(order.queue_ahead, trade.amount)
        order.queue_ahead -= ahead
        return volume - ahead

    def on_markets(self, loaded: MarketsLoaded) -> None:
        """Recorded markets: their rules and fees apply to the orders arriving from now on."""
        self.markets.on_markets(loaded)

    def on_bar(self, symbol: str, bar: Bar) -> None:
        """A bar's close is the symbol's price while it has no recorded trade (bars never fill orders)."""
        self._bar_prices[symbol] = bar.close

    def on_book(self, symbol: str, event: Event) -> None:
        """A recorded book snapshot or delta, judged by the exchange's sync rules (see ``docs/book.md``):
        while the book is out of sync (before the first snapshot, after a break) the symbol has no book."""
        builder = self._builders.get(event.stream)
        if builder is None:
            builder = self._builders[event.stream] = BookBuilder.for_stream(event.stream)
        builder.apply(event)
        if not builder.in_sync:
            self._books.pop(symbol, None)
            return
        book = self._books[symbol] = builder.book
        taken = self._settle.taken(symbol)
        if taken:
            payload = event.payload
            if isinstance(payload, BookDelta):
                for price, _ in (*payload.bids, *payload.asks):
                    taken.pop(price, None)
            else:
                taken.clear()
        self._shrink_queues(symbol, book)

    def _shrink_queues(self, symbol: str, book: OrderBook) -> None:
        """The queue ahead of a resting order can only shrink to what the level still shows."""
        for order in self._resting.get(symbol, ()):
            if order.queue_ahead and order.price is not None:
                shown = book.size_at("bid" if order.is_buy else "ask", order.price)
                order.queue_ahead = min(order.queue_ahead, shown)


def _orders(symbol: str) -> str:
    return f"backtest:{symbol}:orders"


def _submitted(order: Order) -> OrderSubmitted:
    return OrderSubmitted(
        order.id, order.symbol, order.side, order.kind, order.amount, order.price, order.time_in_force,
        order.arrives_ns,
    )  # fmt: skip


def _off_grid(value: float, step: float) -> bool:
    if not step:
        return False
    units = value / step
    return abs(units - round(units)) > 1e-9 * max(1.0, abs(units))


def _shape_problem(order: Order, rules: MarketRules) -> str:
    if not (math.isfinite(order.amount) and order.amount > 0):
        return f"amount must be a positive number, not {order.amount}"
    if order.price is not None and not (math.isfinite(order.price) and order.price > 0):
        return f"price must be a positive number, not {order.price}"
    if _off_grid(order.amount, rules.amount_step):
        return f"amount {order.amount} is not a multiple of the amount step {rules.amount_step}"
    if order.price is not None and _off_grid(order.price, rules.tick_size):
        return f"price {order.price} is off the tick grid ({rules.tick_size})"
    if order.amount < rules.min_amount:
        return f"amount {order.amount} is under the market minimum {rules.min_amount}"
    return ""


def _notional_problem(order: Order, rules: MarketRules, reference: float) -> str:
    notional = order.amount * reference
    if notional < rules.min_notional:
        return f"notional {notional:.8g} is under the market minimum {rules.min_notional}"
    return ""
