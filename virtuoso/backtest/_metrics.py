"""Performance metrics of a backtest run, from its ledger frames (definitions in docs/backtest-results.md).

Returns are taken between consecutive equity marks, one period being the run's
mark interval of exchange time; crypto trades around the clock, so a year has
``365 * 24 * 3600 s / interval`` periods (no trading-day calendar). Metrics that
cannot be computed (too few marks, no variation, no losing trade) are ``None``,
which JSON writes as ``null``.

The short-span rule: a run whose marks span less than :data:`MIN_ANNUALIZED_SPAN_S`
(30 days) has no annualized figures (``annualized_return``,
``annualized_volatility``, ``sharpe``, ``sortino`` are ``None``) and
:func:`annualization` says ``"too short"``; ``span_s`` and ``mark_interval_s``
always travel with them. An 11-minute session compounded to a year turns a
0.1 % loss into -100 %: right by definition, useless to a reader.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from virtuoso.backtest._frames import Frames
from virtuoso.backtest._trips import net_pnls
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
    "span_s",
    "mark_interval_s",
)
"""The keys of :func:`compute_metrics`, in the order it gives them."""

MIN_ANNUALIZED_SPAN_S = 30 * 24 * 3600
"""Below this span of marks (30 days), annualized figures are ``None`` (see the module)."""

ANNUALIZED_KEYS = ("annualized_return", "annualized_volatility", "sharpe", "sortino")
"""The metrics the short-span rule withholds."""

YEAR_NS = 365 * 24 * 3600 * 1_000_000_000
"""A calendar year of 365 days, in nanoseconds: the crypto market never closes."""


def compute_metrics(frames: Frames, *, initial_cash: float, interval_ns: int) -> dict[str, Metric]:
    """The metrics of :data:`METRIC_KEYS` for a run's ledger.

    ``initial_cash`` is the portfolio's starting cash (quote currency) and
    ``interval_ns`` the time between equity marks (the return period).

    >>> from virtuoso.backtest._frames import ledger_frames
    >>> m = compute_metrics(ledger_frames([]), initial_cash=1000.0, interval_ns=60_000_000_000)
    >>> m["total_return"], m["sharpe"], m["trades"], m["periods_per_year"], m["span_s"]
    (0.0, None, 0, 525600.0, 0.0)
    """
    if initial_cash <= 0 or interval_ns <= 0:
        raise UsageError(f"metrics need initial_cash > 0 and interval_ns > 0, got {initial_cash} and {interval_ns}")
    ppy = YEAR_NS / interval_ns
    equity = frames.equity["equity"].to_numpy(np.float64)
    ts_ns = frames.equity["ts_ns"].to_numpy(np.int64)
    final = float(equity[-1]) if len(equity) else float(initial_cash)
    returns = np.diff(equity) / equity[:-1] if len(equity) > 1 else np.empty(0)
    drawdown, duration_ns = max_drawdown(equity, ts_ns)
    span_ns = int(ts_ns[-1] - ts_ns[0]) if len(ts_ns) else 0
    metrics: dict[str, Metric] = {
        "total_return": final / initial_cash - 1.0,
        "annualized_return": annualized_return(final / initial_cash, ts_ns),
        **_risk(returns, ppy),
        "max_drawdown": drawdown,
        "max_drawdown_duration_s": duration_ns / 1e9,
        **_trade_stats(net_pnls(frames.fills)),
        "fills": len(frames.fills),
        "orders": len(frames.orders),
        "exposure": exposure(frames.equity),
        "turnover": float(frames.fills["notional"].sum()) / initial_cash,
        "fees": float(frames.fills["fee"].sum()),
        "final_equity": final,
        "periods_per_year": ppy,
        "span_s": span_ns / 1e9,
        "mark_interval_s": interval_ns / 1e9,
    }
    if span_ns < MIN_ANNUALIZED_SPAN_S * 1_000_000_000:
        metrics.update(dict.fromkeys(ANNUALIZED_KEYS))
    return metrics


def annualization(metrics: dict[str, Metric]) -> str:
    """``"ok"`` when the annualized figures stand, ``"too short"`` when the run's span withholds them.

    >>> annualization({"span_s": 660.0}), annualization({"span_s": 90 * 86400.0})
    ('too short', 'ok')
    """
    span = metrics.get("span_s")
    return "ok" if span is not None and span >= MIN_ANNUALIZED_SPAN_S else "too short"


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


def _trade_stats(net_pnl: np.ndarray) -> dict[str, Metric]:
    """Round trip count, win rate and profit factor of the trips' net PnLs."""
    wins = net_pnl[net_pnl > 0].sum()
    losses = net_pnl[net_pnl < 0].sum()
    return {
        "win_rate": float(np.mean(net_pnl > 0)) if len(net_pnl) else None,
        "profit_factor": float(wins / -losses) if losses < 0 else None,
        "trades": len(net_pnl),
    }
