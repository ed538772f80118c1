"""Backtest payloads: a strategy's orders, the simulated venue's answers, and the portfolio they move.

Every one of them goes to the backtest run's session in the log (streams
``backtest:<symbol>:orders``, ``backtest:<symbol>:positions`` and
``backtest:equity``), so a backtest can be inspected and replayed like any
recording. Amounts are in the base currency, prices and cash in the quote
currency; ``ts_event`` of the envelope is the exchange time it happened at.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from virtuoso.events._market import Side
from virtuoso.events._registry import Payload, event_type

OrderKind = Literal["market", "limit"]
TimeInForce = Literal["GTC", "IOC", "post-only"]
"""``GTC`` rests until filled or canceled; ``IOC`` fills what it can at once and cancels the rest;
``post-only`` rests, and is rejected when it would take liquidity."""
Liquidity = Literal["maker", "taker"]


@event_type
class OrderSubmitted(Payload, frozen=True, gc=False):
    """A strategy sent an order; it reaches the venue at ``arrives_ns`` (after the latency)."""

    TYPE: ClassVar[str] = "OrderSubmitted"
    TOPIC: ClassVar[str] = "order.submitted"

    order_id: str
    symbol: str
    side: Side
    kind: OrderKind
    amount: float
    price: float | None
    time_in_force: TimeInForce
    arrives_ns: int


@event_type
class OrderAccepted(Payload, frozen=True, gc=False):
    """The venue took the order: it fills now, or rests on the book."""

    TYPE: ClassVar[str] = "OrderAccepted"
    TOPIC: ClassVar[str] = "order.accepted"

    order_id: str
    symbol: str


@event_type
class OrderFilled(Payload, frozen=True, gc=False):
    """Part (or the rest) of an order filled at ``price``; ``fee`` (quote currency, never negative)."""

    TYPE: ClassVar[str] = "OrderFilled"
    TOPIC: ClassVar[str] = "order.filled"

    order_id: str
    symbol: str
    side: Side
    price: float
    amount: float
    fee: float
    liquidity: Liquidity
    remaining: float
    """What is left of the order after this fill (0: filled)."""


@event_type
class OrderCanceled(Payload, frozen=True, gc=False):
    """The rest of an order will not fill: the strategy canceled it, or the venue did (and why)."""

    TYPE: ClassVar[str] = "OrderCanceled"
    TOPIC: ClassVar[str] = "order.canceled"

    order_id: str
    symbol: str
    remaining: float
    reason: str


@event_type
class OrderRejected(Payload, frozen=True, gc=False):
    """The venue refused the order (insufficient cash, under the minimum size, off the tick grid, ...)."""

    TYPE: ClassVar[str] = "OrderRejected"
    TOPIC: ClassVar[str] = "order.rejected"

    order_id: str
    symbol: str
    reason: str


@event_type
class PositionChanged(Payload, frozen=True, gc=False):
    """The position in ``symbol`` after a fill, with the cash and the totals it leaves."""

    TYPE: ClassVar[str] = "PositionChanged"
    TOPIC: ClassVar[str] = "portfolio.position"

    symbol: str
    amount: float
    average_price: float
    """Average entry price of the open position (0 when flat)."""
    realized_pnl: float
    """PnL realized in ``symbol`` so far, before fees."""
    cash: float
    fees: float
    """Fees paid so far, every symbol."""


@event_type
class EquityMarked(Payload, frozen=True, gc=False):
    """The portfolio marked to market at ``ts_event``: cash plus each position at its last price."""

    TYPE: ClassVar[str] = "EquityMarked"
    TOPIC: ClassVar[str] = "portfolio.equity"

    equity: float
    cash: float
    prices: dict[str, float] = msgspec.field(default_factory=dict)
    """The last traded price of each symbol the portfolio marks."""
    positions: dict[str, float] = msgspec.field(default_factory=dict)
    """The amount held of each symbol (0 included once traded)."""
    realized_pnl: float = 0.0
    """PnL realized so far, every symbol, before fees."""
    unrealized_pnl: float = 0.0
    """What the open positions would realize at ``prices``: amount x (price - average entry price)."""
