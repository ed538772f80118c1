"""``virtuoso sessions``: list, show and verify the sessions of an event log, and print its head.

None of these commands creates a database: ``--db`` must name an existing file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from virtuoso.cli._app import err_console, fail, out_console, print_json, run
from virtuoso.cli._tables import print_table
from virtuoso.errors import UsageError
from virtuoso.events import FileImported
from virtuoso.importers import RecordedMarket, imported_files, session_markets
from virtuoso.store import (
    FAILED_PREFIX,
    KEY_ENV,
    SessionInfo,
    SQLiteEventStore,
    VerifyReport,
    imports_stream,
    open_sqlite_store,
    read_key_file,
)

sessions_app = typer.Typer(
    name="sessions",
    help="List, show, verify and prune the sessions of an event log.",
    no_args_is_help=True,
    add_completion=False,
)

RUN_SOURCES = ("replay", "backtest")
"""Sources of run sessions (``virtuoso.replay.RUN_SOURCE``, ``virtuoso.backtest.BACKTEST_SOURCE``): named here
because importing the backtest package costs most of a second; a test checks they agree."""

DbOption = Annotated[Path, typer.Option("--db", help="The SQLite event log to read (never created).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


# -- opening ---------------------------------------------------------------------


def existing_log(path: Path) -> Path:
    """``path`` when it names a non-empty file; otherwise the one-line error (nothing is created)."""
    where = f"--db {path}"
    if not path.exists():
        raise fail("no such file", where=where)
    if not path.is_file():
        raise fail("not a file", where=where)
    if path.stat().st_size == 0:
        # Opened writable, an empty file would silently become a new event log.
        raise fail("empty file, not an event log", where=where)
    return path


def writable(path: Path) -> bool:
    """Whether the log and its folder can be written (a read-only folder or mount, or file, cannot):
    a command that only reads opens a log it cannot write read-only, and so creates nothing beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


@contextmanager
def _store_log_quiet() -> Iterator[None]:
    # We print one line per recovered session ourselves; with no handler configured the
    # library's warning would reach stderr a second time through logging's last resort.
    logger = logging.getLogger("virtuoso.store")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@asynccontextmanager
async def opened(path: Path, *, readonly: bool) -> AsyncIterator[SQLiteEventStore]:
    """The store at ``path``, closed on exit. Writable opens recover sessions of dead
    processes, and each one recovered is reported on stderr."""
    with _store_log_quiet():
        store = await open_sqlite_store(path, readonly=readonly)
    try:
        for session_id in store.recovered:
            err_console.print(f"session {session_id} was left open by a dead process: marked crashed", markup=False)
        yield store
    finally:
        await store.close()


# -- formatting ------------------------------------------------------------------


def iso(ns: int | None, timespec: str = "seconds") -> str:
    """``ns`` since the epoch as UTC ISO 8601; ``-`` for None.

    >>> iso(1_723_161_255_123_456_789), iso(1_723_161_255_123_456_789, "milliseconds")
    ('2024-08-08T23:54:15Z', '2024-08-08T23:54:15.123Z')
    """
    if ns is None:
        return "-"
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


SESSIONS_DROP = ("first event (UTC)", "source", "symbols", "last event (UTC)")
"""Columns of ``sessions list`` a narrow terminal drops, in this order."""


def sessions_table(infos: list[SessionInfo]) -> Table:
    """The table ``virtuoso sessions list`` prints."""
    table = Table(title="sessions", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("id", "name", "source", "symbols"):
        table.add_column(name)
    table.add_column("status")
    table.add_column("events", justify="right")
    table.add_column("first event (UTC)", no_wrap=True)
    table.add_column("last event (UTC)", no_wrap=True)
    chained = any(info.manifest.get("previous") for info in infos)  # a log that never rotated: no empty column
    if chained:
        table.add_column("previous")
    for info in infos:
        previous = [Text(str(info.manifest.get("previous") or "")[:12])] if chained else []
        table.add_row(
            Text(info.id),
            Text(info.name),
            Text(info.source),
            Text(",".join(info.symbols)),
            _status(info),
            str(info.events),
            iso(info.first_ts_event),
            iso(info.last_ts_event),
            *previous,
        )
    return table


def _status(info: SessionInfo) -> Text:
    status = "failed" if info.failed else info.status
    return Text(status, style={"open": "yellow", "closed": "green"}.get(status, "red"))


def is_failed_run(info: SessionInfo) -> bool:
    """A run (replay or backtest) that failed or crashed: what ``sessions list`` hides without ``--all``."""
    return info.source in RUN_SOURCES and info.status == "crashed"


def shown_sessions(infos: list[SessionInfo], *, show_all: bool) -> list[SessionInfo]:
    """The sessions a listing shows: all of them with ``show_all``, else all but failed runs, whose count
    goes to stderr as ``N failed runs hidden (--all shows them)``."""
    if show_all:
        return infos
    hidden = sum(1 for info in infos if is_failed_run(info))
    if hidden:
        err_console.print(f"{hidden} failed run{'s' if hidden > 1 else ''} hidden (--all shows them)", markup=False)
    return [info for info in infos if not is_failed_run(info)]


def session_detail(
    info: SessionInfo, files: list[FileImported], markets: list[RecordedMarket] | None = None
) -> dict[str, Any]:
    """What ``virtuoso sessions show --json`` prints: the summary, manifest, per-stream counts, imported files
    and recorded markets."""
    detail = info.summary()
    first, last = info.first_ts_event, info.last_ts_event
    detail.update(
        end_reason=info.end_reason,
        span_ns=None if first is None or last is None else last - first,
        config_hash=info.config_hash,
        manifest=dict(info.manifest),
        streams={name: asdict(stats) for name, stats in info.streams.items()},
        files=[_file_detail(record) for record in files],
        markets=[recorded.as_dict() for recorded in markets or ()],
    )
    return detail


def _file_detail(record: FileImported) -> dict[str, Any]:
    return {
        "path": record.path,
        "sha256": record.sha256,
        "bytes": record.bytes,
        "format": record.format,
        "counts": dict(sorted(record.counts.items())),
    }


def _detail_grid(info: SessionInfo) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    reason = info.end_reason.removeprefix(FAILED_PREFIX) if info.failed else info.end_reason
    status = _status(info) + Text(f" ({reason})" if reason else "")
    rows: list[tuple[str, str | Text]] = [
        ("id", info.id),
        ("name", info.name),
        ("source", info.source),
        ("symbols", ", ".join(info.symbols) or "-"),
        ("channels", ", ".join(info.channels) or "-"),
        ("status", status),
        ("started", iso(info.started_ns, "milliseconds")),
        ("ended", iso(info.ended_ns, "milliseconds")),
        ("events", str(info.events)),
        ("time span", _span(info.first_ts_event, info.last_ts_event)),
        ("config hash", info.config_hash),
    ]
    rows += [(f"manifest.{key}", _plain(value)) for key, value in info.manifest.items() if key != "config_hash"]
    for key, value in rows:
        grid.add_row(key, value if isinstance(value, Text) else Text(value))
    return grid


def _span(first: int | None, last: int | None) -> str:
    if first is None or last is None:
        return "-"
    return f"{iso(first, 'milliseconds')} .. {iso(last, 'milliseconds')} ({(last - first) / 1e9:.3f} s)"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _streams_table(info: SessionInfo) -> Table:
    table = Table(title="streams", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("stream")
    for name in ("events", "first position", "last position"):
        table.add_column(name, justify="right")
    table.add_column("first event (UTC)", no_wrap=True)
    table.add_column("last event (UTC)", no_wrap=True)
    for name, stats in info.streams.items():
        table.add_row(
            Text(name),
            str(stats.events),
            str(stats.first_position),
            str(stats.last_position),
            iso(stats.first_ts_event, "milliseconds"),
            iso(stats.last_ts_event, "milliseconds"),
        )
    return table


def _files_table(files: list[FileImported]) -> Table:
    table = Table(title="imported files", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("path", "format", "sha256"):
        table.add_column(name)
    table.add_column("bytes", justify="right")
    table.add_column("events", justify="right")
    for record in files:
        events = str(sum(record.counts.values()))
        table.add_row(Text(record.path), record.format, record.sha256[:16], str(record.bytes), events)
    return table


def _markets_table(markets: list[RecordedMarket]) -> Table:
    table = Table(title="markets", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("symbol")
    for name in ("tick", "step", "min amount", "min notional"):
        table.add_column(name, justify="right")
    for name in ("fees (maker/taker bps)", "source", "since (UTC)"):
        table.add_column(name, no_wrap=True)
    for recorded in markets:
        m = recorded.market
        rules = (f"{value:g}" if value else "-" for value in (m.tick_size, m.amount_step, m.min_amount, m.min_notional))
        fees = "-" if m.maker_fee_bps is None and m.taker_fee_bps is None else f"{m.maker_fee_bps}/{m.taker_fee_bps}"
        stale = recorded.stale_age_s
        source = recorded.source if stale is None else f"{recorded.source}, {stale:g} s old"
        table.add_row(Text(m.symbol), *rules, fees, source, iso(recorded.since_ns, "milliseconds"))
    return table


def print_verify(path: Path, report: VerifyReport, *, as_json: bool) -> None:
    """Print a verify report: JSON, or a line saying intact or where the damage starts."""
    if as_json:
        print_json({"path": str(path), **asdict(report)})
        return
    if report.ok:
        keyed = ", every batch's MAC checked with the key" if report.keyed else ""
        out_console.print(f"[green]intact[/green]: {report.events} events in {report.batches} batches{keyed}")
    else:
        where = "" if report.first_bad_position is None else f" at position {report.first_bad_position}"
        out_console.print(Text.assemble(("damaged", "bold red"), f"{where}: {report.problem}"))
        out_console.print(f"intact before it: {report.batches} batches")
    out_console.print(f"head: {report.head}")


# -- commands --------------------------------------------------------------------


def _listed(info: SessionInfo) -> dict[str, object]:
    """A session's summary, with ``previous`` when it is a rotated session and ``failed`` when it failed."""
    summary = info.summary()
    previous = info.manifest.get("previous")
    if previous is not None:
        summary["previous"] = previous
    if info.failed:
        summary["failed"] = True
    return summary


@sessions_app.command("list")
def list_sessions(
    db: DbOption,
    as_json: JsonOption = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also list failed and crashed runs.")] = False,
) -> None:
    """List the sessions of the log, oldest first (failed or crashed runs only with --all)."""
    path = existing_log(db)

    async def work() -> list[SessionInfo]:
        async with opened(path, readonly=not writable(path)) as store:
            return await store.sessions()

    infos = shown_sessions(run(work), show_all=show_all)
    if as_json:
        print_json([_listed(info) for info in infos])
    else:
        print_table(sessions_table(infos), drop=SESSIONS_DROP)


@sessions_app.command("show")
def show_session(
    db: DbOption,
    session: Annotated[str, typer.Argument(help="Session id, or a unique prefix of at least 4 characters.")],
    as_json: JsonOption = False,
) -> None:
    """Show one session: manifest, time span, per-stream counts, the files imported into it and its markets."""
    path = existing_log(db)

    async def work() -> tuple[SessionInfo, list[FileImported], list[RecordedMarket]]:
        async with opened(path, readonly=not writable(path)) as store:
            info = await store.session(session)
            files = await imported_files(store, info.id) if imports_stream(info.id) in info.streams else []
            return info, files, await session_markets(store, info.id)

    info, files, markets = run(work)
    if as_json:
        print_json(session_detail(info, files, markets))
    else:
        print_table(_detail_grid(info))
        print_table(_streams_table(info), drop=("first position", "first event (UTC)", "last position"))
        if files:
            print_table(_files_table(files), drop=("sha256", "format", "bytes"))
        if markets:
            print_table(_markets_table(markets), drop=("since (UTC)", "source", "min notional", "min amount"))


KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help=f"File holding the log key (default: ${KEY_ENV} if set): every batch's HMAC must match it.",
    ),
]
ExpectHeadOption = Annotated[
    str | None,
    typer.Option("--expect-head", help="A head hash kept from earlier: the log must still pass through it."),
]


@sessions_app.command("verify")
def verify_log(
    db: DbOption,
    as_json: JsonOption = False,
    key_file: KeyFileOption = None,
    expect_head: ExpectHeadOption = None,
) -> None:
    """Check the hash chain and bookkeeping of the whole log (read-only).

    With a key (``--key-file`` or $VIRTUOSO_LOG_KEY) every batch's HMAC is checked;
    with ``--expect-head`` the log must contain that head. Exits 0 when the log is
    intact, 1 at the first problem found.
    """
    path = existing_log(db)

    async def work() -> VerifyReport:
        key: bytes | Literal["env"] = "env" if key_file is None else read_key_file(key_file)
        with _store_log_quiet():
            store = await open_sqlite_store(path, readonly=True, key=key)
        async with store:
            return await store.verify(expect_head=expect_head)

    report = run(work)
    print_verify(path, report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


@sessions_app.command("head")
def print_head(db: DbOption, as_json: JsonOption = False) -> None:
    """Print the log's head (last position, batch count, hash) to keep elsewhere (read-only).

    Later, ``virtuoso sessions verify --expect-head HASH`` fails if the log no longer
    contains it (truncated or rewritten). The head is read as stored: run verify to
    check that the log reproduces it.
    """
    path = existing_log(db)

    async def work() -> tuple[int, int, str]:
        async with opened(path, readonly=True) as store:
            return await store.head()

    position, batches, digest = run(work)
    if as_json:
        print_json({"path": str(path), "position": position, "batches": batches, "head": digest})
    else:
        out_console.print(f"position {position}, {batches} batches, head {digest}", markup=False, highlight=False)


@sessions_app.command("prune")
def prune_sessions(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="The new log to write (must not exist; never overwritten).")],
    session: Annotated[
        list[str] | None, typer.Option("--session", help="A session or run to leave out: id or prefix (repeatable).")
    ] = None,
    crashed: Annotated[
        bool, typer.Option("--crashed", help="Leave out every crashed (or still open) session.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a new log without chosen sessions and runs (the log is append-only), verified; the old one is kept.

    Runs computed from a session left out are left out too. Exits 1, writing nothing, when nothing is chosen.
    """
    from virtuoso.prune import Dropped, choose_dropped, prune_log  # noqa: PLC0415  # one command's need

    path = existing_log(db)
    if not session and not crashed:
        raise fail("name what to leave out: --session ID (repeatable) or --crashed", code=2)

    async def choose() -> list[Dropped]:
        async with opened(path, readonly=True) as store:
            dropped: list[Dropped] = await choose_dropped(store, session or [], crashed=crashed)
        if not dropped:
            raise UsageError(f"no crashed or open session: nothing to prune ({path})")
        return dropped

    dropped = run(choose)
    report = run(lambda: prune_log(path, out, dropped), where=f"--out {out}")
    if as_json:
        print_json(report.as_dict())
        return
    print_table(_dropped_table(report))
    out_console.print(
        f"wrote {report.out}: {report.kept_sessions} sessions, {report.kept_events:,} events; verified intact, "
        f"every kept event present with its payload; {path} is unchanged",
        markup=False,
    )


def _dropped_table(report: Any) -> Table:
    table = Table(title="left out", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("id", "name", "source", "status", "events", "why"):
        table.add_column(name, justify="right" if name == "events" else "left", no_wrap=name == "id")
    for item in report.dropped:
        info = item.session
        table.add_row(info.id, Text(info.name), info.source, _status(info), str(info.events), item.why)
    return table
