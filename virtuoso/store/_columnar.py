"""The columnar SQLite backend: a compressed blob per committed batch per stream.

Sessions, streams, kinds, per-session counts and the chain links (``batches``) are
the row layout's tables; only how events lie differs. An append builds the same
stored columns as the row layout (so the chain link is the same), then stores each
stream's events of the batch as one ``_batch_codec`` blob with an index row
(positions, versions, time range, kinds), and indexes every id by its key
(``_columnar_ids``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from itertools import compress
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite
import numpy as np

from virtuoso.errors import StoreClosedError
from virtuoso.events import Event, FieldColumn, TypeRegistry
from virtuoso.store import _batch_columns as col
from virtuoso.store._batch_codec import decode_columns, encode_columns
from virtuoso.store._column_chunks import ColumnChunk
from virtuoso.store._columnar_columns import merged_columns
from virtuoso.store._columnar_ids import KeyTaken, insert_keys, insert_probed, locate
from virtuoso.store._columnar_read import POSITION, BlobPlan, BlobRow, decode_blob, merged, newest
from virtuoso.store._columnar_seal import (
    LIVE_EVENTS,
    SEAL_WAIT_S,
    Live,
    Sealer,
    Segment,
    build_segment,
    runs_to_seal,
)
from virtuoso.store._columnar_verify import verify_blobs
from virtuoso.store._models import EventFilter, SessionStatus, VerifyReport
from virtuoso.store._rows import Batch, Columns, StoredColumns
from virtuoso.store._schema import SCHEMA_VERSION
from virtuoso.store._sqlite import DuplicateIds, SQLiteBackend
from virtuoso.store._sqlite_io import Layout, connect, translated

_TIP = (
    "SELECT max((SELECT max(last_position) FROM blobs), coalesce(b.last_position, 0)), b.seq, b.hash"
    " FROM (SELECT 1) LEFT JOIN (SELECT seq, last_position, hash FROM batches ORDER BY seq DESC LIMIT 1) b"
)
_SPARE_READERS = 2
"""Read connections kept open for the next reads: two reads at once is what replays and merges do."""
_INSERT_BLOB = "INSERT INTO blobs VALUES (NULL,?,?,?,?,?,?,?,?,?,?)"
_SESSION_STREAMS = "SELECT stream FROM session_streams WHERE session = ?"
_SESSION_SPANS = "SELECT stream, first_position, last_position FROM session_streams WHERE session = ? ORDER BY stream"
_UNSEALED = (
    "SELECT s.id FROM sessions s WHERE s.status != 'open' AND EXISTS (SELECT 1 FROM session_streams ss"
    " WHERE ss.session = s.seq AND (SELECT count(*) FROM (SELECT 1 FROM blobs b WHERE b.stream = ss.stream"
    " AND b.first_position >= ss.first_position AND b.last_position <= ss.last_position AND b.count < ?1"
    " LIMIT 2)) > 1) ORDER BY s.seq"
)
_LIVE_BLOBS = (  # the data of large blobs is never sealed: not read
    "SELECT seq, count, kinds, CASE WHEN count < ?4 THEN data ELSE x'' END FROM blobs"
    " WHERE stream = ?1 AND first_position >= ?2 AND last_position <= ?3 ORDER BY first_position"
)


class ColumnarBackend(SQLiteBackend):
    """The :class:`~virtuoso.store.StorageBackend` of a columnar SQLite log (schema version 3 or 4)."""

    LAYOUT: ClassVar[Layout] = "columnar"

    _tip_sql = _TIP

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection | None,
        reader: aiosqlite.Connection,
        registry: TypeRegistry,
        *,
        key: bytes | None = None,
        schema: int = SCHEMA_VERSION,
        seal_wait_s: float = SEAL_WAIT_S,
    ) -> None:
        super().__init__(path, writer, reader, registry, key=key, schema=schema)
        self._sealer = Sealer(path, self.seal_session, wait_s=seal_wait_s, full_reported=lambda: self.met_full_disk)
        self._spare_readers: list[aiosqlite.Connection] = []
        self._busy_readers: set[aiosqlite.Connection] = set()
        self._closing_readers: set[aiosqlite.Connection] = set()

    # -- appends -------------------------------------------------------------------

    async def _store_batch(self, db: aiosqlite.Connection, batch: Batch, columns: Columns) -> None:
        """Index the ids, then store one blob per stream of the batch."""
        stored = batch.columns
        encode = partial(blob_rows, stored, columns)
        try:  # the blobs are encoded while SQLite indexes the ids
            rows = await insert_keys(db, stored.id, stored.position, self.schema, encode)
        except KeyTaken:
            known, free = await locate(db, stored.id, self._ids_at, self.schema)
            if known or len(free) < len(stored.id):  # stored ids, or one id twice in the batch
                raise DuplicateIds from None
            await insert_probed(db, free, dict(zip(stored.id, stored.position, strict=True)))
            rows = encode()
        await db.executemany(_INSERT_BLOB, rows)

    async def _existing_ids(self, events: Sequence[Event]) -> set[str]:
        db = self._db()
        ids = [e.id for e in events]
        if db.in_transaction:  # an atomic append's chunk: the transaction's own view, its lock held
            stored, _ = await locate(db, ids, self._ids_at, self.schema)
        else:
            async with self._write_lock:  # between two attempts of an append: no segment moves blobs meanwhile
                stored, _ = await locate(db, ids, self._ids_at, self.schema)
        return set(stored)

    async def _ids_at(self, db: aiosqlite.Connection, positions: Sequence[int]) -> dict[int, str]:
        """The ids stored at ``positions``, read from the blobs holding them."""
        wanted = set(positions)
        found: dict[int, str] = {}
        if not wanted:
            return found
        plan = BlobPlan(None, min(wanted) - 1, max(wanted), None, None, None, None, None)

        async def ids_of(row: BlobRow) -> list[tuple[int, str]]:
            columns = decode_blob(self.path, row, lambda r, _: _ids_columns(r.data), self._catalog.registry)
            return [pair for pair in columns if pair[0] in wanted]

        async for pairs in merged(db, self.path, plan, decode=ids_of, key=_first, chunk_size=1 << 16):
            found.update(pairs)
        return found

    # -- sealing -------------------------------------------------------------------

    async def change_session(
        self, session_id: str, event: Columns, status: SessionStatus, ended_ns: int | None, reason: str
    ) -> None:
        """The lifecycle change; a session that ended (closed or crashed) is then queued for sealing."""
        await super().change_session(session_id, event, status, ended_ns, reason)
        if status != "open":
            self._sealer.add(session_id)

    async def resume_background(self) -> None:
        """Queue the ended sessions that still hold runs of small blobs (a crash, a close that stopped sealing)."""
        with translated(self.path):
            rows = await self._reader.execute_fetchall(_UNSEALED, (LIVE_EVENTS,))
        for (session_id,) in rows:
            self._sealer.add(session_id)

    async def sealing_idle(self) -> None:
        """Return once every session queued for sealing so far is sealed (or failed to be)."""
        await self._sealer.idle()

    async def close(self) -> None:
        """Let sealing finish (bounded; see ``Sealer.close``), then close the connections."""
        if not self._closed:
            await self._sealer.close()
        # Reads left unfinished (a consumer that stopped iterating) would hold their snapshot, and the
        # checkpoint at close would wait for them for the whole busy timeout.
        readers = [*self._spare_readers, *self._busy_readers]
        self._spare_readers, self._busy_readers = [], set()
        for db in readers:
            await self._close_reader(db)
        await super().close()

    async def _close_reader(self, db: aiosqlite.Connection) -> None:
        """Close a read's connection, once: a read given up on (its generator finalized later) and ``close()``
        may both close it, and a second ``close`` while aiosqlite is still closing the first waits forever
        (its stop is queued behind the thread's end)."""
        if db in self._closing_readers:
            return
        self._closing_readers.add(db)
        try:
            await _close_quietly(db)
        finally:
            self._closing_readers.discard(db)

    async def seal_session(self, session_id: str, stop: Callable[[], bool] = lambda: False) -> int:
        """Re-encode the session's streams' small blobs into segments; the number of blobs replaced.

        ``stop`` is asked before each segment: once it says so, the rest is left as it is.
        """
        number = self._catalog.session_ids.get(session_id)
        if number is None:
            return 0
        self._db()  # refused when closed or read-only
        committed = self._reader  # never the writer: another append's transaction may be open on it
        with translated(self.path):
            spans = list(await committed.execute_fetchall(_SESSION_SPANS, (number,)))
        replaced = 0
        for stream, first, last in spans:
            with translated(self.path):
                rows = await committed.execute_fetchall(_LIVE_BLOBS, (stream, first, last, LIVE_EVENTS))
            for group in runs_to_seal([Live(*row) for row in rows], self._catalog):
                if stop():
                    return replaced
                segment = await asyncio.to_thread(build_segment, stream, group, self._catalog.registry)
                replaced += await self._transaction(partial(_store_segment, segment=segment), own=True)
        return replaced

    # -- reads ---------------------------------------------------------------------

    async def read_chunks(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[list[Event], None]:
        """Events matching ``flt`` in position order, ``chunk_size`` at a time, a blob decoded at a time."""
        await self.load_catalog()
        plan = await self._plan(flt)
        if plan is None:
            return
        registry = self._catalog.registry

        async def events_of(row: BlobRow) -> list[Event]:
            return decode_blob(self.path, row, plan.blob_events, registry)

        async with self._snapshot() as db:
            async for chunk in merged(db, self.path, plan, decode=events_of, key=POSITION, chunk_size=chunk_size):
                yield chunk

    async def read_columns(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[ColumnChunk, None]:
        """The matching events as columns straight from the blobs (``decode_columns``: no event objects)."""
        await self.load_catalog()
        plan = await self._plan(flt)
        if plan is None:
            return
        async with self._snapshot() as db:
            async for chunk in merged_columns(db, self.path, plan, self._catalog, chunk_size=chunk_size):
                yield chunk

    async def last_event(self, flt: EventFilter) -> Event | None:
        """The newest event matching ``flt``: each candidate stream walked back from its end."""
        await self.load_catalog()
        plan = await self._plan(flt)
        if plan is None:
            return None
        async with self._snapshot() as db:
            return await newest(db, self.path, plan, self._catalog.registry)

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection of the read's own, every query of it seeing the log as of its first.

        A read asks for blobs page by page; another process sealing a session between two
        pages (a segment stored, the blobs it replaces deleted) would otherwise hide the
        replaced blobs' events from it. A connection of its own, not a transaction on the
        shared reader: that would hold every other read of this store at the same moment.
        Connections are kept for the next read (opening one costs a thread and a few
        milliseconds, which made replays read in small chunks many times slower).
        """
        if self._closed:
            raise StoreClosedError(f"{self.path}: the store is closed")
        spare = self._spare_readers
        db = spare.pop() if spare else await connect(self.path, readonly=True, alone=self._writer is None)
        self._busy_readers.add(db)
        try:
            with translated(self.path):
                await db.execute("BEGIN")
            yield db
            await db.execute("ROLLBACK")  # a read only: nothing to keep
        except BaseException:
            await self._close_reader(db)
            raise
        finally:
            self._busy_readers.discard(db)
        if self._closed or len(spare) >= _SPARE_READERS:
            await self._close_reader(db)
        else:
            spare.append(db)

    async def _plan(self, flt: EventFilter) -> BlobPlan | None:
        narrowed = await self._within_session(flt)
        session_streams = None
        number = None if flt.session is None else self._catalog.session_ids.get(flt.session)
        if number is not None:
            with translated(self.path):
                rows = await self._reader.execute_fetchall(_SESSION_STREAMS, (number,))
            session_streams = [int(row[0]) for row in rows]
        return BlobPlan.of(narrowed, self._catalog, session_streams)

    async def max_position(self) -> int:
        """The position of the newest event, 0 for an empty log."""
        with translated(self.path):
            ((value,),) = await self._reader.execute_fetchall("SELECT max(last_position) FROM blobs")
        return int(value or 0)

    # -- integrity -----------------------------------------------------------------

    async def verify(self, key: bytes | None, expect_head: str | None) -> VerifyReport:
        """Walk the chain over the blobs, the id index and the bookkeeping; report the first problem."""
        with translated(self.path):
            return await verify_blobs(
                self._reader,
                self.path,
                self._catalog,
                self.load_catalog,
                key=key if key is not None else self._key,
                expect_head=expect_head,
                schema=self.schema,
            )


async def _close_quietly(db: aiosqlite.Connection) -> None:
    """Close a read's connection after the read failed or was abandoned (its own error is not the news)."""
    with contextlib.suppress(Exception):
        await db.close()


async def _store_segment(db: aiosqlite.Connection, segment: Segment) -> int:
    """Insert a segment and retire the blobs it replaces, unless another sealer already did."""
    marks = ",".join("?" * len(segment.replaces))
    ((present,),) = await db.execute_fetchall(f"SELECT count(*) FROM blobs WHERE seq IN ({marks})", segment.replaces)
    if present != len(segment.replaces):
        return 0
    await db.execute(_INSERT_BLOB, segment.row)
    await db.execute(f"DELETE FROM blobs WHERE seq IN ({marks})", segment.replaces)
    return len(segment.replaces)


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _ids_columns(blob: bytes) -> list[tuple[int, str]]:
    columns = decode_columns(blob, ["position", "id"])
    return list(zip(columns["position"].tolist(), columns["id"].tolist(), strict=True))


def blob_rows(stored: StoredColumns, columns: Columns) -> list[tuple[Any, ...]]:
    """The blobs table's rows of a batch: one per stream, in the order the streams first appear."""
    fields: dict[str, list[Any]] = {
        "id": stored.id,
        "stream": columns.streams,
        "ts_event": stored.ts_event,
        "ts_recv": stored.ts_recv,
        "session": columns.sessions,
        "payload": columns.payloads,
        "causation": stored.causation,
        "version": stored.version,
        "position": stored.position,
    }
    if columns.single(stored.stream):
        gathered, payload_fields = _run_columns(stored, columns)
        return [blob_row(fields, stored.stream[0], stored.kind, gathered, payload_fields)]
    rows = []
    for stream in dict.fromkeys(stored.stream):
        chosen = list(map(stream.__eq__, stored.stream))
        picked = {name: list(compress(values, chosen)) for name, values in fields.items()}
        rows.append(blob_row(picked, stream, list(compress(stored.kind, chosen))))
    return rows


_NONE: set[type[Any]] = {type(None)}


def _run_columns(
    stored: StoredColumns, columns: Columns
) -> tuple[dict[str, col.Gathered], dict[str, col.Gathered] | None]:
    """The envelope and payload columns known without gathering them again, as the codec would gather them:
    positions and versions (made here, consecutive), and what a bulk constructor handed over (``Columns.run``)
    or the value rules gathered."""
    count = len(stored.position)
    first, first_version = stored.position[0], stored.version[0]
    gathered = {"position": col.Gathered(stored.position, {int}, np.arange(first, first + count, dtype=np.int64))}
    if stored.version[-1] == first_version + count - 1:  # one stream: its versions follow each other
        versions = np.arange(first_version, first_version + count, dtype=np.int64)
        gathered["version"] = col.Gathered(stored.version, {int}, versions)
    run = columns.run
    if run is None or run.fields is None or run.ts_array is None or len(run.ids) != count:
        return gathered, _checked_fields(columns.payload_fields, count)
    gathered |= {
        "id": col.Gathered(stored.id, {str}),
        "stream": col.Gathered(columns.streams, set()),  # judged by value, as the codec gathers it
        "ts_event": col.Gathered(stored.ts_event, {int}, run.ts_array),
        "ts_recv": col.Gathered(stored.ts_recv, {int}, run.ts_array),
        "session": col.Gathered(columns.sessions, {str}),
        "payload": col.Gathered(columns.payloads, {run.payload_class}),
        "causation": col.Gathered(stored.causation, _NONE),
    }
    payload_fields = {name: col.Gathered(f.values, {f.type}, f.array) for name, f in run.fields.items()}
    return gathered, payload_fields


def _checked_fields(fields: dict[str, FieldColumn] | None, count: int) -> dict[str, col.Gathered] | None:
    """The payload fields the value rules gathered, when they are the batch's (no duplicate left out)."""
    if fields is None or any(len(f.values) != count for f in fields.values()):
        return None
    return {name: col.Gathered(f.values, {f.type}, f.array) for name, f in fields.items()}


def blob_row(
    fields: dict[str, list[Any]],
    stream: int,
    kinds: list[int],
    gathered: dict[str, col.Gathered] | None = None,
    payload_fields: dict[str, col.Gathered] | None = None,
) -> tuple[Any, ...]:
    """The blobs table's row of one stream's events, given as their fields (``kinds``: their kind numbers);
    ``gathered`` and ``payload_fields``: columns a bulk constructor had (see :func:`encode_columns`)."""
    positions, versions, ts = fields["position"], fields["version"], fields["ts_event"]
    kind_list = ",".join(map(str, sorted(set(kinds))))
    return (
        stream,
        positions[0],
        positions[-1],
        versions[0],
        versions[-1],
        min(ts),
        max(ts),
        len(positions),
        kind_list,
        encode_columns(fields, gathered=gathered, payload_fields=payload_fields),
    )
