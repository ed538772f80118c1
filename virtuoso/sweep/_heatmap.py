"""The heat map of a two-parameter grid: the ranking metric of each (x, y) configuration, as a PNG.

Drawn on a plain Agg :class:`~matplotlib.figure.Figure` (not pyplot, whose
registry keeps figures alive and whose backend switch would reach the caller),
without a ``Software`` stamp, so the same results give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from virtuoso.sweep._grid import Grid

if TYPE_CHECKING:
    from virtuoso.sweep._sweep import Ranked


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
