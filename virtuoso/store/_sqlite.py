"""The SQLite backend: one aiosqlite writer connection (WAL) and one reader, over the row codec."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import aiosqlite

from virtuoso.errors import (
    ConcurrencyError,
    CorruptDatabaseError,
    DatabaseError,
    SessionError,
    StoreClosedError,
    StoreError,
    StoreFullError,
    UsageError,
)
from virtuoso.events import REGISTRY, Event, TypeRegistry
from virtuoso.store._chain import GENESIS, batch_hash, batch_mac
from virtuoso.store._column_chunks import ColumnChunk, column_chunks
from virtuoso.store._columnar_seal import SEAL_WAIT_S
from virtuoso.store._keys import FROM_ENV, KeySource, resolve_key
from virtuoso.store._models import AppendResult, EventFilter, SessionInfo, SessionStatus, StreamStats, VerifyReport
from virtuoso.store._owner import owner_alive, owner_token
from virtuoso.store._pages import build_query, read_pages
from virtuoso.store._rows import (
    AppendTotals,
    Batch,
    Catalog,
    Columns,
    ExpectedVersion,
    batch_numbers,
    build_batch,
    check_expected,
    context_for,
    header_values,
    rows_to_events,
    started_sessions,
    stream_stats_updates,
    unique_by_id,
    unknown_session_error,
)
from virtuoso.store._schema import SCHEMA_VERSION
from virtuoso.store._sqlite_io import (
    BUSY_TIMEOUT_S,
    Layout,
    check_identity,
    configure_writer,
    connect,
    file_layout,
    migrate,
    translated,
)
from virtuoso.store._store import EventStore, log
from virtuoso.store._verify import verify_log

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL", "EXTRA"]

_SESSION_BOUNDS = "SELECT min(first_position), max(last_position) FROM session_streams WHERE session = ?"
_UPSERT_STATS = """INSERT INTO session_streams VALUES (?,?,?,?,?,?,?)
    ON CONFLICT (session, stream) DO UPDATE SET
        events = events + excluded.events,
        first_ts_event = min(first_ts_event, excluded.first_ts_event),
        last_ts_event = max(last_ts_event, excluded.last_ts_event),
        last_position = excluded.last_position"""
_ID_CHUNK = 500
_HEADERS = (
    "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns FROM sessions WHERE seq IN ({})"
)
_TIP = (
    "SELECT (SELECT max(position) FROM events), b.seq, b.hash"
    " FROM (SELECT 1) LEFT JOIN (SELECT seq, hash FROM batches ORDER BY seq DESC LIMIT 1) b"
)


class DuplicateIds(Exception):
    """Internal: the insert hit an id that is already stored."""


class SQLiteEventStore(EventStore):
    """The event log in one SQLite file (on a :class:`SQLiteBackend`). Open it with :func:`open_sqlite_store`."""

    def __init__(self, backend: SQLiteBackend) -> None:
        super().__init__(backend)
        self._sqlite = backend

    @property
    def path(self) -> Path:
        """The log's file."""
        return self._sqlite.path

    @property
    def layout(self) -> Layout:
        """How the file stores events: ``"rows"`` (a row each) or ``"columnar"`` (compressed batches)."""
        return self._sqlite.LAYOUT

    async def head(self) -> tuple[int, int, str]:
        """The stored head: (last position, batch count, hash in hex) of the last committed batch.

        Read as stored, not recomputed: :meth:`verify` checks that the log reproduces it.
        """
        self._check_open()
        return await self._sqlite.head()

    async def wait_sealed(self) -> None:
        """Return once the sealing queued so far is done (a columnar log seals ended sessions in the background).

        Nothing to wait for in a row log or a read-only one.
        """
        self._check_open()
        await self._sqlite.sealing_idle()


class SQLiteBackend:
    """The :class:`~virtuoso.store.StorageBackend` of one SQLite file: a row per event, a row per batch."""

    LAYOUT: ClassVar[Layout] = "rows"

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection | None,
        reader: aiosqlite.Connection,
        registry: TypeRegistry,
        *,
        key: bytes | None = None,
        schema: int = SCHEMA_VERSION,
    ) -> None:
        self._catalog = Catalog(registry)
        self._closed = False
        self.path = path
        self._writer = writer
        self._reader = reader
        self._key = key
        self.schema = schema
        self.met_full_disk = False
        """Whether a write transaction failed on a full disk (its caller got the ``StoreFullError``)."""
        # One transaction at a time on the writer connection: an atomic append keeps
        # its transaction open across awaits, and nothing else may run inside it.
        self._write_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The numbers of this log's streams, kinds and sessions, as far as this connection knows them."""
        return self._catalog

    async def resume_background(self) -> None:
        """Start what a writable open leaves running (a row log: nothing)."""

    async def sealing_idle(self) -> None:
        """Return once background sealing is idle (a row log never seals)."""

    async def close(self) -> None:
        """Close both connections, checkpointing the WAL into the file first."""
        self._closed = True
        await self._reader.close()
        if self._writer is not None:
            try:
                # Fold the WAL back into the main file so a closed log is one self-contained file.
                with translated(self.path):
                    await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await self._writer.close()

    async def checkpoint(self) -> None:
        """Fold the WAL back into the file, if no reader holds it now."""
        # Without waiting: TRUNCATE waits for every reader to leave its snapshot, and a recording cannot stall
        # on a reader. A busy checkpoint is left to the next one (and SQLite's own autocheckpoint).
        async with self._write_lock:
            db = self._db()
            with translated(self.path):
                async with db.execute("PRAGMA busy_timeout") as cursor:
                    row = await cursor.fetchone()
                await db.execute("PRAGMA busy_timeout = 0")
                try:
                    async with db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                        result = await cursor.fetchone()
                finally:
                    await db.execute(f"PRAGMA busy_timeout = {int(row[0]) if row else 0}")
        if result is not None and result[0]:
            log.info(
                "%s: the WAL could not be checkpointed now (a reader holds it); the next checkpoint will", self.path
            )

    def _db(self) -> aiosqlite.Connection:
        if self._closed:
            raise StoreClosedError(f"{self.path}: the store is closed")
        if self._writer is None:
            raise UsageError(f"{self.path}: opened read-only")
        return self._writer

    async def load_catalog(self) -> None:
        """Learn every stream, kind and session number the log holds."""
        db = self._reader
        with translated(self.path):
            for seq, name in await db.execute_fetchall("SELECT seq, name FROM streams"):
                self._catalog.add_stream(seq, name)
            for seq, type_name, schema in await db.execute_fetchall("SELECT seq, type, schema FROM kinds"):
                self._catalog.add_kind(seq, type_name, schema)
            for seq, session_id in await db.execute_fetchall("SELECT seq, id FROM sessions"):
                self._catalog.add_session(seq, session_id)

    # -- appends -------------------------------------------------------------------

    async def append(self, columns: Columns, expected: ExpectedVersion) -> AppendResult:
        """One batch in one transaction; on a stored id, again without the stored ids."""
        known: set[str] | None = None

        async def work(db: aiosqlite.Connection) -> AppendResult:
            return await self._append_in_transaction(db, columns, expected, known)

        for _ in range(2):
            try:
                return await self._transaction(work)
            except DuplicateIds:
                known = await self._existing_ids(columns.events)
        raise AssertionError("unreachable: the second attempt knows every stored id")

    async def append_atomic(self, chunks: AsyncIterator[Columns]) -> AppendResult:
        """Every chunk in one transaction, each chunk under a savepoint."""

        async def work(db: aiosqlite.Connection) -> AppendResult:
            totals = AppendTotals()
            async for columns in chunks:
                totals.add(await self._append_chunk(db, columns))
            return totals.result()

        return await self._transaction(work)

    async def _transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]], *, own: bool = False) -> T:
        """Run ``work`` in one write transaction: everything it wrote commits, or nothing does.

        Catalog numbers (streams, kinds, sessions) made inside are forgotten unless
        the COMMIT succeeds, so no later append can use a number the log lacks. A
        full disk is remembered (``met_full_disk``) unless the work is the store's
        ``own`` (sealing), whose caller is nobody.
        """
        db = self._db()
        try:
            async with self._write_lock:
                return await self._locked_transaction(db, work)
        except StoreFullError:
            self.met_full_disk = self.met_full_disk or not own
            raise

    async def _locked_transaction(
        self, db: aiosqlite.Connection, work: Callable[[aiosqlite.Connection], Awaitable[T]]
    ) -> T:
        """:meth:`_transaction` for a caller already holding the write lock."""
        with translated(self.path):
            await db.execute("BEGIN IMMEDIATE")
            try:
                result = await work(db)
                await db.execute("COMMIT")
            except BaseException:
                await self._abort(db)
                raise
            return result

    async def _append_chunk(self, db: aiosqlite.Connection, columns: Columns) -> AppendResult:
        """One chunk of an atomic append, inside its transaction; a savepoint undoes a duplicate-id attempt."""
        # Numbered before the savepoint, so rolling back to it never forgets a stream or kind the catalog knows.
        await self._ensure_catalog(db, columns)
        await db.execute("SAVEPOINT chunk")
        try:
            result = await self._append_in_transaction(db, columns, None, None)
        except DuplicateIds:
            await db.execute("ROLLBACK TO chunk")
            known = await self._existing_ids(columns.events)
            result = await self._append_in_transaction(db, columns, None, known)
        await db.execute("RELEASE chunk")
        return result

    async def _append_in_transaction(
        self, db: aiosqlite.Connection, columns: Columns, expected: ExpectedVersion, known: set[str] | None
    ) -> AppendResult:
        events = columns.events
        await self._ensure_catalog(db, columns)
        streams = columns.distinct_streams()
        heads = await self._heads(db, [*streams, *_expected_streams(expected, streams)])
        try:
            check_expected(expected, streams, heads)
        except ConcurrencyError:
            if len(await self._existing_ids(events)) == len({e.id for e in events}):
                return AppendResult(0, len(events))
            raise
        if known is not None:
            fresh = unique_by_id(events, known)
            if not fresh:
                return AppendResult(0, len(events))
            columns = Columns.of(fresh)
        return await self._insert(db, columns, heads, duplicates=len(events) - len(columns.events))

    async def _insert(
        self, db: aiosqlite.Connection, columns: Columns, heads: dict[str, int], duplicates: int
    ) -> AppendResult:
        ((last_position, last_seq, previous),) = await db.execute_fetchall(self._tip_sql)
        first = (last_position or 0) + 1
        batch = build_batch(columns, first, heads, self._catalog)
        await self._store_batch(db, batch, columns)
        await self._link(db, batch, (last_seq or 0) + 1, previous or GENESIS)
        ids = self._catalog.stream_ids
        await db.executemany("UPDATE streams SET version = ? WHERE seq = ?", [(v, ids[s]) for s, v in heads.items()])
        stats = stream_stats_updates(batch, columns)
        await db.executemany(_UPSERT_STATS, [(*key, *values) for key, values in stats.items()])
        return AppendResult(len(batch), duplicates, first, batch.last_position)

    _tip_sql = _TIP
    """(last stored position, last batch number, last batch hash), one row even for an empty log."""

    async def _store_batch(self, db: aiosqlite.Connection, batch: Batch, columns: Columns) -> None:
        """Write the batch's events (a row each); a stored id raises ``DuplicateIds``."""
        try:
            for sql, params in batch.inserts():
                await db.executemany(sql, params)
        except sqlite3.IntegrityError as exc:
            if "events.id" in str(exc):
                raise DuplicateIds from exc
            raise

    async def _link(self, db: aiosqlite.Connection, batch: Batch, batch_seq: int, previous: bytes) -> None:
        """The batch's link of the hash chain (and MAC, with a key): the same whatever the layout."""
        first, last = batch.first_position, batch.last_position
        used = batch_numbers(batch)
        headers = await self._headers(
            db, started_sessions(batch.columns.kind, batch.columns.session, used, self._catalog)
        )
        digest = batch_hash(previous, batch.columns, context_for(used, self._catalog, headers))
        mac = None if self._key is None else batch_mac(self._key, batch_seq, first, last, digest)
        await db.execute("INSERT INTO batches VALUES (?,?,?,?,?)", (batch_seq, first, last, digest, mac))

    async def _abort(self, db: aiosqlite.Connection) -> None:
        """Undo a failed transaction, whatever failed (a statement, or the COMMIT itself)."""
        try:
            if db.in_transaction:  # SQLite may already have rolled back (a full disk, an I/O error)
                # A failed ROLLBACK leaves nothing to keep: SQLite ends the transaction on close.
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
        finally:
            # Numbers made inside the transaction are gone: relearn what is committed
            # (or, if the log cannot be read now, on the next read or append).
            self._catalog.forget_uncommitted()
            with contextlib.suppress(StoreError):
                await self.load_catalog()

    async def _headers(self, db: aiosqlite.Connection, sessions: list[int]) -> list[Any]:
        if not sessions:
            return []
        return list(await db.execute_fetchall(_HEADERS.format(",".join("?" * len(sessions))), sessions))

    async def _heads(self, db: aiosqlite.Connection, streams: Sequence[str]) -> dict[str, int]:
        names = list(dict.fromkeys(streams))
        marks = ",".join("?" * len(names))
        rows = await db.execute_fetchall(f"SELECT name, version FROM streams WHERE name IN ({marks})", names)
        return dict(rows)  # type: ignore[arg-type]

    async def _ensure_catalog(self, db: aiosqlite.Connection, columns: Columns) -> None:
        streams, kinds, sessions = self._catalog.missing(columns)
        if sessions:
            await self._reload_sessions(db)
            _, _, sessions = self._catalog.missing(columns)
            if sessions:
                raise unknown_session_error(sessions)
        for name in streams:
            await db.execute("INSERT OR IGNORE INTO streams (name) VALUES (?)", (name,))
            ((seq,),) = await db.execute_fetchall("SELECT seq FROM streams WHERE name = ?", (name,))
            self._catalog.add_stream(seq, name)
        for type_name, schema in kinds:
            await db.execute("INSERT OR IGNORE INTO kinds (type, schema) VALUES (?, ?)", (type_name, schema))
            ((seq,),) = await db.execute_fetchall(
                "SELECT seq FROM kinds WHERE type = ? AND schema = ?", (type_name, schema)
            )
            self._catalog.add_kind(seq, type_name, schema)

    async def _reload_sessions(self, db: aiosqlite.Connection) -> None:
        for seq, session_id in await db.execute_fetchall("SELECT seq, id FROM sessions"):
            self._catalog.add_session(seq, session_id)

    async def _existing_ids(self, events: Sequence[Event]) -> set[str]:
        ids = list(dict.fromkeys(e.id for e in events))
        found: set[str] = set()
        db = self._db()
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = await db.execute_fetchall(f"SELECT id FROM events WHERE id IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    # -- reads ---------------------------------------------------------------------

    def read_columns(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[ColumnChunk, None]:
        """The events of :meth:`read_chunks` as columns (a row layout transposes each chunk)."""
        return column_chunks(self.read_chunks(flt, chunk_size))

    async def read_chunks(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[list[Event], None]:
        """Events matching ``flt`` in position order, ``chunk_size`` at a time."""
        await self.load_catalog()
        query = build_query(await self._within_session(flt), self._catalog)
        if query is None:
            return
        async for rows in read_pages(self._reader, self.path, query, chunk_size):
            yield await self._decode(rows)

    async def last_event(self, flt: EventFilter) -> Event | None:
        """The newest event (highest position) matching ``flt``; None when none does."""
        await self.load_catalog()
        query = build_query(await self._within_session(flt), self._catalog, newest_first=True)
        if query is None:
            return None
        async for rows in read_pages(self._reader, self.path, query, 1):
            return (await self._decode(rows))[0]
        return None

    async def _within_session(self, flt: EventFilter) -> EventFilter:
        """``flt`` with its positions narrowed to its session's first and last events: no scan from the log's start."""
        number = None if flt.session is None else self._catalog.session_ids.get(flt.session)
        if number is None:
            return flt
        with translated(self.path):
            ((first, last),) = await self._reader.execute_fetchall(_SESSION_BOUNDS, (number,))
        if first is None:
            return flt
        until = last if flt.until_position is None else min(last, flt.until_position)
        return replace(flt, after_position=max(flt.after_position, first - 1), until_position=until)

    async def _decode(self, rows: list[Any]) -> list[Event]:
        try:
            return rows_to_events(rows, self._catalog)
        except KeyError:
            await self.load_catalog()
        try:
            return rows_to_events(rows, self._catalog)
        except KeyError as exc:
            raise CorruptDatabaseError(
                f"{self.path}: an event refers to stream, kind or session number {exc} that the log does not"
                " hold; run `virtuoso sessions verify`"
            ) from exc

    async def max_position(self) -> int:
        """The position of the newest event, 0 for an empty log."""
        with translated(self.path):
            ((value,),) = await self._reader.execute_fetchall("SELECT max(position) FROM events")
        return int(value or 0)

    async def stream_version(self, stream: str) -> int:
        """The version of the newest event of ``stream``, 0 when it has none."""
        with translated(self.path):
            rows = list(await self._reader.execute_fetchall("SELECT version FROM streams WHERE name = ?", (stream,)))
        return int(rows[0][0]) if rows else 0

    # -- sessions ------------------------------------------------------------------

    async def insert_session(self, info: SessionInfo, started: Columns) -> None:
        """The session's row and its SessionStarted event, in one transaction."""

        async def work(db: aiosqlite.Connection) -> None:
            try:
                await db.execute(
                    "INSERT INTO sessions (id, name, source, symbols, channels, manifest, config_hash,"
                    " started_ns, status, owner) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (*header_values(info), "open", owner_token()),
                )
            except sqlite3.IntegrityError as exc:
                raise SessionError(f"{self.path}: session {info.id} already exists") from exc
            await self._reload_sessions(db)
            try:
                await self._append_in_transaction(db, started, None, None)
            except DuplicateIds as exc:
                raise SessionError(f"{self.path}: session {info.id} already has a SessionStarted event") from exc

        await self._transaction(work)

    async def change_session(
        self, session_id: str, event: Columns, status: SessionStatus, ended_ns: int | None, reason: str
    ) -> None:
        """The lifecycle event and the row's new state in one transaction; a reopened row gets this process as owner."""
        if status == "open":
            sql = "UPDATE sessions SET status = ?, ended_ns = ?, end_reason = ?, owner = ? WHERE id = ?"
            params: tuple[Any, ...] = (status, ended_ns, reason, owner_token(), session_id)
        else:
            sql = "UPDATE sessions SET status = ?, ended_ns = ?, end_reason = ? WHERE id = ?"
            params = (status, ended_ns, reason, session_id)

        async def work(db: aiosqlite.Connection) -> None:
            await self._append_in_transaction(db, event, None, None)
            await db.execute(sql, params)

        await self._transaction(work)

    async def sessions(self) -> list[SessionInfo]:
        """Every session, oldest first, with per-stream counts."""
        with translated(self.path):
            rows = await self._reader.execute_fetchall(
                "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns,"
                " ended_ns, status, end_reason FROM sessions ORDER BY seq"
            )
            stats = await self._reader.execute_fetchall(
                "SELECT ss.session, s.name, ss.events, ss.first_ts_event, ss.last_ts_event,"
                " ss.first_position, ss.last_position FROM session_streams ss"
                " JOIN streams s ON s.seq = ss.stream ORDER BY ss.session, s.name"
            )
        per_session: dict[int, dict[str, StreamStats]] = {}
        for seq, name, *values in stats:
            per_session.setdefault(seq, {})[name] = StreamStats(*values)
        return [_session_info(row, per_session.get(row[0], {})) for row in rows]

    async def abandoned_sessions(self) -> list[tuple[str, int]]:
        """Open sessions whose owner process on this host is gone, with the time of their last event."""
        rows = await self._db().execute_fetchall(
            "SELECT s.id, coalesce(max(ss.last_ts_event), s.started_ns), s.owner FROM sessions s"
            " LEFT JOIN session_streams ss ON ss.session = s.seq WHERE s.status = 'open' GROUP BY s.seq"
        )
        return [(session_id, last_ts) for session_id, last_ts, owner in rows if not owner_alive(owner)]

    # -- integrity -----------------------------------------------------------------

    async def verify(self, key: bytes | None, expect_head: str | None) -> VerifyReport:
        """Walk the hash chain and the bookkeeping; report the first problem.

        With ``key`` (by default the key the store was opened with), every batch
        must also carry a valid HMAC; with ``expect_head`` (a head hash kept
        elsewhere), the chain must pass through that hash.
        """
        with translated(self.path):
            return await verify_log(
                self._reader,
                self._catalog,
                self.load_catalog,
                schema=self.schema,
                key=key if key is not None else self._key,
                expect_head=expect_head,
            )

    async def head(self) -> tuple[int, int, str]:
        """The stored head: (last position, batch count, hash in hex) of the last committed batch.

        Read as stored, not recomputed: :meth:`verify` checks that the log reproduces it.
        """
        with translated(self.path):
            ((last, count, digest),) = await self._reader.execute_fetchall(
                "SELECT (SELECT last_position FROM batches ORDER BY seq DESC LIMIT 1), count(*),"
                " (SELECT hash FROM batches ORDER BY seq DESC LIMIT 1) FROM batches"
            )
        return int(last or 0), int(count), (digest or GENESIS).hex()


def _expected_streams(expected: ExpectedVersion, streams: Sequence[str]) -> list[str]:
    if expected is None or isinstance(expected, int):
        return []
    return [s for s in expected if s not in streams]


def _session_info(row: Any, streams: dict[str, StreamStats]) -> SessionInfo:
    _, sid, name, source, symbols, channels, manifest, config_hash, started, ended, status, reason = row
    return SessionInfo(
        sid,
        name,
        source,
        tuple(json.loads(symbols)),
        tuple(json.loads(channels)),
        json.loads(manifest),
        config_hash,
        started,
        ended,
        status,
        reason,
        streams,
    )


def _check_location(path: Path, *, readonly: bool) -> None:
    # Checked before connecting: a failed aiosqlite connect leaves a worker thread
    # that may print a stray traceback after our one-line error.
    if path.is_dir():
        raise DatabaseError(f"{path}: is a directory, not an event log")
    if readonly and not path.is_file():
        raise DatabaseError(f"{path}: no event log there")
    if not path.parent.is_dir():
        raise DatabaseError(f"{path}: folder {path.parent} does not exist")


DEFAULT_LAYOUT: Layout = "columnar"
"""The layout of a new log when none is named: a seventh of the row layout's bytes
and faster reads; appends cost more CPU (docs/store.md, "The columnar layout")."""


async def open_sqlite_store(
    path: str | Path,
    *,
    registry: TypeRegistry = REGISTRY,
    readonly: bool = False,
    synchronous: Synchronous = "NORMAL",
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    key: KeySource = FROM_ENV,
    layout: Layout | None = None,
    seal_wait_s: float = SEAL_WAIT_S,
) -> SQLiteEventStore:
    """Open (creating if needed) the event log at ``path``.

    Abandoned ``open`` sessions of dead processes on this host are marked
    ``crashed`` (see :attr:`SQLiteEventStore.recovered`). ``synchronous="FULL"``
    makes each commit survive power loss too; the default survives a killed process.
    ``busy_timeout_s`` is how long an append waits for another process's write
    lock before failing with :class:`~virtuoso.errors.StoreBusyError`.
    ``key`` (bytes; by default the ``VIRTUOSO_LOG_KEY`` environment variable, if
    set; ``None`` for no key) makes every batch carry an HMAC and :meth:`verify`
    check them. ``readonly=True`` creates no file beside the log (see docs/store.md).
    ``layout`` chooses how a new log stores events: ``"columnar"`` (the default, a
    compressed blob per batch and stream) or ``"rows"`` (a row per event); an
    existing log keeps its own, and naming the other one is refused.
    ``seal_wait_s``: how long :meth:`~SQLiteEventStore.close` of a columnar log lets
    background sealing finish before it stops it between segments (the next
    writable open seals the rest).
    """
    path = Path(path)
    if synchronous not in ("NORMAL", "FULL", "EXTRA"):
        raise UsageError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
    if layout not in (None, "rows", "columnar"):
        raise UsageError(f"layout must be 'rows' or 'columnar', not {layout!r}")
    secret = resolve_key(key)
    _check_location(path, readonly=readonly)
    writer = None if readonly else await connect(path, readonly=False, busy_timeout_s=busy_timeout_s)
    try:
        if writer is not None:
            version = await check_identity(writer, path)
            await configure_writer(writer, path, synchronous, new=version == 0)
            await migrate(writer, path, version, layout or DEFAULT_LAYOUT)
        reader = await connect(path, readonly=True, alone=writer is None)
    except BaseException:
        if writer is not None:
            await writer.close()
        raise
    try:
        schema = await check_identity(reader, path)
        if readonly and schema == 0:
            raise DatabaseError(f"{path}: empty file, not an event log")
        found = await file_layout(reader, path)
        if layout is not None and layout != found:
            raise UsageError(f"{path}: a {found} log; layout={layout!r} applies to new logs only")
    except BaseException:
        await reader.close()
        if writer is not None:
            await writer.close()
        raise
    backend = _new_backend(found, path, writer, reader, registry, key=secret, schema=schema, seal_wait_s=seal_wait_s)
    store = SQLiteEventStore(backend)
    try:
        await backend.load_catalog()
        if writer is not None:
            await store._recover_abandoned()
            await backend.resume_background()
    except BaseException:
        await store.close()
        raise
    return store


def _new_backend(
    layout: Layout,
    path: Path,
    writer: aiosqlite.Connection | None,
    reader: aiosqlite.Connection,
    registry: TypeRegistry,
    *,
    key: bytes | None,
    schema: int,
    seal_wait_s: float,
) -> SQLiteBackend:
    if layout == "rows":
        return SQLiteBackend(path, writer, reader, registry, key=key, schema=schema)
    from virtuoso.store._columnar import ColumnarBackend  # noqa: PLC0415 - it builds on this module

    return ColumnarBackend(path, writer, reader, registry, key=key, schema=schema, seal_wait_s=seal_wait_s)
