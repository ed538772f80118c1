"""migrate_log: a row log copied into a new columnar log, batch by batch, with the same head.

The catalog (sessions, streams, kinds, per-session counts) and the chain (batches
with their hashes and MACs, the chain's format record) are copied as they are, so
catalog numbers and batch boundaries do not change; each batch's events become one
blob per stream and their ids enter the id index. The copy is then verified on its
own: its chain, recomputed from the blobs, must end in the source's head. Nothing
is left at ``dst`` unless it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from itertools import compress
from pathlib import Path

from virtuoso.errors import DatabaseError, StoreError, UsageError
from virtuoso.events import REGISTRY, Event, TypeRegistry
from virtuoso.store._chain import Row
from virtuoso.store._columnar import blob_row
from virtuoso.store._columnar_ids import id_keys
from virtuoso.store._models import VerifyReport
from virtuoso.store._owner import owner_alive
from virtuoso.store._rows import Catalog, Field, rows_to_events
from virtuoso.store._schema import APPLICATION_ID, COLUMNAR_SCHEMA, COLUMNAR_STATEMENTS, ROWS_SCHEMA
from virtuoso.store._sqlite import open_sqlite_store
from virtuoso.store._sqlite_io import PAGE_SIZE, readonly_uri, translate

_COPIED = ("sessions", "streams", "kinds", "session_streams", "batches")
_ROWS = (
    "SELECT position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"
    " FROM old.events WHERE position BETWEEN ? AND ? ORDER BY position"
)
_INSERT_BLOB = "INSERT INTO blobs VALUES (NULL,?,?,?,?,?,?,?,?,?,?)"


async def migrate_log(src: str | Path, dst: str | Path, *, registry: TypeRegistry = REGISTRY) -> VerifyReport:
    """Copy the row log ``src`` into a new columnar log ``dst``; the copy's verify report (same head).

    ``src`` must verify intact (it is opened read-only, never written) and nothing may
    be recording into it (an ``open`` session whose process runs is refused);
    ``dst`` must not exist. Raises :class:`~virtuoso.errors.StoreError` (and leaves
    no ``dst``) if anything differs, including a log that changed while it was copied.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise UsageError(f"{dst}: already exists; migrate_log writes a new log")
    source = await open_sqlite_store(src, readonly=True, registry=registry, key=None)
    if source.layout == "columnar":
        await source.close()
        raise UsageError(f"{src}: already a columnar log: nothing to migrate")
    try:
        await asyncio.to_thread(_refuse_live_recordings, src)
        before = await source.verify()
    finally:
        await source.close()
    if not before.ok:
        raise StoreError(f"{src}: does not verify ({before.problem}); not migrated")
    # Written under a temporary name and renamed once verified: a copy killed half-way is never taken for a log.
    partial = dst.with_name(f".{dst.name}.partial")
    _remove(partial)  # left by a migration killed before (ours: nothing else uses the name)
    try:
        await asyncio.to_thread(_copy, src, partial, registry)
        copy = await open_sqlite_store(partial, readonly=True, registry=registry, key=None)
        try:
            after = await copy.verify()
        finally:
            await copy.close()
        if after.ok and after.batches != before.batches:
            raise StoreError(
                f"{src}: the log changed while it was copied ({before.batches} batches verified, {after.batches}"
                " copied); not migrated: run it again once nothing writes to the log"
            )
        if not after.ok or (after.head, after.events) != (before.head, before.events):
            raise StoreError(f"{dst}: the copy of {src} does not verify to its head ({after.problem or after.head})")
        partial.rename(dst)
    except BaseException:
        _remove(partial)
        raise
    return after


def _refuse_live_recordings(src: Path) -> None:
    """``UsageError`` if a session of ``src`` is open and the process recording it still runs."""
    try:
        with closing(sqlite3.connect(readonly_uri(src, alone=True), uri=True)) as db:
            open_sessions = db.execute("SELECT id, owner FROM sessions WHERE status = 'open' ORDER BY seq").fetchall()
    except sqlite3.Error as exc:
        raise translate(exc, src) from exc
    for session_id, owner in open_sessions:
        if owner_alive(owner):
            raise UsageError(
                f"{src}: session {session_id} is being recorded (by {owner or 'an unknown process'}); "
                "migrate a log once nothing writes to it"
            )


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _copy(src: Path, dst: Path, registry: TypeRegistry) -> None:
    try:
        with closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # The source is only read, and left as found: no -wal/-shm made beside a log closed cleanly.
            db.execute("ATTACH DATABASE ? AS old", (readonly_uri(src, alone=True),))
            db.execute("BEGIN IMMEDIATE")
            _schema_and_catalog(db)
            catalog = _catalog(db, registry)
            batches = db.execute("SELECT first_position, last_position FROM old.batches ORDER BY seq").fetchall()
            for first, last in batches:
                _copy_batch(db, catalog, first, last)
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise translate(exc, dst) from exc


def _schema_and_catalog(db: sqlite3.Connection) -> None:
    (version,) = db.execute("PRAGMA old.user_version").fetchone()
    if version != ROWS_SCHEMA:
        raise DatabaseError(
            f"schema version {version}: open the log for writing once to bring it to version {ROWS_SCHEMA}"
        )
    for statement in COLUMNAR_STATEMENTS:
        if statement.startswith("INSERT INTO chain_meta"):
            statement = "INSERT INTO chain_meta SELECT first_bound_batch FROM old.chain_meta"  # noqa: PLW2901
        db.execute(statement)
    for table in _COPIED:
        db.execute(f"INSERT INTO main.{table} SELECT * FROM old.{table} ORDER BY rowid")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {COLUMNAR_SCHEMA}")


def _catalog(db: sqlite3.Connection, registry: TypeRegistry) -> Catalog:
    catalog = Catalog(registry)
    for seq, name in db.execute("SELECT seq, name FROM streams"):
        catalog.add_stream(seq, name)
    for seq, type_name, schema in db.execute("SELECT seq, type, schema FROM kinds"):
        catalog.add_kind(seq, type_name, schema)
    for seq, session_id in db.execute("SELECT seq, id FROM sessions"):
        catalog.add_session(seq, session_id)
    return catalog


def _copy_batch(db: sqlite3.Connection, catalog: Catalog, first: int, last: int) -> None:
    rows: list[Row] = db.execute(_ROWS, (first, last)).fetchall()
    events = rows_to_events(rows, catalog)
    _index_ids(db, [e.id for e in events], [e.position for e in events])
    streams = [row[Field.STREAM] for row in rows]
    kinds = [row[Field.KIND] for row in rows]
    for stream in dict.fromkeys(streams):
        chosen = list(map(stream.__eq__, streams))
        picked = list(compress(events, chosen))
        fields = {name: [getattr(event, name) for event in picked] for name in Event.__struct_fields__}
        db.execute(_INSERT_BLOB, blob_row(fields, stream, list(compress(kinds, chosen))))


def _index_ids(db: sqlite3.Connection, ids: Sequence[str], positions: Sequence[int]) -> None:
    keys = id_keys(ids, COLUMNAR_SCHEMA)
    db.execute("SAVEPOINT ids")
    try:
        db.executemany("INSERT INTO ids VALUES (?,?)", sorted(zip(keys, positions, strict=True)))
    except sqlite3.IntegrityError:
        # A row log's ids are unique, so a taken key is two ids on one hash: probe to the next free key.
        db.execute("ROLLBACK TO ids")
        for key, position in zip(keys, positions, strict=True):
            free = key
            while db.execute("SELECT 1 FROM ids WHERE key = ?", (free,)).fetchone():
                free += 1
            db.execute("INSERT INTO ids VALUES (?,?)", (free, position))
    db.execute("RELEASE ids")
