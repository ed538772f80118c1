"""The interactive report's plotly figures: prices with fills and the strategy's series, equity against
buy-and-hold with drawdown and exposure, the PnL distribution, period returns, and a comparison of runs.

Prices come at trade resolution, thinned for display by keeping each pixel bucket's
lowest and highest trade (:func:`min_max_buckets`): a spike of one trade survives,
which a mean or a stride would drop.

Times go to the page as float64 milliseconds since the epoch on axes typed ``date``:
plotly encodes a numpy array as a base64 typed array, which the browser reads without
parsing a date string per point (datetime64 arrays would go as ISO strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from virtuoso.backtest._market import MarketData
from virtuoso.backtest._tables import exposure_series

if TYPE_CHECKING:
    from virtuoso.backtest._result import BacktestResult

BUCKETS = 2_000
"""Pixel buckets of the price line: a wide screen's worth; each keeps its lowest and highest trade."""

_BUY, _SELL, _LINE = "#1a9850", "#d73027", "#4575b4"


_TEMPLATE_LAYOUT = (
    "autotypenumbers", "colorway", "font", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis",
)  # fmt: skip


def _template() -> go.layout.Template:
    """plotly_white's look for the traces drawn here; the browser reads it with every figure, so nothing more.

    The full template also styles 40 other trace types, 3-D scenes, maps and polar axes.
    """
    white = pio.templates["plotly_white"]
    layout = {k: v for k, v in white.layout.to_plotly_json().items() if k in _TEMPLATE_LAYOUT}
    return go.layout.Template(layout=layout, data={"bar": white.data.bar})


_WHITE = _template()


def min_max_buckets(ts_ns: np.ndarray, values: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """The indexes (sorted) of the lowest and highest value of each of ``buckets`` equal time buckets.

    The first and last points are always kept; input at most twice the buckets is kept whole.

    >>> ts = np.arange(10, dtype=np.int64)
    >>> min_max_buckets(ts, np.array([5, 1, 9, 5, 5, 5, 0, 5, 5, 7.0]), buckets=2).tolist()
    [0, 1, 2, 6, 9]
    """
    if len(ts_ns) <= 2 * buckets:
        return np.arange(len(ts_ns))
    span = int(ts_ns[-1] - ts_ns[0]) + 1
    bucket = ((ts_ns - ts_ns[0]).astype(np.float64) * buckets / span).astype(np.int64)
    grouped = pd.Series(values).groupby(bucket, sort=True)
    keep = np.concatenate([grouped.idxmin().to_numpy(), grouped.idxmax().to_numpy(), [0, len(ts_ns) - 1]])
    return np.unique(keep.astype(np.int64))


def _times(ts_ns: np.ndarray | pd.Series) -> np.ndarray:
    """Exchange times (int64 ns) as float64 ms since the epoch, what a plotly ``date`` axis reads (to 0.25 µs)."""
    return np.asarray(ts_ns, dtype=np.int64) / 1e6


def price_figure(result: BacktestResult, market: MarketData) -> go.Figure:
    """Prices (trades, else the marks) with every fill at its price and time, the strategy's series beneath."""
    overlays, panels = _split_series(market.series, _price_range(result, market))
    rows = 1 + len(panels)
    heights = [0.7, *([0.3 / len(panels)] * len(panels))] if panels else [1.0]
    figure = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=heights)
    _add_prices(figure, result, market)
    for name, frame in overlays:
        figure.add_trace(_line(frame["ts_ns"], frame["value"], name, width=1.0), row=1, col=1)
    _add_fills(figure, result.fills)
    for row, (name, frame) in enumerate(panels, start=2):
        figure.add_trace(_line(frame["ts_ns"], frame["value"], name, width=1.0), row=row, col=1)
        figure.update_yaxes(title_text=name, row=row, col=1)
    _add_signals(figure, market.signals, panels)
    figure.update_yaxes(title_text="price", tickformat=",.2f", row=1, col=1)
    return _layout(figure, "Prices, fills and the strategy's series", 520 + 140 * len(panels), dates=True)


def _price_range(result: BacktestResult, market: MarketData) -> tuple[float, float]:
    prices = market.trades["price"] if len(market.trades) else result.fills["price"]
    return (float(prices.min()), float(prices.max())) if len(prices) else (np.nan, np.nan)


Named = list[tuple[str, pd.DataFrame]]


def _split_series(series: pd.DataFrame, prices: tuple[float, float]) -> tuple[Named, Named]:
    """Series named alike, split into price overlays (their median within half to twice the prices) and panels."""
    overlays: Named = []
    panels: Named = []
    for name in sorted(set(series["name"])):
        frame = series[series["name"] == name].sort_values("ts_ns", kind="stable")
        median = float(frame["value"].median())
        near = prices[0] / 2 <= median <= prices[1] * 2
        (overlays if near else panels).append((name, frame))
    return overlays, panels


def _add_prices(figure: go.Figure, result: BacktestResult, market: MarketData) -> None:
    if len(market.trades):
        for symbol, mine in market.trades.groupby("symbol", sort=True):
            ts, price = mine["ts_ns"].to_numpy(np.int64), mine["price"].to_numpy(np.float64)
            keep = min_max_buckets(ts, price)
            figure.add_trace(_line(ts[keep], price[keep], f"{symbol} trades", width=1.0, color=_LINE), row=1, col=1)
        return
    for column in (c for c in result.equity.columns if c.startswith("price:")):
        name = f"{column.removeprefix('price:')} (marks)"
        figure.add_trace(_line(result.equity["ts_ns"], result.equity[column], name, width=1.0), row=1, col=1)


def _add_fills(figure: go.Figure, fills: pd.DataFrame) -> None:
    for side, symbol, color in (("buy", "triangle-up", _BUY), ("sell", "triangle-down", _SELL)):
        chosen = fills[fills["side"] == side]
        text = [f"{s} {a:g} {sym} @ {p:,.2f}" for s, a, sym, p in
                zip(chosen["side"], chosen["amount"], chosen["symbol"], chosen["price"], strict=True)]  # fmt: skip
        figure.add_trace(go.Scatter(
            x=_times(chosen["ts_ns"]), y=chosen["price"].to_numpy(np.float64), mode="markers", name=f"{side} fills",
            marker={"symbol": symbol, "color": color, "size": 9, "line": {"width": 0.5, "color": "#222"}},
            text=text, hovertemplate="%{text}<br>%{x}<extra></extra>",
        ), row=1, col=1)  # fmt: skip


def _add_signals(figure: go.Figure, signals: pd.DataFrame, panels: Sequence[tuple[str, pd.DataFrame]]) -> None:
    """Signals as markers on the confluence panel (else at the bottom of the price panel)."""
    if not len(signals):
        return
    names = [name for name, _ in panels]
    row = 2 + names.index("confluence") if "confluence" in names else 1
    level = 50.0 if row > 1 else None
    for state, color in (("long", _BUY), ("short", _SELL), ("neutral", "#888")):
        chosen = signals[signals["state"] == state]
        if len(chosen):
            y = np.full(len(chosen), level if level is not None else np.nan)
            figure.add_trace(go.Scatter(
                x=_times(chosen["ts_ns"]), y=y, mode="markers", name=f"signal {state}",
                marker={"symbol": "diamond", "color": color, "size": 8},
            ), row=row, col=1)  # fmt: skip


def _line(ts_ns: object, values: object, name: str, *, width: float, color: str | None = None) -> go.Scatter:
    line: dict[str, object] = {"width": width}
    if color is not None:
        line["color"] = color
    return go.Scatter(
        x=_times(np.asarray(ts_ns)), y=np.asarray(values, dtype=np.float64), mode="lines", name=name, line=line
    )


def equity_figure(result: BacktestResult) -> go.Figure:
    """Equity against buy-and-hold, the underwater drawdown, and gross exposure: three rows sharing time."""
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.5, 0.25, 0.25])
    bench = result.benchmark
    figure.add_trace(_line(bench["ts_ns"], bench["strategy"], "strategy", width=1.5, color=_LINE), row=1, col=1)
    figure.add_trace(_line(bench["ts_ns"], bench["benchmark"], "buy & hold", width=1.0, color="#999"), row=1, col=1)
    equity = result.equity["equity"].to_numpy(np.float64)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(peak > 0, equity / peak - 1.0, 0.0)
    underwater = _line(result.equity["ts_ns"], fall, "drawdown", width=0.8, color=_SELL)
    underwater.update(fill="tozeroy")
    figure.add_trace(underwater, row=2, col=1)
    exposure = exposure_series(result.equity)
    figure.add_trace(_line(result.equity["ts_ns"], exposure, "exposure", width=1.0, color="#762a83"), row=3, col=1)
    figure.update_yaxes(title_text="equity", tickformat=",.2f", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".2%", row=2, col=1)
    figure.update_yaxes(title_text="exposure", tickformat=".0%", row=3, col=1)
    return _layout(figure, "Equity against buy-and-hold, drawdown, exposure", 620, dates=True)


def pnl_figure(trips: pd.DataFrame) -> go.Figure:
    """The distribution of the round trips' net PnL."""
    figure = go.Figure(go.Histogram(x=trips["net_pnl"].to_numpy(np.float64), nbinsx=40, marker={"color": _LINE}))
    figure.update_xaxes(title_text="net PnL per round trip", tickformat=",.2f")
    figure.update_yaxes(title_text="round trips")
    return _layout(figure, "PnL distribution", 320)


def period_figure(periods: pd.DataFrame, name: str) -> go.Figure:
    """The return of each period as a bar, green up and red down."""
    returns = periods["return"].to_numpy(np.float64)
    colors = np.where(returns >= 0, _BUY, _SELL).tolist()
    starts = pd.DatetimeIndex(periods["period"]).as_unit("ns").asi8
    figure = go.Figure(go.Bar(x=_times(starts), y=returns, marker={"color": colors}))
    figure.update_yaxes(title_text=f"return per {name}", tickformat=".3%")
    return _layout(figure, f"Returns per {name}", 320, dates=True)


def compare_figure(results: Sequence[BacktestResult], labels: Sequence[str]) -> go.Figure:
    """The runs' equity curves, as returns since their start, on one chart."""
    figure = go.Figure()
    for result, label in zip(results, labels, strict=True):
        equity = result.equity
        figure.add_trace(_line(equity["ts_ns"], equity["equity"] / result.initial_cash - 1.0, label, width=1.2))
    figure.update_yaxes(title_text="return since start", tickformat=".2%")
    return _layout(figure, "Equity curves", 460, dates=True)


def _layout(figure: go.Figure, text: str, height: int, *, dates: bool = False) -> go.Figure:
    figure.update_layout(
        title={"text": text, "x": 0.0, "font": {"size": 15}}, height=height, template=_WHITE, margin=_MARGIN,
        hovermode="x unified", legend={"orientation": "h", "y": -0.08},
    )  # fmt: skip
    # plotly measures every tick label to hide those past the div: a forced layout each; ours stay inside.
    figure.update_xaxes(ticklabeloverflow="allow")
    figure.update_yaxes(ticklabeloverflow="allow")
    if dates:
        figure.update_xaxes(type="date")
    return figure


_MARGIN = {"l": 100, "r": 50, "t": 50, "b": 90}
"""Room for the y tick labels, the last date label and the legend below: a label or legend that pushes past a
margin makes plotly draw the whole figure a second time."""
