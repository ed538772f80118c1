"""Performance metrics of a backtest run, from its ledger frames (definitions in docs/backtest-results.md).

Returns are taken between consecutive equity marks, one period being the run's
mark interval of exchange time; crypto trades around the clock, so a year has
``365 * 24 * 3600 s / interval`` periods (no trading-day calendar). Metrics that
cannot be computed (too few marks, no variation, no losing trade) are ``None``,
which JSON writes as ``null``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from virtuoso.backtest._frames import Frames
from virtuoso.errors import UsageError

Metric = float | int | None

METRIC_KEYS: tuple[str, ...] = (
    "total_return",
    "annualized_return",
    "annualized_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_s",
    "win_rate",
    "profit_factor",
    "trades",
    "fills",
    "orders",
    "exposure",
    "turnover",
    "fees",
    "final_equity",
    "periods_per_year",
)
"""The keys of :func:`compute_metrics`, in the order it gives them."""

YEAR_NS = 365 * 24 * 3600 * 1_000_000_000
"""A calendar year of 365 days, in nanoseconds: the crypto market never closes."""

ROUND_TRIP_COLUMNS: dict[str, str] = {
    "symbol": "str",
    "side": "str",
    "opened_ns": "int64",
    "closed_ns": "int64",
    "amount": "float64",
    "pnl": "float64",
    "fees": "float64",
    "net_pnl": "float64",
}
"""The columns of :func:`round_trips`."""


def compute_metrics(frames: Frames, *, initial_cash: float, interval_ns: int) -> dict[str, Metric]:
    """The metrics of :data:`METRIC_KEYS` for a run's ledger.

    ``initial_cash`` is the portfolio's starting cash (quote currency) and
    ``interval_ns`` the time between equity marks (the return period).

    >>> from virtuoso.backtest._frames import ledger_frames
    >>> m = compute_metrics(ledger_frames([]), initial_cash=1000.0, interval_ns=60_000_000_000)
    >>> m["total_return"], m["sharpe"], m["trades"], m["periods_per_year"]
    (0.0, None, 0, 525600.0)
    """
    if initial_cash <= 0 or interval_ns <= 0:
        raise UsageError(f"metrics need initial_cash > 0 and interval_ns > 0, got {initial_cash} and {interval_ns}")
    ppy = YEAR_NS / interval_ns
    equity = frames.equity["equity"].to_numpy(np.float64)
    ts_ns = frames.equity["ts_ns"].to_numpy(np.int64)
    final = float(equity[-1]) if len(equity) else float(initial_cash)
    returns = np.diff(equity) / equity[:-1] if len(equity) > 1 else np.empty(0)
    drawdown, duration_ns = max_drawdown(equity, ts_ns)
    trips = round_trips(frames.fills)
    return {
        "total_return": final / initial_cash - 1.0,
        "annualized_return": annualized_return(final / initial_cash, ts_ns),
        **_risk(returns, ppy),
        "max_drawdown": drawdown,
        "max_drawdown_duration_s": duration_ns / 1e9,
        **_trade_stats(trips["net_pnl"].to_numpy(np.float64)),
        "fills": len(frames.fills),
        "orders": len(frames.orders),
        "exposure": exposure(frames.equity),
        "turnover": float(frames.fills["notional"].sum()) / initial_cash,
        "fees": float(frames.fills["fee"].sum()),
        "final_equity": final,
        "periods_per_year": ppy,
    }


def annualized_return(growth: float, ts_ns: np.ndarray) -> float | None:
    """``growth`` (final / initial) compounded to a year over the marks' time span; None when undefined."""
    if len(ts_ns) < 2 or ts_ns[-1] <= ts_ns[0] or growth < 0:
        return None
    try:
        return float(growth ** (YEAR_NS / float(ts_ns[-1] - ts_ns[0])) - 1.0)
    except OverflowError:  # a short run's gain compounded over a year does not fit a float
        return None


def _risk(returns: np.ndarray, ppy: float) -> dict[str, float | None]:
    """Annualized volatility, Sharpe and Sortino ratios (risk-free rate 0) of per-period returns."""
    if len(returns) < 2:
        return {"annualized_volatility": None, "sharpe": None, "sortino": None}
    mean = float(returns.mean())
    std = float(returns.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    scale = math.sqrt(ppy)
    return {
        "annualized_volatility": std * scale,
        "sharpe": mean / std * scale if std > 0 else None,
        "sortino": mean / downside * scale if downside > 0 else None,
    }


def max_drawdown(equity: np.ndarray, ts_ns: np.ndarray) -> tuple[float, int]:
    """The largest fall from a peak (a fraction) and the longest time below a peak (ns).

    A spell below the peak lasts from the peak's mark to the first mark back at or
    above it, or to the last mark when equity never recovers.
    """
    if not len(equity):
        return 0.0, 0
    peak = np.maximum.accumulate(equity)
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    under = equity < peak
    peak_ts = ts_ns[np.maximum.accumulate(np.where(under, 0, np.arange(len(equity))))]
    spells = ts_ns[1:][under[:-1]] - peak_ts[:-1][under[:-1]]
    longest = max(int(spells.max()) if len(spells) else 0, int(ts_ns[-1] - peak_ts[-1]) if under[-1] else 0)
    return float(fall.max()), longest


def exposure(equity: pd.DataFrame) -> float:
    """The share of marks holding a non-zero position in any symbol (0 without marks)."""
    held = equity[[c for c in equity.columns if c.startswith("position:")]].to_numpy(np.float64)
    if not len(held):
        return 0.0
    return float(np.mean((held != 0).any(axis=1)))


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

    def __post_init__(self) -> None:
        self.side = "long" if self.position > 0 else "short"
        self.peak = abs(self.position)

    def add(self, fill: _Fill) -> None:
        """Grow the position at the fill's price: the entry becomes the amount-weighted average."""
        size = abs(self.position) + abs(fill.signed)
        self.entry = (self.entry * abs(self.position) + fill.price * abs(fill.signed)) / size
        self.position += fill.signed
        self.fees += fill.fee
        self.peak = max(self.peak, size)

    def reduce(self, fill: _Fill) -> float:
        """Take the fill against the position (up to flat); what is left of the fill."""
        closing = min(abs(fill.signed), abs(self.position))
        self.pnl += closing * (fill.price - self.entry) * math.copysign(1.0, self.position)
        self.fees += fill.part(closing)
        self.position += math.copysign(closing, fill.signed)
        return abs(fill.signed) - closing

    def row(self, symbol: str, closed_ns: int) -> dict[str, object]:
        return {
            "symbol": symbol,
            "side": self.side,
            "opened_ns": self.opened_ns,
            "closed_ns": closed_ns,
            "amount": self.peak,
            "pnl": self.pnl,
            "fees": self.fees,
            "net_pnl": self.pnl - self.fees,
        }


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """The closed round trips of ``fills`` (frame of :func:`ledger_frames`), in the order they close.

    A trip opens when a symbol's position leaves 0 and closes when it is back at 0.
    A fill that flips the position closes the trip with the part that reaches 0 and
    opens the next with the rest; its fee is split between them by amount. ``pnl``
    is the realized PnL at the average entry price, ``net_pnl`` is net of every fee
    of the trip's fills, ``amount`` the largest position held. Trips still open at
    the end are left out.
    """
    open_trips: dict[str, _Trip] = {}
    closed: list[dict[str, object]] = []
    columns = ("symbol", "ts_ns", "side", "amount", "price", "fee")
    for symbol, ts_ns, side, amount, price, fee in zip(*(fills[c] for c in columns), strict=True):
        signed = float(amount) if side == "buy" else -float(amount)
        if signed:
            closed.extend(_apply(open_trips, _Fill(str(symbol), int(ts_ns), signed, float(price), float(fee))))
    return pd.DataFrame({n: pd.Series([t[n] for t in closed], dtype=d) for n, d in ROUND_TRIP_COLUMNS.items()})


def _apply(trips: dict[str, _Trip], fill: _Fill) -> list[dict[str, object]]:
    """Apply one fill to its symbol's open trip; the row of the trip it closes, if any."""
    trip = trips.get(fill.symbol)
    if trip is None:
        trips[fill.symbol] = _Trip(fill.ts_ns, fill.signed, fill.price, fill.fee)
        return []
    if trip.position * fill.signed > 0:
        trip.add(fill)
        return []
    rest = trip.reduce(fill)
    if abs(trip.position) > _ZERO * abs(fill.signed):
        return []
    del trips[fill.symbol]
    if rest > _ZERO * abs(fill.signed):
        trips[fill.symbol] = _Trip(fill.ts_ns, math.copysign(rest, fill.signed), fill.price, fill.part(rest))
    return [trip.row(fill.symbol, fill.ts_ns)]


_ZERO = 1e-9
"""A position left this small, relative to the fill that brings it there, is flat (float sums of partial fills)."""


def _trade_stats(net_pnl: np.ndarray) -> dict[str, Metric]:
    """Round trip count, win rate and profit factor of the trips' net PnLs."""
    wins = net_pnl[net_pnl > 0].sum()
    losses = net_pnl[net_pnl < 0].sum()
    return {
        "win_rate": float(np.mean(net_pnl > 0)) if len(net_pnl) else None,
        "profit_factor": float(wins / -losses) if losses < 0 else None,
        "trades": len(net_pnl),
    }
