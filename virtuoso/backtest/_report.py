"""A backtest's report: one self-contained interactive HTML page (plotly), and the static PNG beside it.

The page embeds plotly.js (no CDN: it opens offline, years later) and every
number it shows comes from the result's public frames (``round_trips``,
``drawdowns``, ``benchmark``, ``period_returns``), so a notebook reads the
same values. Plotly's div ids are set from the run id, so the same run gives
the same bytes. The page's frame, its style and scripts (drawing the figures,
sorting and filtering the tables) are in ``_page`` (see docs/architecture.md).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from virtuoso.backtest._chart import render_chart
from virtuoso.backtest._figures import compare_figure, equity_figure, period_figure, pnl_figure, price_figure
from virtuoso.backtest._format import (
    annualization_note,
    duration,
    format_metric,
    section,
    strategy_name,
    strategy_params,
    title,
)
from virtuoso.backtest._market import MarketData
from virtuoso.backtest._metrics import ANNUALIZED_KEYS, METRIC_KEYS, Metric
from virtuoso.backtest._page import figure_block, long_block, page
from virtuoso.backtest._result import make_directory, write_atomic
from virtuoso.backtest._tables import per_symbol, period_name
from virtuoso.store import redact

if TYPE_CHECKING:
    from virtuoso.backtest._result import BacktestResult

__all__ = ["format_metric", "metrics_table", "render_chart", "render_html", "write_comparison", "write_report"]

REPORT_FILE = "report.html"
CHART_FILE = "chart.png"
COMPARE_FILE = "compare.html"
WORST_DRAWDOWNS = 5
"""Drawdown periods the page lists (every one is in ``result.drawdowns``)."""

Cell = Callable[[Any], str]


def write_report(result: BacktestResult, directory: str | os.PathLike[str], market: MarketData | None = None) -> Path:
    """Write ``chart.png`` and ``report.html`` into ``directory`` (created when missing); the HTML path."""
    folder = make_directory(directory)
    png = render_chart(result)
    write_atomic(folder / CHART_FILE, lambda f: f.write(png))
    page = render_html(result, market or MarketData.empty()).encode()
    return write_atomic(folder / REPORT_FILE, lambda f: f.write(page))


def render_html(result: BacktestResult, market: MarketData) -> str:
    """The report page of ``result`` (see the module); ``market`` gives the trades and series it draws."""
    ids = _Ids(result.run)
    trips = result.round_trips
    periods = result.period_returns()
    span = float(result.metrics.get("span_s") or 0.0)
    body = [
        f"<h1>{_e(title(result))}</h1>",
        _header(result),
        "<h2>Metrics</h2>", metrics_table(result.metrics),
        f'<p class="note">* {_e(annualization_note(result.metrics))}</p>',
        figure_block(price_figure(result, market), ids("price")),
        figure_block(equity_figure(result), ids("equity")),
        "<h2>Worst drawdowns</h2>", _drawdown_table(result.drawdowns.head(WORST_DRAWDOWNS)),
        f"<h2>Round trips ({len(trips):,})</h2>", _trip_table(trips),
        figure_block(pnl_figure(trips), ids("pnl")),
        figure_block(period_figure(periods, period_name(span)[1]), ids("periods")),
        _symbol_section(result, trips),
    ]  # fmt: skip
    return page(f"Backtest {title(result)}", body)


class _Ids:
    """Plotly div ids made from the run id: the same run, the same page bytes."""

    def __init__(self, run: str) -> None:
        self.prefix = "r" + "".join(c for c in run[:16] if c.isalnum())

    def __call__(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def _e(text: object) -> str:
    return html.escape(str(text))


def _header(result: BacktestResult) -> str:
    # The manifest's config is stored redacted; a result built in Python may hold the raw one.
    config = redact(result.config)
    equity = result.equity["ts_ns"]
    span = f"{_utc(equity.iloc[0])} to {_utc(equity.iloc[-1])} UTC" if len(equity) else "no marks"
    rows = [
        ("strategy", f"{strategy_name(config)} ({section(config, 'strategy').get('ref', '')})"),
        ("parameters", ", ".join(f"{k}={v}" for k, v in sorted(strategy_params(config).items())) or "-"),
        ("sessions", ", ".join(str(s) for s in section(config, "inputs").get("sessions", [])) or "-"),
        ("symbols", ", ".join(result.frames.symbols()) or "-"),
        ("exchange time", f"{span} ({duration(float(result.metrics.get('span_s') or 0.0))})"),
        ("marks every", duration(float(result.metrics.get("mark_interval_s") or 0.0))),
        ("analyzers", ", ".join(str(a.get("name")) for a in config.get("analyzers", []) if isinstance(a, dict)) or "-"),
        *_venue_rows(section(config, "venue")),
        ("seed", str(config.get("seed", "-"))),
        ("run", result.run),
        ("digest", result.digest),
        ("events in", f"{result.events_in:,}"),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    full = json.dumps(config, indent=2, sort_keys=True, default=str)
    details = f"<details><summary>full run config</summary><pre>{_e(full)}</pre></details>"
    return f'<table class="header">{cells}</table>{details}'


def _utc(ts_ns: int) -> str:
    return datetime.fromtimestamp(int(ts_ns) / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _venue_rows(venue: dict[str, Any]) -> list[tuple[str, str]]:
    """Fees, latency, slippage, cash and the rest of the venue settings, one row per group."""
    fees = {k: v for k, v in venue.items() if "fee" in k}
    latency = venue.get("latency", {})
    rest = {k: v for k, v in venue.items() if k not in fees and k not in ("latency", "markets")}
    return [
        ("fees", ", ".join(f"{k}={v}" for k, v in sorted(fees.items())) or "-"),
        ("latency", ", ".join(f"{k}={v}" for k, v in sorted(latency.items())) if isinstance(latency, dict) else "-"),
        ("venue", ", ".join(f"{k}={v}" for k, v in sorted(rest.items())) or "-"),
        ("market rules", json.dumps(venue.get("markets", {}), sort_keys=True) if venue.get("markets") else "-"),
    ]


def metrics_table(metrics: dict[str, Metric]) -> str:
    """The metrics as an HTML table (``METRIC_KEYS`` first, in order); annualized figures carry a ``*``."""
    keys = [k for k in METRIC_KEYS if k in metrics] + [k for k in metrics if k not in METRIC_KEYS]
    rows = "".join(
        f"<tr><th>{_e(k)}{'*' if k in ANNUALIZED_KEYS else ''}</th><td>{_e(format_metric(k, metrics[k]))}</td></tr>"
        for k in keys
    )
    return f'<table class="metrics">{rows}</table>'


def _number(digits: int, percent: bool = False) -> Cell:
    return lambda v: "" if pd.isna(v) else (f"{v:.{digits}%}" if percent else f"{v:,.{digits}f}")


def _time(value: Any) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


TRIP_CELLS: dict[str, tuple[str, Cell]] = {
    "symbol": ("symbol", str), "side": ("side", str), "opened": ("entry time", _time), "closed": ("exit time", _time),
    "entry_price": ("entry", _number(2)), "exit_price": ("exit", _number(2)), "amount": ("size", _number(6)),
    "pnl": ("PnL", _number(4)), "fees": ("fees", _number(4)), "net_pnl": ("net PnL", _number(4)),
    "return": ("return", _number(3, True)), "duration_s": ("duration", lambda v: duration(float(v))),
    "mae": ("MAE", _number(3, True)), "mfe": ("MFE", _number(3, True)),
}  # fmt: skip
"""The round-trip table's columns: frame column -> (heading, cell format)."""


def _trip_table(trips: pd.DataFrame) -> str:
    # Laid out only when scrolled near: its thousands of cells would otherwise hold up the figures above it.
    table = long_block(_table(trips, TRIP_CELLS, "trips"), len(trips))
    return (
        '<p><input type="search" class="filter" data-table="trips" placeholder="filter rows (e.g. short)">'
        f' <span id="trips-count">{len(trips)}</span> shown; click a heading to sort</p>{table}'
    )


DRAWDOWN_CELLS: dict[str, tuple[str, Cell]] = {
    "depth": ("depth", _number(3, True)), "peak": ("peak", _time), "trough": ("trough", _time),
    "recovered": ("recovered", lambda v: "not recovered" if pd.isna(v) else _time(v)),
    "duration_s": ("duration", lambda v: duration(float(v))), "peak_equity": ("peak equity", _number(2)),
    "trough_equity": ("trough equity", _number(2)),
}  # fmt: skip

SYMBOL_CELLS: dict[str, tuple[str, Cell]] = {
    "symbol": ("symbol", str), "trades": ("trades", lambda v: f"{v:,}"), "win_rate": ("win rate", _number(2, True)),
    "net_pnl": ("net PnL", _number(2)), "fees": ("fees", _number(2)), "fills": ("fills", lambda v: f"{v:,}"),
    "notional": ("notional", _number(2)),
}  # fmt: skip


def _drawdown_table(frame: pd.DataFrame) -> str:
    return _table(frame, DRAWDOWN_CELLS, "drawdowns") if len(frame) else "<p>Equity never fell below a peak.</p>"


def _symbol_section(result: BacktestResult, trips: pd.DataFrame) -> str:
    if result.fills["symbol"].nunique() < 2:
        return ""
    return "<h2>Per symbol</h2>" + _table(per_symbol(trips, result.fills), SYMBOL_CELLS, "symbols")


def _table(frame: pd.DataFrame, cells: dict[str, tuple[str, Cell]], table_id: str) -> str:
    """A sortable table: each cell shows the formatted value and sorts by the raw one (``data-v``)."""
    head = "".join(f"<th>{_e(heading)}</th>" for heading, _ in cells.values())
    rows = []
    for record in frame[list(cells)].itertuples(index=False):
        tds = "".join(_cell(value, show) for value, (_, show) in zip(record, cells.values(), strict=True))
        rows.append(f"<tr>{tds}</tr>")
    return (
        f'<table class="data sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _cell(value: Any, show: Cell) -> str:
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        raw: object = value.value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raw = "" if pd.isna(value) else repr(float(value))
    else:
        return f"<td>{_e(show(value))}</td>"
    return f'<td data-v="{raw}">{_e(show(value))}</td>'


def write_comparison(results: Sequence[BacktestResult], directory: str | os.PathLike[str]) -> Path:
    """Write ``compare.html`` of ``results`` side by side into ``directory``; its path."""
    page = render_comparison(results).encode()
    return write_atomic(make_directory(directory) / COMPARE_FILE, lambda f: f.write(page))


def render_comparison(results: Sequence[BacktestResult]) -> str:
    """Runs side by side: the metrics of each, their equity curves on one chart, the parameters that differ."""
    labels = [f"{strategy_name(r.config)} {r.run[:8]}" for r in results]
    body = [
        f"<h1>Comparison of {len(results)} backtests</h1>",
        "<h2>Parameters that differ</h2>", _differences(results, labels),
        "<h2>Metrics</h2>", _metrics_side_by_side(results, labels),
        _notes(results, labels),
        figure_block(compare_figure(results, labels), "compare-" + "-".join(r.run[:8] for r in results)),
    ]  # fmt: skip
    return page(f"Comparison of {len(results)} backtests", body)


def _notes(results: Sequence[BacktestResult], labels: Sequence[str]) -> str:
    notes = [f"{label}: {annualization_note(r.metrics)}" for r, label in zip(results, labels, strict=True)]
    return f'<p class="note">* {_e("; ".join(notes))}</p>'


def config_differences(configs: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The settings (dotted paths) whose values are not the same in every config, each config's value.

    >>> config_differences([{"fast": 5, "slow": 20, "venue": {"fee": 1}}, {"fast": 8, "slow": 20, "venue": {"fee": 2}}])
    {'fast': [5, 8], 'venue.fee': [1, 2]}
    """
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f})
    return {k: [f.get(k) for f in flat] for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key in sorted(value) for k, v in _flatten(value[key], f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _differences(results: Sequence[BacktestResult], labels: Sequence[str]) -> str:
    differences = config_differences([{k: v for k, v in r.config.items() if k != "versions"} for r in results])
    if not differences:
        return "<p>The runs have the same settings.</p>"
    head = "".join(f"<th>{_e(label)}</th>" for label in labels)
    rows = "".join(
        f"<tr><th>{_e(key)}</th>" + "".join(f"<td>{_e(json.dumps(v))}</td>" for v in values) + "</tr>"
        for key, values in differences.items()
    )
    return f'<table class="data"><thead><tr><th>setting</th>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _metrics_side_by_side(results: Sequence[BacktestResult], labels: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(label)}</th>" for label in labels)
    rows = "".join(
        f"<tr><th>{_e(key)}{'*' if key in ANNUALIZED_KEYS else ''}</th>"
        + "".join(f"<td>{_e(format_metric(key, r.metrics.get(key)))}</td>" for r in results)
        + "</tr>"
        for key in METRIC_KEYS
    )
    return f'<table class="data metrics"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
