"""``virtuoso import FORMAT FILE... --db PATH``: recorded market data files into one session of a log.

The log is created if it does not exist. Progress goes to stderr (``_progress.py``): a bar
(ETA from the bytes read) in a terminal, a line per file and per tenth otherwise, nothing
with ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from virtuoso.cli._app import fail, out_console, print_json, run
from virtuoso.cli._progress import Reporter, progress
from virtuoso.cli._sessions import opened
from virtuoso.cli._tables import print_table
from virtuoso.importers import FORMATS, ImportPlan, ImportReport, ProgressUpdate, import_files, plan_import


def _reporter(show: Reporter) -> Callable[[ProgressUpdate], None]:
    def update(update: ProgressUpdate) -> None:
        show(update.bytes_done, update.bytes_total, name=update.file, detail=f"{update.events:,} events")

    return update


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


async def _plan(format_name: str, files: list[Path], **options: Any) -> ImportPlan:
    return plan_import(format_name, files, **options)


def import_command(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files to import, in order.")],
    *,
    db: Annotated[Path, typer.Option("--db", help="The SQLite event log to import into (created if absent).")],
    session_name: Annotated[
        str | None, typer.Option("--session-name", help="Name of the session (default: made from the file names).")
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", help="Unified symbol (BTC/USDT), where the files do not tell it (else with --force)."),
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", help="ccxt exchange id (binance, binanceusdm, ...); required for ccxt-json."),
    ] = None,
    markets: Annotated[
        Path | None,
        typer.Option(
            "--markets", help="A saved Binance exchangeInfo JSON: record the markets of the session's symbols."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Relabel: import as --symbol/--exchange even where the files name another."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (and no progress).")] = False,
) -> None:
    """Import recorded market data files into one session of an event log.

    Each file is atomic: a malformed line or a value the log refuses (NaN, a negative price, time 0) stops the import
    with file:line and leaves nothing of that file in the log; an empty, truncated or foreign file is refused before
    anything is written. Running the same command again skips the files already imported.
    """
    if not db.parent.is_dir():
        raise fail(f"folder {db.parent} does not exist", where=f"--db {db}")
    # Everything about the files is checked before the log is opened (or created).
    plan = run(
        lambda: _plan(format_name, files, symbol=symbol, exchange=exchange, markets=markets, force=force),
        where=f"import {format_name}",
    )

    async def work() -> ImportReport:
        async with opened(db, readonly=False) as store:
            with progress("import", unit="bytes", quiet=as_json) as show:
                reporter = None if show is None else _reporter(show)
                return await import_files(store, plan, session_name=session_name, progress=reporter)

    report = run(work)
    if as_json:
        print_json(report.as_dict())
        return
    print_table(_files_table(report))
    total = sum(report.counts.values())
    out_console.print(f"imported {total:,} events; session {report.session}", markup=False)
