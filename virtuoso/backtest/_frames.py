"""A backtest run's ledger as DataFrames: its orders, fills, positions and equity marks.

:func:`ledger_frames` reads the order, portfolio and equity events of a run (in
event order, every other type ignored) and builds four frames from column lists.
Times come twice: as UTC ``datetime64[ns, UTC]`` for people and plots, and as
``int64`` nanoseconds (``*_ns``) for exact arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from virtuoso.events import Event
from virtuoso.events._orders import (
    EquityMarked,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)

UTC_NS = "datetime64[ns, UTC]"

ORDER_COLUMNS: dict[str, str] = {
    "order_id": "str",
    "symbol": "str",
    "side": "str",
    "kind": "str",
    "amount": "float64",
    "price": "float64",
    "time_in_force": "str",
    "submitted": UTC_NS,
    "submitted_ns": "int64",
    "arrives_ns": "int64",
    "status": "str",
    "filled": "float64",
    "average_price": "float64",
    "fees": "float64",
    "reason": "str",
}
"""The ``orders`` frame's columns and dtypes, in order."""

FILL_COLUMNS: dict[str, str] = {
    "ts": UTC_NS,
    "ts_ns": "int64",
    "order_id": "str",
    "symbol": "str",
    "side": "str",
    "price": "float64",
    "amount": "float64",
    "fee": "float64",
    "liquidity": "str",
    "remaining": "float64",
    "notional": "float64",
}
"""The ``fills`` frame's columns and dtypes, in order."""

POSITION_COLUMNS: dict[str, str] = {
    "ts": UTC_NS,
    "ts_ns": "int64",
    "symbol": "str",
    "amount": "float64",
    "average_price": "float64",
    "realized_pnl": "float64",
    "cash": "float64",
    "fees": "float64",
}
"""The ``positions`` frame's columns and dtypes, in order."""


@dataclass(frozen=True, eq=False)
class Frames:
    """The ledger of one backtest run (see :func:`ledger_frames` for the columns)."""

    orders: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    equity: pd.DataFrame

    def symbols(self) -> list[str]:
        """The symbols the equity marks price (sorted), else those filled."""
        marked = [c.removeprefix("price:") for c in self.equity.columns if c.startswith("price:")]
        return marked or sorted(set(self.fills["symbol"]))


@dataclass
class _Order:
    """An order as its events leave it."""

    submitted: OrderSubmitted
    ts_ns: int
    status: str = "open"
    filled: float = 0.0
    notional: float = 0.0
    fees: float = 0.0
    reason: str = ""

    def row(self) -> dict[str, Any]:
        s = self.submitted
        return {
            "order_id": s.order_id,
            "symbol": s.symbol,
            "side": s.side,
            "kind": s.kind,
            "amount": s.amount,
            "price": math.nan if s.price is None else s.price,
            "time_in_force": s.time_in_force,
            "submitted_ns": self.ts_ns,
            "arrives_ns": s.arrives_ns,
            "status": self.status,
            "filled": self.filled,
            "average_price": self.notional / self.filled if self.filled > 0 else math.nan,
            "fees": self.fees,
            "reason": self.reason,
        }


@dataclass
class _Ledger:
    """Collects the rows of the four frames while the events stream by."""

    orders: dict[str, _Order] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[int, EquityMarked]] = field(default_factory=list)

    def submitted(self, ts_ns: int, p: OrderSubmitted) -> None:
        self.orders.setdefault(p.order_id, _Order(p, ts_ns))

    def filled(self, ts_ns: int, p: OrderFilled) -> None:
        notional = p.price * p.amount
        self.fills.append({
            "ts_ns": ts_ns, "order_id": p.order_id, "symbol": p.symbol, "side": p.side, "price": p.price,
            "amount": p.amount, "fee": p.fee, "liquidity": p.liquidity, "remaining": p.remaining, "notional": notional,
        })  # fmt: skip
        order = self.orders.get(p.order_id)
        if order is not None:
            order.filled += p.amount
            order.notional += notional
            order.fees += p.fee
            order.status = "filled" if p.remaining <= 0 else order.status

    def canceled(self, _ts_ns: int, p: OrderCanceled) -> None:
        self._close(p.order_id, "canceled", p.reason)

    def rejected(self, _ts_ns: int, p: OrderRejected) -> None:
        self._close(p.order_id, "rejected", p.reason)

    def _close(self, order_id: str, status: str, reason: str) -> None:
        order = self.orders.get(order_id)
        if order is not None:
            order.status, order.reason = status, reason

    def position(self, ts_ns: int, p: PositionChanged) -> None:
        self.positions.append({
            "ts_ns": ts_ns, "symbol": p.symbol, "amount": p.amount, "average_price": p.average_price,
            "realized_pnl": p.realized_pnl, "cash": p.cash, "fees": p.fees,
        })  # fmt: skip

    def marked(self, ts_ns: int, p: EquityMarked) -> None:
        self.marks.append((ts_ns, p))


_HANDLERS: dict[type, Callable[[_Ledger, int, Any], None]] = {
    OrderSubmitted: _Ledger.submitted,
    OrderFilled: _Ledger.filled,
    OrderCanceled: _Ledger.canceled,
    OrderRejected: _Ledger.rejected,
    PositionChanged: _Ledger.position,
    EquityMarked: _Ledger.marked,
}


def ledger_frames(events: Iterable[Event]) -> Frames:
    """The orders, fills, positions and equity frames of a backtest run's events.

    Events of other types are ignored; the order of ``events`` is the ledger's
    order. Empty input gives empty frames with the same columns and dtypes.

    >>> from virtuoso.events import Event
    >>> from virtuoso.events._orders import EquityMarked
    >>> mark = EquityMarked(1000.0, 1000.0, {"BTC/USDT": 100.0}, {"BTC/USDT": 0.0})
    >>> frames = ledger_frames([Event("m1", "backtest:equity", 0, 0, "run", mark)])
    >>> list(frames.equity.columns)
    ['ts_ns', 'equity', 'cash', 'realized_pnl', 'unrealized_pnl', 'price:BTC/USDT', 'position:BTC/USDT']
    >>> len(frames.orders), len(frames.fills)
    (0, 0)
    """
    ledger = _Ledger()
    for event in events:
        handler = _HANDLERS.get(type(event.payload))
        if handler is not None:
            handler(ledger, event.ts_event, event.payload)
    return Frames(
        orders=_frame([o.row() for o in ledger.orders.values()], ORDER_COLUMNS, time="submitted"),
        fills=_frame(ledger.fills, FILL_COLUMNS),
        positions=_frame(ledger.positions, POSITION_COLUMNS),
        equity=_equity_frame(ledger.marks),
    )


def utc(ns: Iterable[int] | np.ndarray) -> pd.DatetimeIndex:
    """Nanoseconds since the epoch as a UTC ``DatetimeIndex``."""
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ns, dtype=np.int64), unit="ns", utc=True))


def _frame(rows: list[dict[str, Any]], schema: dict[str, str], time: str = "ts") -> pd.DataFrame:
    """A frame of ``schema``'s columns from rows of every column but ``time`` (made from ``<time>_ns``)."""
    columns: dict[str, Any] = {}
    for name, dtype in schema.items():
        if name == time:
            columns[name] = utc([row[f"{name}_ns"] for row in rows])
        else:
            columns[name] = pd.Series([row[name] for row in rows], dtype=dtype)
    return pd.DataFrame(columns)


def _equity_frame(marks: list[tuple[int, EquityMarked]]) -> pd.DataFrame:
    """Equity marks indexed by UTC time: ts_ns, equity, cash, realized and unrealized PnL, then ``price:<s>``
    and ``position:<s>`` per symbol."""
    symbols = sorted({s for _, m in marks for s in (*m.prices, *m.positions)})
    columns: dict[str, Any] = {
        "ts_ns": np.array([ts for ts, _ in marks], dtype=np.int64),
        "equity": np.array([m.equity for _, m in marks], dtype=np.float64),
        "cash": np.array([m.cash for _, m in marks], dtype=np.float64),
        "realized_pnl": np.array([m.realized_pnl for _, m in marks], dtype=np.float64),
        "unrealized_pnl": np.array([m.unrealized_pnl for _, m in marks], dtype=np.float64),
    }
    for s in symbols:
        columns[f"price:{s}"] = np.array([m.prices.get(s, math.nan) for _, m in marks], dtype=np.float64)
    for s in symbols:
        columns[f"position:{s}"] = np.array([m.positions.get(s, 0.0) for _, m in marks], dtype=np.float64)
    index = utc(columns["ts_ns"]).rename("ts")
    return pd.DataFrame(columns, index=index)
