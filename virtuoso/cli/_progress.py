"""Progress of long commands on stderr: a rich bar on a terminal, plain lines otherwise, nothing for ``--json``.

Every command's progress goes through :func:`progress`. Off a terminal (a pipe, a
log file, CI) a bar would be noise, so it becomes one line each time the work
crosses another tenth (and when a new file starts), and a last one at 100% when
the work ends: counts only, no rates or times, so the lines are the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from virtuoso.cli._app import err_console


class Reporter(Protocol):
    """Moves a progress display: ``done`` of ``total`` (in the display's unit), with a short ``detail``."""

    def __call__(self, done: int, total: int, *, name: str | None = None, detail: str = "") -> None: ...


class _Bar:
    """The transient rich bar shown on a terminal."""

    def __init__(self, label: str, bar: Progress) -> None:
        self._label, self._bar = label, bar
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int, *, name: str | None = None, detail: str = "") -> None:
        if self._task is None:
            self._task = self._bar.add_task(self._label, total=total, detail="")
        self._bar.update(self._task, completed=done, total=total, description=name or self._label, detail=detail)


class Lines:
    """Plain progress lines: one per tenth of the work crossed, one when ``name`` changes, and 100% at the end."""

    def __init__(self, label: str, unit: str) -> None:
        self._label, self._unit = label, unit
        self._last: tuple[str, int] | None = None
        self._total = 0

    def __call__(self, done: int, total: int, *, name: str | None = None, detail: str = "") -> None:
        self._total = total
        self._show(name or self._label, min(done * 10 // max(total, 1), 10), detail)

    def finish(self) -> None:
        """Show 100% if the work ended before reaching it (a total that was an upper bound)."""
        if self._last is not None:
            self._show(self._last[0], 10, "")

    def _show(self, name: str, tenth: int, detail: str) -> None:
        if (name, tenth) == self._last or (tenth == 0 and name == self._label):
            return  # "0%" says nothing unless it names a new file
        self._last = (name, tenth)
        of = f" of {self._total:,} {self._unit}" if self._unit else ""
        err_console.print(f"{name}: {tenth * 10}%{of}" + (f", {detail}" if detail else ""), markup=False)


def _bar_columns(unit: str) -> list[ProgressColumn]:
    count: ProgressColumn = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    return [TextColumn("{task.description}"), BarColumn(), count, TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn()]  # fmt: skip


@contextmanager
def progress(label: str, *, unit: str = "events", quiet: bool = False) -> Iterator[Reporter | None]:
    """A progress display on stderr for ``label``'s work, or None when ``quiet`` (``--json``).

    A bar on a terminal; :class:`Lines` when stderr is not one. ``unit`` names what
    ``done`` and ``total`` count (``"bytes"`` shows sizes).
    """
    if quiet:
        yield None
    elif not err_console.is_terminal:
        lines = Lines(label, unit)
        yield lines
        lines.finish()
    else:
        bar = Progress(*_bar_columns(unit), console=err_console, transient=True)
        with bar:
            yield _Bar(label, bar)
