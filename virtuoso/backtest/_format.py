"""How a result's numbers read in a report: metrics with their units, spans, the run's title."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from virtuoso.backtest._metrics import ANNUALIZED_KEYS, MIN_ANNUALIZED_SPAN_S, Metric

if TYPE_CHECKING:
    from virtuoso.backtest._result import BacktestResult

PERCENT_METRICS = frozenset({
    "total_return", "annualized_return", "annualized_volatility", "max_drawdown", "win_rate", "exposure",
})  # fmt: skip
"""Metrics that are fractions, shown as percentages."""

MONEY_METRICS = frozenset({"fees", "final_equity"})
"""Metrics in the quote currency, shown with two decimals."""

DURATION_METRICS = frozenset({"max_drawdown_duration_s", "span_s", "mark_interval_s"})
"""Metrics in seconds, shown as ``d days, h:mm:ss``."""


def format_metric(key: str, value: Metric) -> str:
    """A metric as the report shows it: percentages, money with two decimals, durations as d h:mm:ss.

    >>> format_metric("win_rate", 0.625), format_metric("max_drawdown_duration_s", 5400.0)
    ('62.50%', '1:30:00')
    >>> format_metric("sharpe", None), format_metric("sharpe", 1.23456), format_metric("trades", 1200)
    ('n/a', '1.2346', '1,200')
    """
    if value is None:
        return "n/a"
    if key in PERCENT_METRICS:
        return f"{value:.2%}"
    if key in MONEY_METRICS:
        return f"{value:,.2f}"
    if key in DURATION_METRICS:
        return duration(float(value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}"


def duration(seconds: float) -> str:
    """Seconds as ``h:mm:ss`` (with days; fractions below a second kept when under a minute).

    >>> duration(347.18), duration(0.25), duration(90061.0)
    ('0:05:47', '0.25 s', '1 day, 1:01:01')
    """
    if 0 < seconds < 1:
        return f"{seconds:g} s"
    return str(timedelta(seconds=round(seconds)))


def annualization_note(metrics: dict[str, Metric]) -> str:
    """The footnote of the annualized figures: the span and mark interval they rest on, and the rule."""
    span, interval = float(metrics.get("span_s") or 0.0), float(metrics.get("mark_interval_s") or 0.0)
    basis = f"span {duration(span)}, marks every {duration(interval)}"
    if span >= MIN_ANNUALIZED_SPAN_S:
        return f"annualized over a 365-day year from per-mark returns ({basis})"
    return (
        f"{', '.join(ANNUALIZED_KEYS)} withheld: the run is too short to annualize ({basis};"
        f" at least {MIN_ANNUALIZED_SPAN_S / 86400:g} days needed)"
    )


def section(config: dict[str, Any], key: str) -> dict[str, Any]:
    """``config[key]`` when it is a mapping, else empty (a hand-made config may hold anything)."""
    value = config.get(key)
    return dict(value) if isinstance(value, dict) else {}


def strategy_name(config: dict[str, Any]) -> str:
    """The strategy's class name from a run's manifest config (its ``strategy`` text, or ``"?"``)."""
    strategy = section(config, "strategy")
    reference = str(strategy.get("class") or strategy.get("ref") or config.get("strategy") or "?")
    return reference.rsplit(".", 1)[-1].rsplit(":", 1)[-1]


def strategy_params(config: dict[str, Any]) -> dict[str, Any]:
    """The strategy's parameters from a run's manifest config."""
    return section(section(config, "strategy"), "config")


def title(result: BacktestResult) -> str:
    """``MovingAverageCross BTC/USDT fast=5 slow=20 · run 27943a3b``: what a chart or page is about."""
    params = " ".join(f"{k}={v}" for k, v in sorted(strategy_params(result.config).items()) if v not in ("", None))
    symbols = ", ".join(result.frames.symbols())
    return " ".join(p for p in (strategy_name(result.config), symbols, params, f"· run {result.run[:8]}") if p)
