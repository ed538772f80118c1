"""Round trips: a run's fills grouped into trades that open when a position leaves 0 and close back at 0.

The one place round trips are made: the metrics count them, ``BacktestResult.round_trips``
shows them, the report lists them (columns in docs/backtest-results.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import numpy as np
import pandas as pd

from virtuoso.backtest._frames import UTC_NS, utc

ROUND_TRIP_COLUMNS: dict[str, str] = {
    "symbol": "str",
    "side": "str",
    "opened": UTC_NS,
    "closed": UTC_NS,
    "opened_ns": "int64",
    "closed_ns": "int64",
    "duration_s": "float64",
    "entry_price": "float64",
    "exit_price": "float64",
    "amount": "float64",
    "pnl": "float64",
    "fees": "float64",
    "net_pnl": "float64",
    "return": "float64",
    "mae": "float64",
    "mfe": "float64",
    "fills": "int64",
}
"""The columns of :func:`round_trips`, in order."""

_ZERO = 1e-9
"""A position left this small, relative to the fill that brings it there, is flat (float sums of partial fills)."""


class _Fill(NamedTuple):
    """One fill as a round trip sees it: the amount is signed (buy > 0, sell < 0)."""

    symbol: str
    ts_ns: int
    signed: float
    price: float
    fee: float

    def part(self, amount: float) -> float:
        """The share of this fill's fee that ``amount`` of it carries."""
        return self.fee * amount / abs(self.signed)


@dataclass
class _Trip:
    """The open round trip of one symbol."""

    opened_ns: int
    position: float
    entry: float
    fees: float
    side: str = ""
    pnl: float = 0.0
    peak: float = 0.0
    closed_amount: float = 0.0
    closed_notional: float = 0.0
    fills: int = 1
    prices: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.side = "long" if self.position > 0 else "short"
        self.peak = abs(self.position)
        self.prices.append(self.entry)

    def add(self, fill: _Fill) -> None:
        """Grow the position at the fill's price: the entry becomes the amount-weighted average."""
        size = abs(self.position) + abs(fill.signed)
        self.entry = (self.entry * abs(self.position) + fill.price * abs(fill.signed)) / size
        self.position += fill.signed
        self.fees += fill.fee
        self.peak = max(self.peak, size)
        self.fills += 1
        self.prices.append(fill.price)

    def reduce(self, fill: _Fill) -> float:
        """Take the fill against the position (up to flat); what is left of the fill."""
        closing = min(abs(fill.signed), abs(self.position))
        self.pnl += closing * (fill.price - self.entry) * math.copysign(1.0, self.position)
        self.fees += fill.part(closing)
        self.position += math.copysign(closing, fill.signed)
        self.closed_amount += closing
        self.closed_notional += closing * fill.price
        self.fills += 1
        self.prices.append(fill.price)
        return abs(fill.signed) - closing

    def row(self, symbol: str, closed_ns: int, marks: np.ndarray) -> dict[str, object]:
        net = self.pnl - self.fees
        adverse, favourable = _excursions(self.side, self.entry, np.concatenate([self.prices, marks]))
        return {
            "symbol": symbol, "side": self.side, "opened_ns": self.opened_ns, "closed_ns": closed_ns,
            "duration_s": (closed_ns - self.opened_ns) / 1e9, "entry_price": self.entry,
            "exit_price": self.closed_notional / self.closed_amount, "amount": self.peak, "pnl": self.pnl,
            "fees": self.fees, "net_pnl": net, "return": net / (self.entry * self.peak), "mae": adverse,
            "mfe": favourable, "fills": self.fills,
        }  # fmt: skip


def _excursions(side: str, entry: float, prices: np.ndarray) -> tuple[float, float]:
    """The worst (<= 0) and best (>= 0) price move from ``entry`` in the trip's favour, as fractions of it."""
    moves = (prices - entry) / entry * (1.0 if side == "long" else -1.0)
    return min(float(moves.min()), 0.0), max(float(moves.max()), 0.0)


class PricePath:
    """Each symbol's prices in time order, to look up those inside a trip.

    From the market's trades (``ts_ns, symbol, price``, as :class:`MarketData` holds
    them) when given, else from the equity marks' ``price:<symbol>`` columns.
    """

    def __init__(self, equity: pd.DataFrame | None = None, trades: pd.DataFrame | None = None) -> None:
        self.paths: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if trades is not None and len(trades):
            for symbol, group in trades.groupby("symbol", sort=True):
                ordered = group.sort_values("ts_ns", kind="stable")
                self.paths[str(symbol)] = (ordered["ts_ns"].to_numpy(np.int64), ordered["price"].to_numpy(np.float64))
        elif equity is not None:
            ts_ns = equity["ts_ns"].to_numpy(np.int64)
            for column in (c for c in equity.columns if c.startswith("price:")):
                self.paths[column.removeprefix("price:")] = (ts_ns, equity[column].to_numpy(np.float64))

    def between(self, symbol: str, start_ns: int, end_ns: int) -> np.ndarray:
        """The symbol's prices from ``start_ns`` to ``end_ns``, both included (NaN left out)."""
        ts_ns, prices = self.paths.get(symbol, (np.empty(0, np.int64), np.empty(0)))
        low, high = np.searchsorted(ts_ns, start_ns, side="left"), np.searchsorted(ts_ns, end_ns, side="right")
        chosen = prices[low:high]
        kept: np.ndarray = chosen[~np.isnan(chosen)]
        return kept


def round_trips(fills: pd.DataFrame, prices: PricePath | None = None) -> pd.DataFrame:
    """The closed round trips of ``fills`` (frame of :func:`ledger_frames`), in the order they close.

    A trip opens when a symbol's position leaves 0 and closes when it is back at 0.
    A fill that flips the position closes the trip with the part that reaches 0 and
    opens the next with the rest; its fee is split between them by amount. ``pnl``
    is the realized PnL at the average entry price, ``net_pnl`` is net of every fee
    of the trip's fills, ``amount`` the largest position held. ``mae``/``mfe`` (the
    worst and best move from the entry, as a fraction of the average entry) look at
    the trip's fill prices and the ``prices`` in between (the market's trades, or the
    equity marks: see :class:`PricePath`). Trips still open at the end are left out.
    """
    marks = prices or PricePath()
    rows = [trip.row(symbol, ts, marks.between(symbol, trip.opened_ns, ts)) for symbol, ts, trip in _closed(fills)]
    return _frame(rows)


def net_pnls(fills: pd.DataFrame) -> np.ndarray:
    """The ``net_pnl`` column of :func:`round_trips` alone (what the metrics need), without the rest of the rows."""
    return np.array([trip.pnl - trip.fees for _, _, trip in _closed(fills)], dtype=np.float64)


def _closed(fills: pd.DataFrame) -> Iterator[tuple[str, int, _Trip]]:
    """Each round trip of ``fills`` as it closes: its symbol, the closing fill's time, the trip."""
    open_trips: dict[str, _Trip] = {}
    columns = ("symbol", "ts_ns", "side", "amount", "price", "fee")
    for symbol, ts_ns, side, amount, price, fee in zip(*(fills[c] for c in columns), strict=True):
        signed = float(amount) if side == "buy" else -float(amount)
        if signed:
            fill = _Fill(str(symbol), int(ts_ns), signed, float(price), float(fee))
            trip = _apply(open_trips, fill)
            if trip is not None:
                yield fill.symbol, fill.ts_ns, trip


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for name, dtype in ROUND_TRIP_COLUMNS.items():
        if dtype == UTC_NS:
            columns[name] = utc([cast(int, row[f"{name}_ns"]) for row in rows])
        else:
            columns[name] = pd.Series([row[name] for row in rows], dtype=dtype)
    return pd.DataFrame(columns)


def _apply(trips: dict[str, _Trip], fill: _Fill) -> _Trip | None:
    """Apply one fill to its symbol's open trip; the trip it closes, if any."""
    trip = trips.get(fill.symbol)
    if trip is None:
        trips[fill.symbol] = _Trip(fill.ts_ns, fill.signed, fill.price, fill.fee)
        return None
    if trip.position * fill.signed > 0:
        trip.add(fill)
        return None
    rest = trip.reduce(fill)
    if abs(trip.position) > _ZERO * abs(fill.signed):
        return None
    del trips[fill.symbol]
    if rest > _ZERO * abs(fill.signed):
        trips[fill.symbol] = _Trip(fill.ts_ns, math.copysign(rest, fill.signed), fill.price, fill.part(rest))
    return trip
