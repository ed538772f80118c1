"""Build a backtest run's ledger events by hand, the way the engine emits them."""

from __future__ import annotations

from dataclasses import dataclass, field

from virtuoso.events import Event, Payload
from virtuoso.events._orders import (
    EquityMarked,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)

BTC = "BTC/USDT"
ETH = "ETH/USDT"
T0 = 1_723_161_600_000_000_000
"""2024-08-09 00:00:00 UTC in ns."""
MINUTE = 60_000_000_000


@dataclass
class Ledger:
    """Appends events with ids e1, e2, ... on the streams a backtest run uses."""

    session: str = "run-1"
    events: list[Event] = field(default_factory=list)

    def add(self, stream: str, ts_ns: int, payload: Payload) -> Event:
        event = Event(f"e{len(self.events) + 1}", stream, ts_ns, ts_ns, self.session, payload)
        self.events.append(event)
        return event

    def submit(
        self,
        ts: int,
        order_id: str,
        side: str,
        amount: float,
        price: float | None = None,
        *,
        symbol: str = BTC,
        tif: str = "GTC",
    ) -> None:
        kind = "market" if price is None else "limit"
        order = OrderSubmitted(order_id, symbol, side, kind, amount, price, tif, ts + 1_000)  # type: ignore[arg-type]
        self.add(f"backtest:{symbol}:orders", ts, order)

    def accept(self, ts: int, order_id: str, symbol: str = BTC) -> None:
        self.add(f"backtest:{symbol}:orders", ts, OrderAccepted(order_id, symbol))

    def fill(
        self,
        ts: int,
        order_id: str,
        side: str,
        price: float,
        amount: float,
        *,
        fee: float = 0.0,
        remaining: float = 0.0,
        symbol: str = BTC,
        liquidity: str = "taker",
    ) -> None:
        payload = OrderFilled(order_id, symbol, side, price, amount, fee, liquidity, remaining)  # type: ignore[arg-type]
        self.add(f"backtest:{symbol}:orders", ts, payload)

    def cancel(self, ts: int, order_id: str, remaining: float, reason: str, symbol: str = BTC) -> None:
        self.add(f"backtest:{symbol}:orders", ts, OrderCanceled(order_id, symbol, remaining, reason))

    def reject(self, ts: int, order_id: str, reason: str, symbol: str = BTC) -> None:
        self.add(f"backtest:{symbol}:orders", ts, OrderRejected(order_id, symbol, reason))

    def position(
        self,
        ts: int,
        amount: float,
        average_price: float,
        realized: float,
        *,
        cash: float,
        fees: float,
        symbol: str = BTC,
    ) -> None:
        payload = PositionChanged(symbol, amount, average_price, realized, cash, fees)
        self.add(f"backtest:{symbol}:positions", ts, payload)

    def mark(
        self,
        ts: int,
        equity: float,
        cash: float,
        prices: dict[str, float] | None = None,
        positions: dict[str, float] | None = None,
    ) -> None:
        self.add("backtest:equity", ts, EquityMarked(equity, cash, prices or {}, positions or {}))

    def marks(self, equity: list[float], step: int = MINUTE) -> None:
        """Equity marks (all cash, no position) one ``step`` apart from T0."""
        for i, value in enumerate(equity):
            self.mark(T0 + i * step, value, value)


def round_trip() -> Ledger:
    """Buy 1 BTC @100 (fee 0.1), sell it @110 (fee 0.11), from 1000 cash; marked each minute."""
    ledger = Ledger()
    ledger.mark(T0, 1000.0, 1000.0, {BTC: 100.0}, {})
    ledger.submit(T0, "o1", "buy", 1.0)
    ledger.fill(T0 + 1_000, "o1", "buy", 100.0, 1.0, fee=0.1)
    ledger.position(T0 + 1_000, 1.0, 100.0, 0.0, cash=899.9, fees=0.1)
    ledger.mark(T0 + MINUTE, 999.9, 899.9, {BTC: 100.0}, {BTC: 1.0})
    ledger.mark(T0 + 2 * MINUTE, 1004.9, 899.9, {BTC: 105.0}, {BTC: 1.0})
    ledger.submit(T0 + 2 * MINUTE, "o2", "sell", 1.0)
    ledger.fill(T0 + 2 * MINUTE + 1_000, "o2", "sell", 110.0, 1.0, fee=0.11)
    ledger.position(T0 + 2 * MINUTE + 1_000, 0.0, 0.0, 10.0, cash=1009.79, fees=0.21)
    ledger.mark(T0 + 3 * MINUTE, 1009.79, 1009.79, {BTC: 110.0}, {BTC: 0.0})
    return ledger
