"""``virtuoso migrate``: a row log rewritten into the columnar layout, with the proof that nothing changed.

The copy is made by :func:`virtuoso.store.migrate_log` (batch by batch, the hash
chain's head the same). This command then replays every recorded session of
both logs with the default analyzers and compares the digests; any difference
removes the copy and fails. The source is only read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from virtuoso.app import AppConfig
from virtuoso.cli._app import err_console, error_text, fail, out_console, print_json, run
from virtuoso.cli._replay import _run_config
from virtuoso.cli._sessions import RUN_SOURCES, existing_log
from virtuoso.errors import VirtuosoError
from virtuoso.replay import ReplayOptions, replay_run
from virtuoso.store import migrate_log, open_sqlite_store


def migrate_command(
    db: Annotated[Path, typer.Option("--db", help="The row-layout event log to migrate (only read).")],
    to: Annotated[Path, typer.Option("--to", help="The columnar log to write (must not exist).")],
    skip_replays: Annotated[
        bool, typer.Option("--skip-replays", help="Prove the copy by its hash chain only, not also by replays.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Rewrite a row-layout event log into the columnar layout; prove it by the chain's head and replay digests."""
    existing_log(db)
    if to.exists():
        raise fail(f"{to} exists: migrate writes a new log and never overwrites a file", where=f"--to {to}")
    if not to.parent.is_dir():
        raise fail(f"{to.parent}: no such folder", where=f"--to {to}")

    async def work() -> dict[str, Any]:
        report = await migrate_log(db, to)
        sessions = [] if skip_replays else await _recorded_sessions(db)
        checked = []
        for number, session in enumerate(sessions, 1):
            source, copy = await _digest(db, session), await _digest(to, session)
            checked.append({"session": session, "source": source, "copy": copy})
            if not json_output:  # a line per session: replaying months is never silent
                err_console.print(f"replay {number} of {len(sessions)}: {session} {source[:16]}", markup=False)
            if source != copy:
                _remove(to)
                raise fail(f"session {session} replays to {source} in the source and {copy} in the copy: copy removed")
        return {
            "source": str(db),
            "copy": str(to),
            "events": report.events,
            "batches": report.batches,
            "head": report.head,
            "bytes_source": db.stat().st_size,
            "bytes_copy": to.stat().st_size,
            "replays": checked,
            "ok": True,
        }

    summary = run(work)
    if json_output:
        print_json(summary)
        return
    _print(summary, skip_replays)


async def _recorded_sessions(path: Path) -> list[str]:
    """Sessions of recorded or imported data (runs are checked by the chain: their events are copied as stored)."""
    store = await open_sqlite_store(path, readonly=True)
    try:
        return [s.id for s in await store.sessions() if s.source not in RUN_SOURCES and s.streams]
    finally:
        await store.close()


async def _digest(path: Path, session: str) -> str:
    """The digest of ``session`` replayed with the default analyzers, or the one-line error the replay ended with."""
    config = _run_config(
        session=session, start=None, end=None, types=None, streams=None, symbols=None,
        analyzers="default", order="position", seed=0,
    )  # fmt: skip
    try:
        result = await replay_run(
            AppConfig(db=path, workers=1, readonly=True), config, options=ReplayOptions(), write=False
        )
    except VirtuosoError as exc:
        return f"error: {error_text(exc)}"
    return result.digest


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _print(summary: dict[str, Any], skip_replays: bool) -> None:
    ratio = summary["bytes_copy"] / max(summary["bytes_source"], 1)
    count = len(summary["replays"])
    sessions = f"{count} recorded session{'' if count == 1 else 's'}"
    replays = "not run (--skip-replays)" if skip_replays else f"{sessions}, the same digest in both"
    lines = [
        ("migrated", f"{summary['source']} -> {summary['copy']}"),
        ("events", f"{summary['events']:,} in {summary['batches']:,} batches"),
        ("head", f"{summary['head']} (the same in both)"),
        ("bytes", f"{summary['bytes_source']:,} -> {summary['bytes_copy']:,} ({ratio:.2f}x)"),
        ("replays", replays),
    ]
    for key, value in lines:
        out_console.print(f"{key:<9} {value}", markup=False)
