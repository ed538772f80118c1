"""Frames a trader reads beside the metrics: drawdown periods, a buy-and-hold benchmark, period returns,
exposure over time and a per-symbol breakdown (columns in docs/backtest-results.md)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from virtuoso.backtest._frames import UTC_NS

DRAWDOWN_COLUMNS: dict[str, str] = {
    "peak": UTC_NS,
    "trough": UTC_NS,
    "recovered": UTC_NS,
    "peak_ns": "int64",
    "trough_ns": "int64",
    "recovered_ns": "Int64",
    "depth": "float64",
    "peak_equity": "float64",
    "trough_equity": "float64",
    "duration_s": "float64",
}
"""The columns of :func:`drawdowns`, in order."""

PERIODS: tuple[tuple[float, str, str], ...] = (
    (2 * 3600, "min", "minute"),
    (3 * 86400, "h", "hour"),
    (92 * 86400, "D", "day"),
    (float("inf"), "MS", "month"),
)
"""(longest span in seconds, pandas frequency, name): the period of :func:`period_returns` for a span."""


def drawdowns(equity: pd.DataFrame) -> pd.DataFrame:
    """Every spell of equity below its running peak, deepest first (ties: earliest first).

    A spell starts at the mark of the peak, bottoms at its lowest mark and ends at the
    first mark back at or above the peak (``recovered`` is NaT when it never did;
    ``duration_s`` then runs to the last mark). ``depth`` is the fall as a fraction.
    """
    values = equity["equity"].to_numpy(np.float64)
    ts_ns = equity["ts_ns"].to_numpy(np.int64)
    rows = [_spell(values, ts_ns, start, end) for start, end in _spells(values)]
    rows.sort(key=lambda row: (-cast(float, row["depth"]), cast(int, row["peak_ns"])))
    return _drawdown_frame(rows)


def _spells(values: np.ndarray) -> list[tuple[int, int]]:
    """(index of the peak, index of the recovery or len(values)) of each spell below the running peak."""
    if not len(values):
        return []
    under = values < np.maximum.accumulate(values)
    edges = np.diff(np.concatenate([[False], under, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s) - 1, int(e)) for s, e in zip(starts, ends, strict=True)]


def _spell(values: np.ndarray, ts_ns: np.ndarray, peak: int, end: int) -> dict[str, object]:
    trough = peak + int(np.argmin(values[peak:end]))
    recovered = end < len(values)
    last = end if recovered else len(values) - 1
    return {
        "peak_ns": int(ts_ns[peak]), "trough_ns": int(ts_ns[trough]),
        "recovered_ns": int(ts_ns[end]) if recovered else None,
        "depth": 1.0 - values[trough] / values[peak] if values[peak] > 0 else 0.0,
        "peak_equity": float(values[peak]), "trough_equity": float(values[trough]),
        "duration_s": (int(ts_ns[last]) - int(ts_ns[peak])) / 1e9,
    }  # fmt: skip


def _drawdown_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for name, dtype in DRAWDOWN_COLUMNS.items():
        if dtype == UTC_NS:
            stamps = [row[f"{name}_ns"] for row in rows]
            columns[name] = pd.DatetimeIndex([pd.NaT if s is None else pd.Timestamp(s, unit="ns", tz="UTC")
                                              for s in stamps], dtype=UTC_NS)  # fmt: skip
        else:
            columns[name] = pd.Series([row[name] for row in rows], dtype=dtype)
    return pd.DataFrame(columns)


def benchmark(equity: pd.DataFrame, initial_cash: float) -> pd.DataFrame:
    """Buy-and-hold of the marked symbols over the run's marks, beside the strategy's equity.

    ``initial_cash`` is split equally between the symbols at each one's first marked
    price and held (no fees, no rebalancing); a symbol counts as cash until its first
    price. Indexed like ``equity``: ``ts_ns, strategy, benchmark`` (both in the quote
    currency), then ``strategy_return, benchmark_return`` (since the start) and
    ``excess_return`` (their difference).
    """
    symbols = [c for c in equity.columns if c.startswith("price:")]
    share = initial_cash / max(len(symbols), 1)
    held = np.full(len(equity), 0.0 if symbols else initial_cash)
    for column in symbols:
        prices = equity[column].to_numpy(np.float64)
        known = ~np.isnan(prices)
        first = prices[known][0] if known.any() else np.nan
        held += np.where(known, share * prices / first, share) if known.any() else share
    strategy = equity["equity"].to_numpy(np.float64)
    frame = pd.DataFrame(
        {"ts_ns": equity["ts_ns"].to_numpy(np.int64), "strategy": strategy, "benchmark": held}, index=equity.index
    )
    frame["strategy_return"] = strategy / initial_cash - 1.0
    frame["benchmark_return"] = held / initial_cash - 1.0
    frame["excess_return"] = frame["strategy_return"] - frame["benchmark_return"]
    return frame


def period_name(span_s: float) -> tuple[str, str]:
    """The pandas frequency and the name of the period returns are grouped by for a run of ``span_s``.

    >>> period_name(660.0), period_name(86400.0), period_name(30 * 86400.0), period_name(400 * 86400.0)
    (('min', 'minute'), ('h', 'hour'), ('D', 'day'), ('MS', 'month'))
    """
    return next((freq, name) for longest, freq, name in PERIODS if span_s <= longest)


def period_returns(equity: pd.DataFrame, initial_cash: float, freq: str | None = None) -> pd.DataFrame:
    """The strategy's return per calendar period (UTC), the period adapted to the span unless ``freq`` is given.

    Each period's return is its last mark's equity over the previous period's last
    (``initial_cash`` for the first) minus 1. Columns: ``period`` (its start),
    ``equity`` (at its end), ``return``.
    """
    span = (equity["ts_ns"].iloc[-1] - equity["ts_ns"].iloc[0]) / 1e9 if len(equity) else 0.0
    chosen = freq or period_name(float(span))[0]
    closes = equity["equity"].resample(chosen).last().dropna()
    before = closes.shift(1).fillna(initial_cash)
    return pd.DataFrame(
        {"period": closes.index, "equity": closes.to_numpy(), "return": (closes / before - 1.0).to_numpy()}
    )


def exposure_series(equity: pd.DataFrame) -> pd.Series:
    """Gross exposure at each mark: the value of every open position over the equity (1.0 = fully invested)."""
    gross = np.zeros(len(equity))
    for column in (c for c in equity.columns if c.startswith("position:")):
        price = equity[f"price:{column.removeprefix('position:')}"].to_numpy(np.float64)
        gross += np.abs(equity[column].to_numpy(np.float64) * np.nan_to_num(price))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(equity["equity"].to_numpy(np.float64) > 0, gross / equity["equity"].to_numpy(np.float64), 0.0)
    return pd.Series(share, index=equity.index, name="exposure")


def per_symbol(trips: pd.DataFrame, fills: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol filled: ``symbol, trades, win_rate, net_pnl, fees, fills, notional``."""
    rows = []
    for symbol in sorted(set(fills["symbol"])):
        mine, filled = trips[trips["symbol"] == symbol], fills[fills["symbol"] == symbol]
        rows.append({
            "symbol": symbol, "trades": len(mine),
            "win_rate": float((mine["net_pnl"] > 0).mean()) if len(mine) else np.nan,
            "net_pnl": float(mine["net_pnl"].sum()), "fees": float(filled["fee"].sum()),
            "fills": len(filled), "notional": float(filled["notional"].sum()),
        })  # fmt: skip
    columns = ["symbol", "trades", "win_rate", "net_pnl", "fees", "fills", "notional"]
    return pd.DataFrame(rows, columns=columns)
