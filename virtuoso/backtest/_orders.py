"""An order as the simulated venue tracks it while it lives (its history is the events in the log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from virtuoso.events import OrderKind, Side, TimeInForce

OrderStatus = Literal["sent", "open", "filled", "canceled", "rejected"]


@dataclass(slots=True)
class Order:
    """One order: what was asked, how much filled, and where it stands.

    ``queue_ahead`` is the volume the queue model (``fill_model = "queue"``)
    still expects to trade at the order's price before it; ``reserved`` the cash
    (buys) or amount (sells) set aside for the unfilled rest of a resting order.
    """

    id: str
    symbol: str
    side: Side
    kind: OrderKind
    amount: float
    price: float | None
    time_in_force: TimeInForce
    submitted_ns: int
    arrives_ns: int
    filled: float = 0.0
    status: OrderStatus = "sent"
    queue_ahead: float = 0.0
    reserved: float = 0.0

    @property
    def remaining(self) -> float:
        """The amount still to fill."""
        return self.amount - self.filled

    @property
    def is_buy(self) -> bool:
        """Whether it buys."""
        return self.side == "buy"

    @property
    def done(self) -> bool:
        """Filled, canceled or rejected."""
        return self.status in ("filled", "canceled", "rejected")
