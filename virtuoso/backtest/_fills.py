"""Settlement: a fill's fee, the portfolio and order it moves, the events it makes; and what orders reserve."""

from __future__ import annotations

from collections.abc import Callable

from virtuoso.backtest._config import VenueConfig
from virtuoso.backtest._markets import Fees
from virtuoso.backtest._matching import walk_book
from virtuoso.backtest._orders import Order
from virtuoso.backtest._portfolio import Portfolio
from virtuoso.book import OrderBook
from virtuoso.events import Liquidity, OrderFilled, Payload

Emit = Callable[[str, int, Payload], None]
"""Where the venue's events go: ``emit(stream, ts_ns, payload)``."""

_DUST = 1e-9
"""Relative tolerance for comparing amounts that went through float sums."""


class Settlement:
    """Books fills into the portfolio and keeps what resting orders reserve, so that cash and position
    checks count what is already promised."""

    def __init__(
        self, config: VenueConfig, portfolio: Portfolio, emit: Emit, on_fill: Callable[[OrderFilled], object],
        fees: Callable[[str], Fees],
    ) -> None:  # fmt: skip
        self._fees = fees
        """The fee rates of a symbol now (configured, or recorded in the log)."""
        self._slippage = config.slippage_bps / 10_000
        self._allow_short = config.allow_short
        self._portfolio = portfolio
        self._emit = emit
        self._on_fill = on_fill
        self.reserved_cash = 0.0
        self._reserved_amount: dict[str, float] = {}
        self._taken: dict[str, dict[float, float]] = {}

    def taken(self, symbol: str) -> dict[float, float]:
        """What fills took from ``symbol``'s book levels since the book last updated them."""
        found = self._taken.get(symbol)
        if found is None:
            found = self._taken[symbol] = {}
        return found

    def fill(self, order: Order, price: float, amount: float, liquidity: Liquidity, now: int) -> None:
        """Fill ``amount`` of ``order`` at ``price``: fee, portfolio, events, then the strategy's callback."""
        fee = price * amount * self._fees(order.symbol)[liquidity]
        order.filled += amount
        if order.remaining <= _DUST * order.amount:
            order.filled, order.status = order.amount, "filled"
        if order.reserved:
            self._reserve(order, self._unit_reserve(order) * order.remaining if not order.done else 0.0)
        change = self._portfolio.apply_fill(order.symbol, order.side, price, amount, fee=fee)
        filled = OrderFilled(order.id, order.symbol, order.side, price, amount, fee, liquidity, order.remaining)
        self._emit(f"backtest:{order.symbol}:orders", now, filled)
        self._emit(f"backtest:{order.symbol}:positions", now, change)
        self._on_fill(filled)

    def reserve(self, order: Order, price: float | None = None) -> None:
        """Set aside what the rest of ``order`` needs: cash for a buy (at ``price``, else its limit, fees
        included), the amount for a sell."""
        self._reserve(order, self._unit_reserve(order, price) * order.remaining)

    def reserve_taker(self, order: Order, reference: float) -> None:
        """Set aside what ``order``, waiting for the next trade, needs: what the funds check counted."""
        price = order.price if order.price is not None else reference * (1 + self._slippage)
        self.reserve(order, price)

    def release(self, order: Order) -> None:
        """Give back what ``order`` had set aside."""
        self._reserve(order, 0.0)

    def _unit_reserve(self, order: Order, price: float | None = None) -> float:
        if not order.is_buy:
            return 1.0
        price = order.price if price is None else price
        assert price is not None  # market orders only wait for a trade, and give their reservation back first
        return price * (1 + max(self._fees(order.symbol).values()))

    def _reserve(self, order: Order, value: float) -> None:
        change = value - order.reserved
        order.reserved = value
        if order.is_buy:
            self.reserved_cash += change
        else:
            self._reserved_amount[order.symbol] = self._reserved_amount.get(order.symbol, 0.0) + change

    def funds_problem(self, order: Order, reference: float, book: OrderBook | None) -> str:
        """Why the portfolio cannot pay for ``order`` ("" when it can)."""
        if order.is_buy:
            needed = self._cost(order, reference, book)
            available = self._portfolio.cash - self.reserved_cash
            if needed > available * (1 + _DUST):
                return f"insufficient cash: needs {needed:.8g}, {available:.8g} available"
            return ""
        if self._allow_short:
            return ""
        available = self._portfolio.amount(order.symbol) - self._reserved_amount.get(order.symbol, 0.0)
        if order.amount > available * (1 + _DUST) + _DUST * order.amount:
            return f"insufficient position: sells {order.amount:.8g}, {available:.8g} available"
        return ""

    def cash_problem(self, order: Order, price: float) -> str:
        """Why the rest of buy ``order`` cannot be paid now at ``price`` as a taker ("" when it can)."""
        needed = price * order.remaining * (1 + self._fees(order.symbol)["taker"])
        available = self._portfolio.cash - self.reserved_cash
        if needed > available * (1 + _DUST):
            return f"insufficient cash at the fill price: needs {needed:.8g}, {available:.8g} available"
        return ""

    def _cost(self, order: Order, reference: float, book: OrderBook | None) -> float:
        """The most a buy can cost, fees included: the book walk, else the reference price with slippage."""
        fee = max(self._fees(order.symbol).values())
        if book is not None and book.best_ask is not None:
            walked = walk_book(book, self.taken(order.symbol), order, dry=True)
            if order.kind == "market" or order.time_in_force == "IOC":
                return sum(p * a for p, a in walked) * (1 + fee)
            rest = order.amount - sum(a for _, a in walked)
            assert order.price is not None
            return (sum(p * a for p, a in walked) + rest * order.price) * (1 + fee)
        price = order.price if order.price is not None else reference * (1 + self._slippage)
        return price * order.amount * (1 + fee)
