"""``virtuoso import FORMAT FILE... --db PATH``: recorded market data files into one session of a log.

The log is created if it does not exist. Progress goes to stderr: a bar (events/s,
ETA from the bytes read) in a terminal, a line per file and per tenth otherwise,
nothing with ``--json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from virtuoso.cli._app import err_console, fail, out_console, print_json, run
from virtuoso.cli._sessions import opened, print_table
from virtuoso.importers import FORMATS, ImportPlan, ImportReport, ProgressUpdate, import_files, plan_import


class _RateColumn(ProgressColumn):
    """Events per second so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        events = int(task.fields.get("events", 0))
        rate = events / elapsed if elapsed > 0 else 0.0
        return Text(f"{events:,} events  {rate:,.0f}/s")


class _Bar:
    """The progress bar shown on a terminal."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def __call__(self, update: ProgressUpdate) -> None:
        if self._task is None:
            self._task = self._progress.add_task("import", total=update.bytes_total, events=0)
        name = Path(update.file).name
        self._progress.update(self._task, completed=update.bytes_done, events=update.events, description=name)


class _Lines:
    """Progress as occasional plain lines, for logs and pipes."""

    def __init__(self) -> None:
        self._file = ""
        self._tenth = 0
        self._start = time.monotonic()

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __call__(self, update: ProgressUpdate) -> None:
        tenth = update.bytes_done * 10 // max(update.bytes_total, 1)
        if update.file == self._file and tenth == self._tenth:
            return
        self._file, self._tenth = update.file, tenth
        elapsed = max(time.monotonic() - self._start, 1e-9)
        err_console.print(
            f"{update.file}: {tenth * 10}% of {update.bytes_total:,} bytes,"
            f" {update.events:,} events ({update.events / elapsed:,.0f}/s)",
            markup=False,
        )


def _files_table(report: ImportReport) -> Table:
    table = Table(title=f"session {report.session} ({report.name})", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("events", justify="right")
    table.add_column("per type")
    for file in report.files:
        counts = ", ".join(f"{name} {count:,}" for name, count in file.counts.items())
        table.add_row(Text(file.path), file.status, f"{sum(file.counts.values()):,}", Text(counts))
    return table


async def _plan(format_name: str, files: list[Path], symbol: str | None, exchange: str | None) -> ImportPlan:
    return plan_import(format_name, files, symbol=symbol, exchange=exchange)


def import_command(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files to import, in order.")],
    *,
    db: Annotated[Path, typer.Option("--db", help="The SQLite event log to import into (created if absent).")],
    session_name: Annotated[
        str | None, typer.Option("--session-name", help="Name of the session (default: made from the file names).")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Unified symbol (BTC/USDT), where the files do not tell it.")
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", help="ccxt exchange id (binance, binanceusdm, ...); required for ccxt-json."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (and no progress).")] = False,
) -> None:
    """Import recorded market data files into one session of an event log.

    Each file is atomic: a malformed line stops the import with file:line and leaves nothing of that file in the log.
    Running the same command again skips the files already imported.
    """
    if not db.parent.is_dir():
        raise fail(f"{db}: folder {db.parent} does not exist")
    # Everything about the files is checked before the log is opened (or created).
    plan = run(lambda: _plan(format_name, files, symbol, exchange))
    reporter = None if as_json else (_Bar() if err_console.is_terminal else _Lines())

    async def work() -> ImportReport:
        async with opened(db, readonly=False) as store:
            if reporter is None:
                return await import_files(store, plan, session_name=session_name)
            with reporter:
                return await import_files(store, plan, session_name=session_name, progress=reporter)

    report = run(work)
    if as_json:
        print_json(report.as_dict())
        return
    print_table(_files_table(report))
    total = sum(report.counts.values())
    out_console.print(f"imported {total:,} events; session {report.session}", markup=False)
