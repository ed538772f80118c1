"""The heat map of a two-parameter grid: the ranking metric of each (x, y) configuration, as a PNG and as
a page whose cells open each configuration's report.

Drawn on a plain Agg :class:`~matplotlib.figure.Figure` (not pyplot, whose
registry keeps figures alive and whose backend switch would reach the caller),
without a ``Software`` stamp, so the same results give the same bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from virtuoso.sweep._grid import Grid

if TYPE_CHECKING:
    from virtuoso.sweep._sweep import Ranked


def write_heatmap_page(
    path: Path, grid: Grid, ranking: Sequence[Ranked], metric: str, links: Mapping[str, str]
) -> Path | None:
    """Write the heat map as an interactive page whose cells open each configuration's report; its path.

    ``links`` maps a config hash to its report's path relative to the page; a cell
    (or a row of the list below the map) without one has no link. ``None`` unless
    exactly two grid parameters vary. Self-contained (plotly.js inside), and the
    same ranking and links give the same bytes.
    """
    if len(grid.varying) != 2:
        return None
    x_name, y_name = grid.varying
    xs, ys = list(grid.params[x_name]), list(grid.params[y_name])
    cells, hashes = _cells(ranking, xs, ys, (x_name, y_name))
    targets = [[links.get(h, "") for h in row] for row in hashes]
    page = _page(_heatmap_div(cells, targets, (xs, ys), (x_name, y_name), metric), _ranked_list(ranking, links, metric))
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path


def _cells(
    ranking: Sequence[Ranked], xs: list[Any], ys: list[Any], names: tuple[str, str]
) -> tuple[Any, list[list[str]]]:
    cells = np.full((len(ys), len(xs)), np.nan)
    hashes = [["" for _ in xs] for _ in ys]
    columns: dict[Any, int] = {x: i for i, x in enumerate(xs)}
    rows: dict[Any, int] = {y: i for i, y in enumerate(ys)}
    for entry in ranking:
        row, column = rows.get(entry.params.get(names[1])), columns.get(entry.params.get(names[0]))
        if row is not None and column is not None:
            hashes[row][column] = entry.config_hash
            if entry.value is not None:
                cells[row, column] = entry.value
    return cells, hashes


def _heatmap_div(
    cells: Any, targets: list[list[str]], axes: tuple[list[Any], list[Any]], names: tuple[str, str], metric: str
) -> str:
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only for the page
    import plotly.io as pio  # noqa: PLC0415

    heat = go.Heatmap(
        z=cells, x=[str(x) for x in axes[0]], y=[str(y) for y in axes[1]], customdata=targets, colorscale="Viridis",
        hovertemplate=f"{names[0]}=%{{x}} {names[1]}=%{{y}}<br>{metric}=%{{z:.4g}}<extra>click: report</extra>",
    )  # fmt: skip
    figure = go.Figure(heat)
    figure.update_layout(
        title=f"{metric} (mean over sessions): click a cell for its report", template="plotly_white",
        xaxis_title=names[0], yaxis_title=names[1], xaxis_type="category", yaxis_type="category", height=520,
    )  # fmt: skip
    div = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id="heatmap", config={"displaylogo": False})
    return str(div)


_OPEN_ON_CLICK = """
document.addEventListener("DOMContentLoaded", function () {
  document.getElementById("heatmap").on("plotly_click", function (event) {
    var target = event.points[0].customdata;
    if (target) { window.location.href = target; }
  });
});
"""


def _ranked_list(ranking: Sequence[Ranked], links: Mapping[str, str], metric: str) -> str:
    rows = []
    for place, entry in enumerate(ranking, 1):
        params = html.escape(" ".join(f"{k}={v}" for k, v in sorted(entry.params.items())))
        target = links.get(entry.config_hash)
        label = f'<a href="{html.escape(target)}">{params}</a>' if target else params
        value = "-" if entry.value is None else f"{entry.value:.6g}"
        rows.append(f"<tr><td>{place}</td><td>{label}</td><td>{value}</td></tr>")
    head = f"<tr><th>#</th><th>parameters</th><th>{html.escape(metric)}</th></tr>"
    return f'<table id="configurations"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _page(heatmap: str, table: str) -> str:
    import plotly.offline  # noqa: PLC0415

    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>Sweep heat map</title>',
        "<style>body{font-family:system-ui,sans-serif;margin:1.5em 2em}td,th{padding:2px 10px;text-align:left}</style>",
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>',
        f"<script>{_OPEN_ON_CLICK}</script></head><body>", heatmap, "<h2>Configurations, best first</h2>", table,
        "</body></html>", "",
    ])  # fmt: skip


def write_heatmap(path: Path, grid: Grid, ranking: Sequence[Ranked], metric: str) -> Path | None:
    """Write the heat map of ``ranking`` to ``path`` when exactly two grid parameters vary; its path, or ``None``.

    Cells are the mean metric over sessions (in-sample with a split); a
    configuration the constraints excluded, or without a value, is blank.
    """
    if len(grid.varying) != 2:
        return None
    x_name, y_name = grid.varying
    xs, ys = list(grid.params[x_name]), list(grid.params[y_name])
    cells = np.full((len(ys), len(xs)), np.nan)
    columns: dict[Any, int] = {x: i for i, x in enumerate(xs)}
    rows: dict[Any, int] = {y: i for i, y in enumerate(ys)}
    for entry in ranking:
        row, column = rows.get(entry.params.get(y_name)), columns.get(entry.params.get(x_name))
        if entry.value is not None and row is not None and column is not None:
            cells[row, column] = entry.value
    figure = _draw(cells, xs, ys, (x_name, y_name), metric)
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(partial, format="png", metadata={"Software": None})
    partial.replace(path)
    return path


def _draw(cells: Any, xs: list[Any], ys: list[Any], names: tuple[str, str], metric: str) -> Figure:
    figure = Figure(figsize=(1.6 + 0.8 * len(xs), 1.4 + 0.5 * len(ys)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(cells), cmap="viridis", origin="lower", aspect="auto")
    axes.set_xticks(range(len(xs)), [str(x) for x in xs])
    axes.set_yticks(range(len(ys)), [str(y) for y in ys])
    axes.set_xlabel(names[0])
    axes.set_ylabel(names[1])
    axes.set_title(f"{metric} (mean over sessions)", fontsize=9)
    for (row, column), value in np.ndenumerate(cells):
        if not math.isnan(value):
            axes.text(column, row, f"{value:.3g}", ha="center", va="center", fontsize=7, color="white")
    figure.colorbar(image, ax=axes)
    return figure
