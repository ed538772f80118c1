"""Opening something that is not (or not yet, or no longer) a usable event log.

Each refusal must be our error type, one line naming the path, and must leave
the file exactly as it was: a failed open never writes into someone else's file.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from virtuoso.errors import (
    CorruptDatabaseError,
    DatabaseError,
    NotAnEventLogError,
    SchemaVersionError,
    StoreError,
    UsageError,
)
from virtuoso.events import Event, EventIdFactory, Note
from virtuoso.store import SCHEMA_VERSION, open_sqlite_store
from virtuoso.store._schema import COLUMNAR_SCHEMA, ROWS_SCHEMA


def _assert_one_line_naming(error: BaseException, path: Path) -> None:
    text = str(error)
    assert "\n" not in text
    assert str(path) in text


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _assert_untouched(directory: Path, before: dict[str, bytes]) -> None:
    """Every file is byte for byte as before. A read-only connection to a WAL
    database may leave SQLite's ``-shm`` index and an empty ``-wal`` behind (it
    cannot remove them); those hold none of our data."""
    after = _files(directory)
    for name, content in before.items():
        assert after.pop(name) == content, f"{name} was modified"
    for name, content in after.items():
        assert name.endswith(("-wal", "-shm")), f"{name} was created"
        assert not name.endswith("-wal") or content == b"", f"{name} holds written pages"


def _join_sqlite_worker_threads(before: set[threading.Thread]) -> None:
    """Let aiosqlite's worker threads of failed connects finish while our loop still runs.

    A failed ``aiosqlite.connect`` stops its thread with a future nobody awaits;
    if the loop closes first the thread dies with "Event loop is closed" (see
    ``test_failed_connect_leaves_no_thread_traceback``). Joining keeps these
    tests about the error itself.
    """
    for thread in set(threading.enumerate()) - before:
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(timeout=10)


def _text_file(path: Path) -> None:
    path.write_text("timestamp,price,amount\n1723161255000,58000.1,0.01\n" * 20)


def _short_text_file(path: Path) -> None:
    path.write_text("hello")


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(20240808).randbytes(16_384))


def _sqlite_header_then_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + random.Random(7).randbytes(8_176))


@pytest.mark.parametrize("make", [_text_file, _short_text_file, _random_bytes, _sqlite_header_then_garbage])
@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.asyncio
async def test_not_a_sqlite_file_is_refused_untouched(
    tmp_path: Path, make: Callable[[Path], None], readonly: bool
) -> None:
    path = tmp_path / "data.sqlite"
    make(path)
    before = _files(tmp_path)
    with pytest.raises(CorruptDatabaseError) as caught:
        await open_sqlite_store(path, readonly=readonly)
    _assert_one_line_naming(caught.value, path)
    _assert_untouched(tmp_path, before)


def _foreign_db(path: Path, *, application_id: int = 0, wal: bool = False) -> None:
    with closing(sqlite3.connect(path)) as con:
        if wal:
            con.execute("PRAGMA journal_mode = WAL")
        if application_id:
            con.execute(f"PRAGMA application_id = {application_id}")
        con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")
        con.execute("CREATE TABLE batches (seq INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO events (what) VALUES (?)", [("mine",), ("not yours",)])
        con.commit()


@pytest.mark.parametrize(
    "make",
    [
        _foreign_db,
        lambda p: _foreign_db(p, application_id=0x12345678),
        lambda p: _foreign_db(p, wal=True),
    ],
    ids=["application_id-0", "other-application_id", "wal-mode"],
)
@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.asyncio
async def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, make: Callable[[Path], None], readonly: bool
) -> None:
    path = tmp_path / "other.db"
    make(path)
    before = _files(tmp_path)
    with pytest.raises(NotAnEventLogError) as caught:
        await open_sqlite_store(path, readonly=readonly)
    _assert_one_line_naming(caught.value, path)
    _assert_untouched(tmp_path, before)
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("SELECT what FROM events ORDER BY id").fetchall() == [("mine",), ("not yours",)]
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (0,)


@pytest.mark.asyncio
async def test_empty_existing_file_becomes_a_new_log(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    store = await open_sqlite_store(path)
    try:
        assert store.recovered == []
        assert await store.max_position() == 0
        info = await store.begin_session("first", "tests", started_ns=1)
        assert [e.type async for e in store.read()] == ["SessionStarted"]
        assert (await store.verify()).ok
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (COLUMNAR_SCHEMA,)
        assert con.execute("PRAGMA application_id").fetchone() != (0,)
    reopened = await open_sqlite_store(path)
    try:
        assert (await reopened.session(info.id)).name == "first"
        assert reopened.layout == "columnar"
    finally:
        await reopened.close()


@pytest.mark.asyncio
async def test_a_new_log_is_columnar_unless_rows_are_asked_for_and_a_row_log_stays_rows(tmp_path: Path) -> None:
    made = {}
    for layout in (None, "rows"):
        path = tmp_path / f"{layout}.sqlite"
        store = await open_sqlite_store(path, layout=layout)  # type: ignore[arg-type]
        try:
            await store.begin_session("first", "tests", started_ns=1, session_id="s-first")
        finally:
            await store.close()
        with closing(sqlite3.connect(path)) as con:
            made[layout] = con.execute("PRAGMA user_version").fetchone()[0]
        reopened = await open_sqlite_store(path)  # no layout named: the file's own
        try:
            await reopened.begin_session("second", "tests", started_ns=2, session_id="s-second")
            assert [e.session async for e in reopened.read()] == ["s-first", "s-second"]
            assert (await reopened.verify()).ok
            assert reopened.layout == ("rows" if layout else "columnar")
        finally:
            await reopened.close()
    assert made == {None: COLUMNAR_SCHEMA, "rows": ROWS_SCHEMA}


@pytest.mark.asyncio
async def test_empty_existing_file_is_refused_readonly_and_stays_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    with pytest.raises(DatabaseError) as caught:
        await open_sqlite_store(path, readonly=True)
    _assert_one_line_naming(caught.value, path)
    assert _files(tmp_path) == {"empty.sqlite": b""}


@pytest.mark.asyncio
async def test_missing_file_is_created_when_writable(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    store = await open_sqlite_store(path)
    await store.close()
    assert path.is_file()


@pytest.mark.asyncio
async def test_missing_file_readonly_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite"
    with pytest.raises(DatabaseError) as caught:
        await open_sqlite_store(path, readonly=True)
    _assert_one_line_naming(caught.value, path)
    assert _files(tmp_path) == {}


async def _make_log(path: Path) -> None:
    store = await open_sqlite_store(path)
    try:
        await store.begin_session("s", "tests", started_ns=1)
    finally:
        await store.close()


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.asyncio
async def test_newer_schema_version_is_refused_untouched(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "future.sqlite"
    await _make_log(path)
    with closing(sqlite3.connect(path)) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        con.commit()
    before = _files(tmp_path)
    with pytest.raises(SchemaVersionError) as caught:
        await open_sqlite_store(path, readonly=readonly)
    _assert_one_line_naming(caught.value, path)
    assert str(SCHEMA_VERSION + 1) in str(caught.value)
    _assert_untouched(tmp_path, before)


@pytest.mark.asyncio
async def test_current_schema_version_opens(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    await _make_log(path)
    store = await open_sqlite_store(path, readonly=True)
    try:
        assert len(await store.sessions()) == 1
    finally:
        await store.close()


async def _open_and_verify(path: Path, *, readonly: bool) -> None:
    store = await open_sqlite_store(path, readonly=readonly)
    try:
        await store.verify()
    finally:
        await store.close()


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.asyncio
async def test_log_cut_in_half_is_reported_corrupt(tmp_path: Path, readonly: bool) -> None:
    whole = tmp_path / "whole.sqlite"
    store = await open_sqlite_store(whole)
    try:
        info = await store.begin_session("big", "tests", started_ns=1)
        ids = EventIdFactory(info.id)
        events = [Event(ids(n), "notes", n, n, info.id, Note("x" * 200)) for n in range(2, 3_000)]
        await store.append(events)
    finally:
        await store.close()
    with closing(sqlite3.connect(whole)) as con:  # move everything from the -wal into the file
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cut = tmp_path / "cut.sqlite"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDatabaseError) as caught:
        await _open_and_verify(cut, readonly=readonly)
    _assert_one_line_naming(caught.value, cut)


@pytest.mark.asyncio
async def test_directory_is_refused_with_its_path(tmp_path: Path) -> None:
    threads = set(threading.enumerate())
    with pytest.raises(StoreError) as caught:
        await open_sqlite_store(tmp_path)
    _join_sqlite_worker_threads(threads)
    _assert_one_line_naming(caught.value, tmp_path)


@pytest.mark.asyncio
async def test_missing_parent_directory_is_refused_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "log.sqlite"
    threads = set(threading.enumerate())
    with pytest.raises(StoreError) as caught:
        await open_sqlite_store(path)
    _join_sqlite_worker_threads(threads)
    _assert_one_line_naming(caught.value, path)
    assert not (tmp_path / "no").exists()


_REPEATED_FAILED_OPENS = """
import asyncio, sys
from virtuoso.errors import StoreError
from virtuoso.store import open_sqlite_store

async def attempt(path):
    try:
        await open_sqlite_store(path)
    except StoreError as error:
        return str(error)

for _ in range(100):
    message = asyncio.run(attempt(sys.argv[1]))
print(message)
"""


def test_failed_connect_leaves_no_thread_traceback(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "log.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", _REPEATED_FAILED_OPENS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert str(path) in done.stdout
    assert done.stderr == ""


@pytest.mark.asyncio
async def test_unknown_synchronous_level_is_refused_before_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with pytest.raises(UsageError, match="synchronous"):
        await open_sqlite_store(path, synchronous="OFF")  # type: ignore[arg-type]
    assert not path.exists()
