"""Importing files into one session: atomic per file, resumable, with progress.

One call is one session. Its id is derived from what is imported, never from
file names: the format, the exchange(s), the symbols and kinds of rows the files
hold, and then either the first file's sha256 or, with a session name, that name
(so a capture is continued by listing its files from the first, or by naming the
session). Running the same import again finds the same
session: files already imported (known by their sha256, from the session's
:class:`~virtuoso.events.FileImported` events) are skipped, and the others are
imported after a :class:`~virtuoso.events.SessionResumed` event.

Before any session is opened every file is checked whole: it decompresses to the
end (a truncated or fake archive is refused), it holds something, and its first
line parses. Each file is then appended with
:meth:`~virtuoso.store.EventStore.append_atomic`: its events, its Gap events and
its FileImported record commit together or not at all. A malformed line, or a
value the log's rules refuse, stops the import at that file with ``file:line``;
the files before it stay committed and the session is ended with
``import failed: ...`` as its reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from virtuoso.errors import InvalidEventError, SessionError, UsageError, VirtuosoError
from virtuoso.events import Event, EventIdFactory, FileImported
from virtuoso.importers._markets import MarketsFile
from virtuoso.importers._output import MAX_NS, Continuity, Output
from virtuoso.importers._plan import FileJob, FilePlan, Format, Options
from virtuoso.importers._source import SourceFile, check_content, open_source
from virtuoso.store import EventFilter, EventStore, SessionInfo, imports_stream

Progress = Callable[["ProgressUpdate"], None]
"""Called as an import advances (between chunks, and once per file at its end)."""


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """How far an import is: bytes of the stored files read, events made, the file at hand."""

    file: str
    bytes_done: int
    bytes_total: int
    events: int


@dataclass(frozen=True, slots=True)
class FileReport:
    """What happened to one file: ``imported`` now, or ``skipped`` (imported before)."""

    path: str
    sha256: str
    bytes: int
    status: Literal["imported", "skipped"]
    counts: dict[str, int]
    skipped_lines: int = 0

    def as_dict(self) -> dict[str, object]:
        """The JSON form ``virtuoso import --json`` prints."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "status": self.status,
            "counts": self.counts,
            "skipped_lines": self.skipped_lines,
        }


@dataclass
class ImportReport:
    """The outcome of :func:`import_files`: the session and what each file gave."""

    session: str
    name: str
    format: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Events per type name written by this run (skipped files count nothing)."""
        total: dict[str, int] = {}
        for report in self.files:
            if report.status == "imported":
                for name, count in report.counts.items():
                    total[name] = total.get(name, 0) + count
        return dict(sorted(total.items()))

    def as_dict(self) -> dict[str, object]:
        """The JSON form ``virtuoso import --json`` prints."""
        return {
            "session": self.session,
            "name": self.name,
            "format": self.format,
            "counts": self.counts,
            "files": [f.as_dict() for f in self.files],
        }


def _formats() -> dict[str, Format]:
    from virtuoso.importers._capture import CaptureFormat  # noqa: PLC0415 - formats import this module
    from virtuoso.importers._ccxt import CcxtJsonFormat  # noqa: PLC0415
    from virtuoso.importers._vision import VisionFormat  # noqa: PLC0415

    return {f.name: f for f in (CaptureFormat(), VisionFormat(), CcxtJsonFormat())}


FORMATS = ("binance-capture", "binance-vision", "ccxt-json")
"""The importable formats, by the name ``virtuoso import`` takes."""


@dataclass(frozen=True)
class ImportPlan:
    """A checked import, not yet run: the format, the files (hashed) and what peeking at them told."""

    format: Format
    options: Options
    sources: list[SourceFile]
    plans: list[FilePlan]
    markets: MarketsFile | None = None
    """The markets file given with ``--markets``, parsed (``None`` without one)."""


def plan_import(
    format_name: str,
    paths: Sequence[str | Path],
    *,
    symbol: str | None = None,
    exchange: str | None = None,
    markets: str | Path | None = None,
    force: bool = False,
) -> ImportPlan:
    """Check the format and files and peek at each file, touching no store.

    Raises :class:`~virtuoso.errors.UsageError` (unknown format, missing, empty,
    truncated or unreadable file, a symbol or exchange the files do not tell, or
    one that contradicts what a file names unless ``force``;
    :class:`~virtuoso.errors.ConfigError`, a malformed ``markets`` file) or
    :class:`~virtuoso.errors.ImportFormatError` (a first line that does not parse).
    """
    fmt = _formats().get(format_name)
    if fmt is None:
        raise UsageError(f"unknown format {format_name!r}: choose one of {', '.join(FORMATS)}")
    if not paths:
        raise UsageError("no files to import")
    options = Options(symbol=symbol, exchange=exchange, force=force)
    sources = [SourceFile.of(Path(p)) for p in paths]
    for source in sources:
        check_content(source)
    plans = [_inspected(fmt, source, options) for source in sources]
    return ImportPlan(fmt, options, sources, plans, None if markets is None else MarketsFile.read(markets, plans))


def _inspected(fmt: Format, source: SourceFile, options: Options) -> FilePlan:
    plan = fmt.inspect(source, options)
    # A last net: each format names the line of a bad first time; none found at all ends here.
    if not 0 < plan.first_ts <= MAX_NS:
        raise UsageError(f"{source.label}: no time found in its first rows: is it a {fmt.name} file?")
    return plan


async def import_files(
    store: EventStore,
    format_name: str | ImportPlan,
    paths: Sequence[str | Path] = (),
    *,
    session_name: str | None = None,
    symbol: str | None = None,
    exchange: str | None = None,
    markets: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import ``paths`` (in order) of ``format_name`` into one session of ``store``.

    ``format_name`` may also be an :class:`ImportPlan` from :func:`plan_import`
    (then ``paths``, ``symbol``, ``exchange``, ``markets`` and ``force`` are the plan's).
    ``markets`` names a Binance exchangeInfo file: the session's markets are
    recorded from it (see :class:`~virtuoso.importers._markets.MarketsFile`). Raises
    :class:`~virtuoso.errors.ImportFormatError` (``file:line: what``) at the first
    malformed line, after ending the session; files before it stay imported.
    """
    if isinstance(format_name, ImportPlan):
        plan = format_name
    else:
        plan = plan_import(format_name, paths, symbol=symbol, exchange=exchange, markets=markets, force=force)
    run = _Run(store, fmt=plan.format, options=plan.options, sources=plan.sources, plans=plan.plans, progress=progress)
    run.markets = plan.markets
    return await run.go(session_name)


class _Run:
    """One import: the session, then each file in turn."""

    def __init__(
        self,
        store: EventStore,
        *,
        fmt: Format,
        options: Options,
        sources: list[SourceFile],
        plans: list[FilePlan],
        progress: Progress | None,
    ) -> None:
        self._store = store
        self._fmt = fmt
        self._options = options
        self._sources = sources
        self._plans = plans
        self._progress = progress
        self._total = sum(s.bytes for s in sources)
        self._done = 0
        self._events = 0
        self._last_recv = 0
        self.markets: MarketsFile | None = None

    async def go(self, session_name: str | None) -> ImportReport:
        name = session_name or _derived_name(self._fmt.name, self._sources)
        session_id = _session_id(self._fmt.name, self._plans, self._sources, session_name)
        info = await self._session(session_id, name)
        report = ImportReport(info.id, info.name, self._fmt.name)
        imported = await _imported_files(self._store, info.id)
        todo = [s for s in self._sources if s.sha256 not in imported]
        markets = await self.markets.events(self._store, info) if self.markets is not None else []
        if not todo and not markets:
            report.files = [_skipped(s, imported[s.sha256]) for s in self._sources]
            return report
        if info.status != "open":
            resumed = self._first_ts(todo[0]) if todo else info.ended_ns or info.started_ns
            await self._store.resume_session(info.id, resumed_ns=resumed, reason="import re-run")
        if markets:
            await self._store.append(markets)
        continuity = Continuity()
        seen: dict[str, FileImported] = dict(imported)
        for source, plan in zip(self._sources, self._plans, strict=True):
            if source.sha256 in seen:
                continuity.resume(seen[source.sha256].cursors)
                report.files.append(_skipped(source, seen[source.sha256]))
                self._advance(source, source.bytes)
                continue
            file_report, record = await self._import_file(info, source, plan, continuity)
            seen[source.sha256] = record
            report.files.append(file_report)
        ended = self._last_recv or info.ended_ns or info.started_ns
        await self._store.end_session(info.id, ended_ns=ended, reason=f"imported {len(todo)} file(s)")
        return report

    async def _session(self, session_id: str, name: str) -> SessionInfo:
        try:
            info = await self._store.session(session_id)
        except SessionError:
            pass
        else:
            if info.status == "open":
                raise SessionError(f"session {info.id} ({info.name}) is open: is another import of it running?")
            return info
        symbols = sorted({s for plan in self._plans for s in plan.symbols})
        channels = sorted({c for plan in self._plans for c in plan.channels})
        config = {
            "format": self._fmt.name,
            "files": [s.path.name for s in self._sources],
            "sha256": [s.sha256 for s in self._sources],
            "symbol": self._options.symbol,
            "exchange": self._options.exchange,
        }
        return await self._store.begin_session(
            name,
            self._fmt.name,
            started_ns=self._first_ts(self._sources[0]),
            symbols=symbols,
            channels=channels,
            config=config,
            session_id=session_id,
        )

    def _first_ts(self, source: SourceFile) -> int:
        return self._plans[self._sources.index(source)].first_ts

    async def _import_file(
        self, info: SessionInfo, source: SourceFile, plan: FilePlan, continuity: Continuity
    ) -> tuple[FileReport, FileImported]:
        out = Output(info.id, source.sha256[:16])
        job = FileJob(source, plan, self._options, out, continuity)
        holder: list[FileImported] = []
        try:
            try:
                await self._store.append_atomic(self._file_chunks(info, job, holder))
            except InvalidEventError as exc:
                # The importers check every value at its line first; this is the store's own net.
                raise UsageError(f"{source.label}: refused by the log: {exc}") from exc
        except VirtuosoError as exc:
            # The file left no trace; the session says why it ended, and a re-run resumes it.
            ended = self._last_recv or info.started_ns
            await self._store.end_session(info.id, ended_ns=ended, reason=f"import failed: {exc}")
            raise
        record = holder[0]
        file_report = FileReport(source.label, source.sha256, source.bytes, "imported", record.counts, out.skipped)
        return file_report, record

    async def _file_chunks(
        self, info: SessionInfo, job: FileJob, holder: list[FileImported]
    ) -> AsyncIterator[Sequence[Event]]:
        source, out, continuity = job.source, job.out, job.continuity
        start = self._done
        with open_source(source) as opened:
            for chunk in self._fmt.chunks(job, opened):
                self._events += len(chunk)
                self._advance(source, start + opened.position() - self._done)
                yield chunk
            self._advance(source, start + source.bytes - self._done)
        if not out.counts:
            raise UsageError(f"{source.label}: no events in it ({out.skipped:,} lines of streams not imported)")
        self._last_recv = max(self._last_recv, out.last_recv)
        record = FileImported(
            str(source.path),
            source.sha256,
            source.bytes,
            self._fmt.name,
            dict(sorted(out.counts.items())),
            continuity.cursors(),
        )
        holder.append(record)
        stream = imports_stream(info.id)
        ts = out.last_recv or info.started_ns
        ids = EventIdFactory(f"{stream}:{source.sha256}")
        yield [Event(ids(ts), stream, ts, ts, info.id, record)]

    def _advance(self, source: SourceFile, by: int) -> None:
        self._done += by
        if self._progress is not None:
            self._progress(ProgressUpdate(source.label, self._done, self._total, self._events))


async def imported_files(store: EventStore, session_id: str) -> list[FileImported]:
    """The files imported into session ``session_id`` so far, in the order they were imported."""
    stream = imports_stream(session_id)
    return [e.payload async for e in store.read(EventFilter(streams=(stream,))) if isinstance(e.payload, FileImported)]


async def _imported_files(store: EventStore, session_id: str) -> dict[str, FileImported]:
    return {record.sha256: record for record in await imported_files(store, session_id)}


def _skipped(source: SourceFile, record: FileImported) -> FileReport:
    return FileReport(source.label, source.sha256, source.bytes, "skipped", dict(record.counts))


def _derived_name(format_name: str, sources: Sequence[SourceFile]) -> str:
    names = [s.path.name for s in sources]
    shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
    return f"{format_name} {shown}"


def _session_id(format_name: str, plans: Sequence[FilePlan], sources: Sequence[SourceFile], name: str | None) -> str:
    """What is imported makes the id: format, exchanges, symbols and kinds of rows, then the first file's content.

    The first file starts the session: listing more files after it (now or in a
    later run) continues it, and fixing a broken later file and running again
    resumes it. With a session name, the name takes the place of the first file:
    a run that starts with the next file of the same market continues the named
    session. File names never count, so two markets' files of one name are two sessions.
    """
    exchanges = sorted({plan.exchange for plan in plans})
    symbols = sorted({symbol for plan in plans for symbol in plan.symbols})
    details = sorted({plan.detail for plan in plans})
    content = ["named", name] if name else ["first file", sources[0].sha256]
    parts = ["import", format_name, *exchanges, "|", *symbols, "|", *details, "|", *content]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
