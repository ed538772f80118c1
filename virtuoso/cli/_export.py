"""``virtuoso export``: a session or run of a log as one Parquet or CSV file per event type.

Thin: checks the command line, calls :func:`virtuoso.export.export`, prints a table or JSON.
The log is opened read-only and never created.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from virtuoso.backtest import BACKTEST_SOURCE
from virtuoso.cli._app import fail, out_console, print_json, run
from virtuoso.cli._progress import Reporter, progress
from virtuoso.cli._sessions import existing_log, opened
from virtuoso.cli._tables import print_table
from virtuoso.errors import UsageError
from virtuoso.export import FORMATS, ExportProgress, ExportReport, Format, export
from virtuoso.replay import RUN_SOURCE
from virtuoso.store import SQLiteEventStore

RUN_SOURCES = (RUN_SOURCE, BACKTEST_SOURCE)
"""Sources of run sessions (``--run`` accepts only these)."""


def _selected(session: str | None, run_id: str | None) -> tuple[str, bool]:
    """The session id or prefix asked for, and whether it must be a run."""
    if (session is None) == (run_id is None):
        raise fail("name exactly one of --session ID or --run ID", code=2)
    return (session, False) if session is not None else (str(run_id), True)


def _format(text: str) -> Format:
    for name in FORMATS:
        if text == name:
            return name
    raise fail(f"--format must be one of {', '.join(FORMATS)}, not {text!r}", code=2)


def _refuse_replacing(out: Path, fmt: str) -> None:
    """Files an export would replace (``<Type>.<fmt>`` in ``out``) are refused unless ``--force``."""
    found = sorted(p.name for p in out.glob(f"*.{fmt}")) if out.is_dir() else []
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise fail(f"it holds {len(found)} .{fmt} file(s) an export would replace ({shown}): "
                   "choose a new folder, or pass --force", where=f"--out {out}")  # fmt: skip


def _types(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


async def _resolve(store: SQLiteEventStore, wanted: str, must_be_run: bool) -> str:
    info = await store.session(wanted)
    if must_be_run and info.source not in RUN_SOURCES:
        raise UsageError(f"session {info.id} is a {info.source!r} session, not a run (use --session)")
    return info.id


def _on_progress(show: Reporter | None) -> Callable[[ExportProgress], None] | None:
    if show is None:
        return None
    return lambda p: show(p.done, p.total, detail=f"{p.rows:,} rows")


def export_command(
    *,
    db: Annotated[Path, typer.Option("--db", help="The SQLite event log (read-only; never created).")],
    session: Annotated[
        str | None, typer.Option("--session", help="Session id, or a unique prefix of at least 4 characters.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A replay or backtest run's id (or a unique prefix).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "parquet",
    out: Annotated[Path, typer.Option("--out", help="Output folder (created); files are named TYPE.FORMAT.")],
    types: Annotated[
        str | None, typer.Option("--types", help="Comma-separated event types (default: every type present).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the files and rows per type as JSON.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace files of the same format already in --out.")] = False,
) -> None:
    """Export a session or run as one Parquet or CSV file per event type, with typed columns."""
    wanted, must_be_run = _selected(session, run_id)
    chosen = _format(fmt)
    path = existing_log(db)
    if not force:
        _refuse_replacing(out, chosen)

    async def work() -> ExportReport:
        async with opened(path, readonly=True) as store:
            session_id = await _resolve(store, wanted, must_be_run)
            with progress("export", unit="", quiet=as_json) as show:
                return await export(store, session_id, out, chosen, types=_types(types), progress=_on_progress(show))

    report = run(work)
    if as_json:
        print_json(report.as_dict())
        return
    print_table(_files_table(report))
    total = sum(report.rows.values())
    out_console.print(f"exported {total:,} rows of session {report.session} to {report.out_dir}", markup=False)


def _files_table(report: ExportReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("type")
    table.add_column("rows", justify="right")
    table.add_column("file", overflow="fold")
    for name, file in report.files.items():
        table.add_row(name, f"{report.rows[name]:,}", Text(str(file)))
    return table
