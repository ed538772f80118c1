"""Printing tables: fitted to a terminal, plain and complete into a pipe.

On a terminal a table must fit its width without folding a cell: ids, counts and times
never wrap (an id letter by letter, a count cut to ``99…``). When the natural width is
too wide, columns are dropped, least useful first (the names in ``drop``), and then long
text cells (names, paths) are shortened with an ellipsis; ids are shown by their first
12 characters, like git's short hashes.

Into a pipe or a file, every value is printed whole (full ids) as plain text columns:
a header line, then one line per row, columns padded to align and separated by two
spaces, no box and no colour; a cell's own spaces are never doubled and an empty
cell is ``-``, so ``awk -F '  +'`` splits every line into the same fields and
``cut -c`` works on the aligned columns.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console
from rich.errors import MarkupError
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from virtuoso.cli._app import out_console

SHORT_ID = 12
"""Characters of an id shown on a terminal."""
ID_COLUMNS = frozenset(("id", "run", "session"))


def print_table(table: Table, *, drop: Sequence[str] = ()) -> None:
    """Print ``table``: fitted to the terminal (see the module), or plain and whole when piped."""
    if out_console.is_terminal:
        _print_fitted(table, out_console, drop)
    else:
        sys.stdout.write(plain_table(table))


def plain_table(table: Table) -> str:
    """The table as aligned plain text (a header line, then the rows); a grid's rows alone."""
    columns = [[_plain(cell) or "-" for cell in column.cells] for column in table.columns]
    headers = [_plain(column.header) for column in table.columns]
    rows = [list(row) for row in zip(*columns, strict=True)]
    if table.show_header and any(headers):
        rows.insert(0, headers)
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    right = [column.justify == "right" for column in table.columns]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right, strict=True)]
        lines.append("  ".join(cells).rstrip())
    title = f"{_plain(table.title)}\n" if table.title else ""
    return title + "\n".join(lines) + "\n"


def _plain(cell: object) -> str:
    """A cell's text without styles (a ``str`` cell is rich markup, as when rich prints it)."""
    if isinstance(cell, Text):
        text = cell.plain
    else:
        try:
            text = Text.from_markup(str(cell or "")).plain
        except MarkupError:
            text = str(cell)
    return " ".join(text.split())


def _print_fitted(table: Table, console: Console, drop: Sequence[str]) -> None:
    """Fix every column's width (ids short, nothing wrapped), drop columns, then shorten text, until it fits."""
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "crop" if _plain(column.header) in ID_COLUMNS else "ellipsis"
        column.width = _natural(column)
    pending = list(drop)
    while _width(table, console) > console.width and pending:
        _remove(table, pending.pop(0))
    _shorten_text(table, console)
    console.print(table)


def _natural(column: Column) -> int:
    widest = max((len(_plain(cell)) for cell in [column.header, *column.cells]), default=0)
    return min(widest, SHORT_ID) if _plain(column.header) in ID_COLUMNS else widest


def _width(table: Table, console: Console) -> int:
    return Measurement.get(console, console.options.update_width(_UNBOUNDED), table).maximum


def _shorten_text(table: Table, console: Console) -> None:
    """Take the excess from the widest left-aligned text columns (ids and numbers keep their width)."""
    excess = _width(table, console) - console.width
    text = [c for c in table.columns if c.justify != "right" and _plain(c.header) not in ID_COLUMNS]
    while excess > 0 and text:
        widest = max(text, key=lambda c: c.width or 0)
        if (widest.width or 0) <= _MIN_TEXT:
            break
        widest.width = (widest.width or 0) - 1
        excess -= 1


_UNBOUNDED = 100_000
_MIN_TEXT = 8


def _remove(table: Table, name: str) -> None:
    table.columns[:] = [column for column in table.columns if _plain(column.header) != name]
