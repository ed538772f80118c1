"""The frame of a report page: its style, the figures as JSON blocks, and the few scripts that draw and sort.

What a first open costs is mostly the browser compiling the embedded plotly.js
(about 4.8 MB); the page is laid out so that nothing adds to it needlessly
(measured in docs/backtest-results.md, "Size and speed"):

- plotly.js comes at the end of the body, so the header, metrics and tables are
  shown while it compiles;
- each figure is an empty ``div`` and its JSON in a ``<script type="application/json">``
  block, parsed with ``JSON.parse`` when it is drawn rather than compiled as a
  JavaScript literal; the figures are drawn in page order, one per frame, so the
  first is on screen before the next is drawn;
- a long table is laid out only when it is scrolled near (``content-visibility``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.io as pio
import plotly.offline

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["ROW_PX", "figure_block", "long_block", "page"]

ROW_PX = 40
"""About the height of a data table's row (its times wrap onto two lines): the space a long table takes before it is
laid out."""


def figure_block(figure: go.Figure, div_id: str) -> str:
    """An empty div of the figure's height and the figure's JSON beside it, for ``_DRAW`` to draw.

    plotly's JSON escapes ``<``, ``>`` and ``/``, so nothing in it can end the block early.
    """
    height = int(figure.layout.height or 450)
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px"></div>'
        f'<script type="application/json" class="figure" data-div="{div_id}">'
        f"{pio.to_json(figure, validate=False)}</script>"
    )


def long_block(content: str, rows: int) -> str:
    """``content`` (a table of ``rows`` rows) laid out only when scrolled near, ``rows`` × ``ROW_PX`` tall till then.

    >>> long_block("<table></table>", 2)
    '<div class="long" style="contain-intrinsic-size:auto 120px"><table></table></div>'
    """
    return f'<div class="long" style="contain-intrinsic-size:auto {ROW_PX * (rows + 1)}px">{content}</div>'


def page(page_title: str, body: Sequence[str]) -> str:
    """The whole page: ``body``'s parts (empty ones left out), then plotly.js and the script that draws the figures."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(page_title)}</title><style>{_STYLE}</style>",
        f"<script>{_TABLES}</script></head><body>",
        *[part for part in body if part],
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>',
        f"<script>{_DRAW}</script>",
        "</body></html>",
        "",
    ])  # fmt: skip


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:0.9em}th,td{padding:2px 10px;text-align:left;vertical-align:top}
table.header th{color:#555;font-weight:normal}table.metrics td{text-align:right;font-variant-numeric:tabular-nums}
table.data td{text-align:right;font-variant-numeric:tabular-nums;border-top:1px solid #eee}
table.data thead th{position:sticky;top:0;background:#f3f3f3;cursor:pointer;user-select:none}
.note{color:#555;font-size:0.85em}input.filter{width:22em;padding:3px}
div.long{content-visibility:auto}
"""

_TABLES = """
document.addEventListener("DOMContentLoaded", function () {
  function key(row, i) {
    var cell = row.cells[i];
    if (cell.dataset.v === undefined) return cell.textContent;
    return cell.dataset.v === "" ? -Infinity : parseFloat(cell.dataset.v);
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.addEventListener("click", function () {
      var body = th.closest("table").tBodies[0], i = th.cellIndex;
      var up = th.dataset.dir !== "asc";
      th.dataset.dir = up ? "asc" : "desc";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, i), y = key(b, i);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () {
      var table = document.getElementById(input.dataset.table), query = input.value.toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var hit = row.textContent.toLowerCase().indexOf(query) >= 0;
        row.style.display = hit ? "" : "none";
        shown += hit ? 1 : 0;
      });
      document.getElementById(input.dataset.table + "-count").textContent = shown;
    });
  });
});
"""
"""Sorting (by ``data-v``, the raw value, when a cell has one) and filtering of the data tables."""

_DRAW = """
(function () {
  var config = {displaylogo: false, responsive: true};
  var figures = Array.prototype.slice.call(document.querySelectorAll("script.figure"));
  function nextFrame() {
    return new Promise(function (done) { requestAnimationFrame(function () { setTimeout(done); }); });
  }
  figures.reduce(function (drawn, figure) {
    return drawn.then(function () {
      var spec = JSON.parse(figure.textContent);
      return Plotly.newPlot(document.getElementById(figure.dataset.div), spec.data, spec.layout, config);
    }).then(nextFrame);
  }, Promise.resolve()).catch(function (error) { console.error("a figure was not drawn:", error); });
})();
"""
"""Draws the figures in page order, one per frame: the browser shows the first before it draws the next."""
