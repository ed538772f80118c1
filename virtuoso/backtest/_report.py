"""A backtest result as a chart (PNG) and a one-page HTML report that embeds it.

The chart is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas,
never through ``pyplot``: pyplot keeps every figure in a global registry until
closed and switching its backend would change the caller's (a notebook's
inline one, say). A figure that is not registered is freed with its last
reference, so sweeps drawing many reports do not grow.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from virtuoso.backtest._metrics import METRIC_KEYS, Metric
from virtuoso.backtest._result import make_directory, write_atomic
from virtuoso.store import redact

if TYPE_CHECKING:
    from virtuoso.backtest._result import BacktestResult

PERCENT_METRICS = frozenset({
    "total_return", "annualized_return", "annualized_volatility", "max_drawdown", "win_rate", "exposure",
})  # fmt: skip
"""Metrics that are fractions, shown as percentages."""

MONEY_METRICS = frozenset({"fees", "final_equity"})
"""Metrics in the quote currency, shown with two decimals."""

_PNG_METADATA: dict[str, Any] = {"Software": None}
"""No matplotlib version in the PNG: the same result draws the same bytes."""


def write_report(result: BacktestResult, directory: str | os.PathLike[str]) -> Path:
    """Write ``chart.png`` and ``report.html`` (which embeds the chart) into ``directory``; the HTML path."""
    folder = make_directory(directory)
    png = render_chart(result)
    write_atomic(folder / "chart.png", lambda f: f.write(png))
    page = render_html(result, png).encode()
    return write_atomic(folder / "report.html", lambda f: f.write(page))


def render_chart(result: BacktestResult) -> bytes:
    """The PNG of three stacked panels sharing time: prices with the fills, equity, drawdown in %."""
    figure = Figure(figsize=(11, 8), dpi=100)
    FigureCanvasAgg(figure)
    prices, equity, drawdown = figure.subplots(3, 1, sharex=True, height_ratios=(2.0, 1.2, 1.0))
    times = _naive_utc(result.equity.index)
    _draw_prices(prices, result, times)
    _draw_equity(equity, drawdown, result.equity["equity"].to_numpy(np.float64), times)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]  # unannotated in matplotlib 3.11
    drawdown.xaxis.set_major_locator(locator)
    drawdown.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    drawdown.set_xlabel("time (UTC)")
    figure.suptitle(f"backtest {result.run}")
    figure.align_ylabels()
    figure.subplots_adjust(left=0.09, right=0.98, top=0.94, bottom=0.07, hspace=0.08)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=_PNG_METADATA)
    return buffer.getvalue()


def _naive_utc(index: pd.Index) -> np.ndarray:
    """UTC times as naive ``datetime64[ns]`` (matplotlib plots those directly)."""
    return np.asarray(pd.DatetimeIndex(index).tz_convert(None).to_numpy(), dtype="datetime64[ns]")


def _draw_prices(axes: Axes, result: BacktestResult, times: np.ndarray) -> None:
    """One price line per marked symbol; buy fills as green ^, sell fills as red v."""
    for column in (c for c in result.equity.columns if c.startswith("price:")):
        axes.plot(times, result.equity[column].to_numpy(np.float64), linewidth=1.0, label=column.removeprefix("price:"))
    fills = result.fills
    size = min(36.0, max(4.0, 4_000.0 / max(len(fills), 1)))  # thousands of fills must not hide the price line
    for side, marker, color in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
        chosen = fills[fills["side"] == side]
        fill_times = _naive_utc(pd.DatetimeIndex(chosen["ts"]))
        axes.scatter(fill_times, chosen["price"].to_numpy(np.float64), marker=marker, color=color, s=size, label=side)
    axes.set_ylabel("price")
    axes.legend(loc="upper left", fontsize="small")
    axes.grid(alpha=0.3)


def _draw_equity(equity_axes: Axes, drawdown_axes: Axes, equity: np.ndarray, times: np.ndarray) -> None:
    """The equity line, and below it the fall from the running peak in percent."""
    equity_axes.plot(times, equity, color="tab:blue", linewidth=1.0)
    if not len(equity):
        equity_axes.text(0.5, 0.5, "no equity marks", transform=equity_axes.transAxes, ha="center", va="center")
    equity_axes.set_ylabel("equity")
    equity_axes.grid(alpha=0.3)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0)
    drawdown_axes.fill_between(times, fall, 0.0, color="tab:red", alpha=0.3, linewidth=0.0)
    drawdown_axes.plot(times, fall, color="tab:red", linewidth=0.8)
    drawdown_axes.set_ylabel("drawdown %")
    drawdown_axes.grid(alpha=0.3)


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
    if key == "max_drawdown_duration_s":
        return str(timedelta(seconds=round(value)))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}"


def metrics_table(metrics: dict[str, Metric]) -> str:
    """The metrics as an HTML table (``METRIC_KEYS`` first, in order), values formatted and escaped."""
    keys = [k for k in METRIC_KEYS if k in metrics] + [k for k in metrics if k not in METRIC_KEYS]
    frame = pd.DataFrame({"metric": keys, "value": [format_metric(k, metrics[k]) for k in keys]})
    return str(frame.to_html(index=False, escape=True, border=0, classes="metrics"))


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table.metrics{border-collapse:collapse}table.metrics td,table.metrics th{padding:2px 12px;text-align:left}"
    "table.metrics td+td{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%}pre{background:#f5f5f5;padding:1em}"
)


def render_html(result: BacktestResult, png: bytes) -> str:
    """The report page: run id, digest, the chart as a data URI, the metrics table and the strategy config."""
    e = html.escape
    image = base64.b64encode(png).decode("ascii")
    # The manifest's config is stored redacted; a result built in Python may hold the raw one.
    config = json.dumps(redact(result.config), indent=2, sort_keys=True, default=str)
    cached = " (cached)" if result.cached else ""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest {e(result.run)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Backtest {e(result.run)}{cached}</h1>",
        f"<p>digest <code>{e(result.digest)}</code> &middot; {result.events_in:,} events in"
        f" &middot; initial cash {result.initial_cash:,.2f}</p>",
        f'<img alt="prices with fills, equity and drawdown" src="data:image/png;base64,{image}">',
        "<h2>Metrics</h2>",
        metrics_table(result.metrics),
        "<h2>Strategy config</h2>",
        f"<pre>{e(config)}</pre>",
        "</body></html>",
        "",
    ])  # fmt: skip
