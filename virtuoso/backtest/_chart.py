"""A backtest result as a static chart (PNG): for CI logs and papers; the interactive page is ``_report``.

The chart is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas,
never through ``pyplot``: pyplot keeps every figure in a global registry until
closed and switching its backend would change the caller's (a notebook's
inline one, say). A figure that is not registered is freed with its last
reference, so sweeps drawing many reports do not grow.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from virtuoso.backtest._format import title

if TYPE_CHECKING:
    from virtuoso.backtest._result import BacktestResult

_PNG_METADATA: dict[str, Any] = {"Software": None}
"""No matplotlib version in the PNG: the same result draws the same bytes."""


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
    figure.suptitle(title(result))
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
    equity_axes.ticklabel_format(axis="y", style="plain", useOffset=False)  # no "+1e4" offset on money
    equity_axes.set_ylabel("equity")
    equity_axes.grid(alpha=0.3)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0)
    drawdown_axes.fill_between(times, fall, 0.0, color="tab:red", alpha=0.3, linewidth=0.0)
    drawdown_axes.plot(times, fall, color="tab:red", linewidth=0.8)
    drawdown_axes.set_ylabel("drawdown %")
    drawdown_axes.grid(alpha=0.3)
