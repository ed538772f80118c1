"""Opening a SQLite event log: identity checks, pragmas, migrations, error translation."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Literal

import aiosqlite

from virtuoso.errors import (
    AppendOnlyError,
    CorruptDatabaseError,
    DatabaseError,
    NotAnEventLogError,
    SchemaVersionError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreIOError,
)
from virtuoso.store._schema import (
    APPEND_ONLY_MESSAGE,
    APPLICATION_ID,
    COLUMNAR_SCHEMA,
    COLUMNAR_SCHEMAS,
    COLUMNAR_STATEMENTS,
    MIGRATIONS,
    ROWS_SCHEMA,
    SCHEMA_VERSION,
)

Layout = Literal["rows", "columnar"]
"""How a SQLite log lays its events out: a row per event, or a compressed blob per batch and stream."""

_IOERR_WRITE = 778  # SQLITE_IOERR_WRITE: write() failed outright (EFBIG past a size limit, EIO, ...)

Translation = tuple[Callable[[sqlite3.Error, str], bool], Callable[[Path | str, str], StoreError]]

_TRANSLATIONS: tuple[Translation, ...] = (
    (lambda exc, text: APPEND_ONLY_MESSAGE in text, lambda path, text: AppendOnlyError(f"{path}: {text}")),
    (
        lambda exc, text: (
            isinstance(exc, sqlite3.DatabaseError)
            and ("not a database" in text or "malformed" in text or "corrupt" in text)
        ),
        lambda path, text: CorruptDatabaseError(f"{path}: damaged or not a SQLite database ({text})"),
    ),
    (
        lambda exc, text: getattr(exc, "sqlite_errorcode", None) == _IOERR_WRITE,
        lambda path, text: StoreError(
            f"{path}: the disk refused a write (full, over a file size limit, or failing);"
            " nothing of the failed write was kept"
        ),
    ),
    (
        lambda exc, text: (
            isinstance(exc, sqlite3.OperationalError)
            and (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in text)
        ),
        lambda path, text: StoreFullError(
            f"{path}: the disk is full (or a file size limit reached); what was committed before is intact"
        ),
    ),
    (
        lambda exc, text: "locked" in text or "busy" in text,
        lambda path, text: StoreBusyError(f"{path}: database is locked by another writer ({text})"),
    ),
    (lambda exc, text: "disk I/O error" in text, lambda path, text: StoreIOError(f"{path}: {text}")),
)
"""The first that applies wins: (does it apply to the error and its text, our error for the path and text)."""


def translate(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """Our error for a sqlite3 error raised while working on ``path``."""
    text = str(exc)
    for applies, make in _TRANSLATIONS:
        if applies(exc, text):
            return make(path, text)
    return StoreError(f"{path}: {text}")


@contextmanager
def translated(path: Path | str) -> Iterator[None]:
    """Re-raise sqlite3 errors inside the block as our StoreError subclasses."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc


@asynccontextmanager
async def one_snapshot(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Every read on ``db`` inside the block sees the log as of its first read, whatever commits meanwhile.

    A savepoint, not ``BEGIN``: it nests, so two walks sharing the connection may overlap;
    the snapshot ends when the outermost one is released.
    """
    await db.execute("SAVEPOINT snapshot")
    try:
        yield
    finally:
        await db.execute("RELEASE snapshot")


def _has_unfinished_wal(path: Path) -> bool:
    """Whether a writer is running or crashed: a WAL index, or a WAL holding frames."""
    wal = Path(f"{path}-wal")
    return Path(f"{path}-shm").exists() or (wal.exists() and wal.stat().st_size > 0)


BUSY_TIMEOUT_S = 10.0
"""How long a connection waits for another connection's write lock before SQLite says "database is locked"."""


def readonly_uri(path: Path, *, alone: bool) -> str:
    """The URI of a read-only connection.

    ``alone`` (no writer connection of ours) and no WAL in use: ``immutable=1``, so
    SQLite creates no ``-wal``/``-shm`` beside the log and needs no write access to
    its folder. Otherwise ``mode=ro``, which shares the existing WAL and its index:
    ``immutable`` would ignore the WAL and silently miss committed events in it.
    """
    uri = f"{path.absolute().as_uri()}?mode=ro"
    if alone and not _has_unfinished_wal(path):
        return uri + "&immutable=1"
    return uri


async def connect(
    path: Path, *, readonly: bool, alone: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> aiosqlite.Connection:
    """An aiosqlite connection in autocommit mode (transactions are explicit)."""
    with translated(path):
        if readonly:
            pending = aiosqlite.connect(readonly_uri(path, alone=alone), uri=True, isolation_level=None)
        else:
            pending = aiosqlite.connect(path, isolation_level=None)
        _daemonize(pending)
        db = await pending
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if readonly:  # SQLite opens the WAL at the first read: fail here, not in the middle of a command
                await db.execute_fetchall("SELECT count(*) FROM sqlite_master")
        except sqlite3.OperationalError as exc:
            await db.close()
            if readonly and "unable to open" in str(exc) and _has_unfinished_wal(path):
                raise DatabaseError(
                    f"{path}: a writer is running or crashed (its -wal holds commits) and its folder is read-only;"
                    " open the log once for writing to recover it, or read a copy in a writable folder"
                ) from exc
            raise
        return db


def _daemonize(connection: aiosqlite.Connection) -> None:
    # aiosqlite's worker thread is not a daemon: a program that dies of an exception
    # while a store is open would hang at exit waiting for it. Committed data does
    # not depend on the thread (an unfinished transaction is rolled back by SQLite).
    thread = getattr(connection, "_thread", None)
    if isinstance(thread, threading.Thread) and not thread.is_alive():
        thread.daemon = True


async def _pragma(db: aiosqlite.Connection, name: str) -> int:
    async with db.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def check_identity(db: aiosqlite.Connection, path: Path) -> int:
    """The schema version of ``path``; 0 for a new, empty file.

    Raises NotAnEventLogError for another application's database and
    SchemaVersionError for a newer schema than this version understands.
    """
    with translated(path):
        tables = await db.execute_fetchall("SELECT count(*) FROM sqlite_master")
        app_id = await _pragma(db, "application_id")
        version = await _pragma(db, "user_version")
    if app_id == 0 and version == 0 and next(iter(tables))[0] == 0:
        return 0
    if app_id != APPLICATION_ID:
        raise NotAnEventLogError(f"{path}: a SQLite database, but not a Virtuoso event log")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: schema version {version} is newer than this Virtuoso reads ({SCHEMA_VERSION}); upgrade Virtuoso"
        )
    return version


async def file_layout(db: aiosqlite.Connection, path: Path) -> Layout:
    """The layout of an existing log: columnar when it holds the blobs table."""
    with translated(path):
        rows = await db.execute_fetchall("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'blobs'")
    return "columnar" if next(iter(rows))[0] else "rows"


async def migrate(db: aiosqlite.Connection, path: Path, from_version: int, layout: Layout = "rows") -> None:
    """Create a new log in ``layout`` (``from_version`` 0), or bring a row log's schema to :data:`ROWS_SCHEMA`,
    one step per transaction. A columnar log (:data:`COLUMNAR_SCHEMAS`) keeps its version.

    Each step re-reads the version once it holds the write lock: another process
    creating or migrating the same file at the same time may have done the step
    while this one waited, and it must not be run twice.
    """
    if from_version == 0 and layout == "columnar":
        await _step(db, path, COLUMNAR_SCHEMA, COLUMNAR_STATEMENTS, done_if_any=True)
        if await file_layout(db, path) == "columnar":
            return
        from_version = await _pragma(db, "user_version")
    if from_version in COLUMNAR_SCHEMAS and await file_layout(db, path) == "columnar":
        return
    for version in range(from_version + 1, ROWS_SCHEMA + 1):
        await _step(db, path, version, MIGRATIONS[version])


async def _step(
    db: aiosqlite.Connection, path: Path, version: int, statements: list[str], *, done_if_any: bool = False
) -> None:
    """Run ``statements`` and set the version to ``version``, in one transaction, unless already done."""
    with translated(path):
        await db.execute("BEGIN IMMEDIATE")
        try:
            current = await _pragma(db, "user_version")
            if current >= version or (done_if_any and current > 0):
                await db.execute("ROLLBACK")
                return
            for statement in statements:
                await db.execute(statement)
            await db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")


PAGE_SIZE = 16384
"""Page size of new logs: inserts into the events table and its two indexes run
10-15% faster than with SQLite's default 4 KiB pages (measured, benchmarks/README.md)."""


async def configure_writer(db: aiosqlite.Connection, path: Path, synchronous: str, *, new: bool) -> None:
    """Page size (new files only), WAL journal and the durability level of the writer connection."""
    with translated(path):
        if new:
            await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute(f"PRAGMA synchronous = {synchronous}")
        # Checkpoint every 64 MiB of WAL instead of every 4 MiB: at recording rates the
        # default checkpoints (each with an fsync) every few batches.
        await db.execute(f"PRAGMA wal_autocheckpoint = {64 * 1024 * 1024 // PAGE_SIZE}")
