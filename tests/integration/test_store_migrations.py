"""Schema migrations of the row layout: a log written at version 1 opens under a newer schema, step by step."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from virtuoso.errors import StoreError
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, _sqlite_io, config_hash, open_sqlite_store
from virtuoso.store._chain import GENESIS, batch_hash
from virtuoso.store._schema import APPLICATION_ID, MIGRATIONS, ROWS_SCHEMA

STREAM = "binance:BTC/USDT:trades"


async def _write_v1_log(path: Path) -> str:
    store = await open_sqlite_store(path, layout="rows")  # the layout with older schema versions
    try:
        session = await store.begin_session("old", "tests", started_ns=1)
        await store.append(
            [Event(f"t{n}", STREAM, n, n, session.id, Trade(100.0 + n, 1.0, "buy", str(n))) for n in range(5)]
        )
        return (await store.verify()).head
    finally:
        await store.close()


def _user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


@pytest.mark.asyncio
async def test_an_older_log_is_migrated_and_keeps_every_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.sqlite"
    head = await _write_v1_log(path)
    step = ["CREATE TABLE annotations (position INTEGER PRIMARY KEY, text TEXT NOT NULL)"]
    monkeypatch.setattr(_sqlite_io, "MIGRATIONS", {**MIGRATIONS, ROWS_SCHEMA + 1: step})
    monkeypatch.setattr(_sqlite_io, "ROWS_SCHEMA", ROWS_SCHEMA + 1)
    store = await open_sqlite_store(path)
    try:
        report = await store.verify()
        trades = [e async for e in store.read(EventFilter(types=("Trade",)))]
    finally:
        await store.close()
    assert _user_version(path) == ROWS_SCHEMA + 1
    assert (report.ok, report.head) == (True, head)
    assert [e.payload.price for e in trades] == [100.0, 101.0, 102.0, 103.0, 104.0]  # type: ignore[attr-defined]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM annotations").fetchone() == (0,)


@pytest.mark.asyncio
async def test_a_failing_migration_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.sqlite"
    head = await _write_v1_log(path)
    broken = ["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"]
    monkeypatch.setattr(_sqlite_io, "MIGRATIONS", {**MIGRATIONS, ROWS_SCHEMA + 1: broken})
    monkeypatch.setattr(_sqlite_io, "ROWS_SCHEMA", ROWS_SCHEMA + 1)
    with pytest.raises(StoreError, match=str(path)):
        await open_sqlite_store(path)
    monkeypatch.undo()
    assert _user_version(path) == ROWS_SCHEMA
    with closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables
    store = await open_sqlite_store(path, readonly=True)
    try:
        report = await store.verify()
    finally:
        await store.close()
    assert (report.ok, report.head) == (True, head)


def _write_schema_1_log(path: Path) -> bytes:
    """A log exactly as schema version 1 wrote it: its tables, one session, 5 trades, column-only batch hashes."""
    started = b'{"name":"old","source":"tests","symbols":[],"channels":[],"config_hash":"%s"}'
    config = config_hash({})
    manifest = json.dumps(
        {"ccxt": None, "config": {}, "config_hash": config, "python": "3.11", "virtuoso": None},
        sort_keys=True,
        separators=(",", ":"),
    )
    rows = [(1, "s1", 1, 1, 1, 1, 1, 1, None, started % config.encode())]
    rows += [
        (2 + n, f"t{n}", 2, 1 + n, 2, n, n, 1, None, msgspec.json.encode(Trade(100.0 + n, 1.0, "buy", str(n))))
        for n in range(5)
    ]
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA page_size = {_sqlite_io.PAGE_SIZE}")
        db.execute("PRAGMA journal_mode = WAL")
        for statement in MIGRATIONS[1]:
            db.execute(statement)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO sessions VALUES (1, 'sess-1', 'old', 'tests', '[]', '[]', ?, ?, 1, NULL, 'open', '', '')",
            (manifest, config),
        )
        db.executemany("INSERT INTO streams VALUES (?, ?, ?)", [(1, "system:sess-1:lifecycle", 1), (2, STREAM, 5)])
        db.executemany("INSERT INTO kinds VALUES (?, ?, ?)", [(1, "SessionStarted", 1), (2, "Trade", Trade.SCHEMA)])
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        first = batch_hash(GENESIS, [list(c) for c in zip(*rows[:1], strict=True)])
        second = batch_hash(first, [list(c) for c in zip(*rows[1:], strict=True)])
        db.executemany("INSERT INTO batches VALUES (?,?,?,?)", [(1, 1, 1, first), (2, 2, 6, second)])
        db.executemany(
            "INSERT INTO session_streams VALUES (?,?,?,?,?,?,?)", [(1, 1, 1, 1, 1, 1, 1), (1, 2, 5, 0, 4, 2, 6)]
        )
        db.commit()
    return second


@pytest.mark.asyncio
async def test_a_schema_1_log_reads_before_migration_and_keeps_its_head_after(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    head = _write_schema_1_log(path).hex()
    async with await open_sqlite_store(path, readonly=True, key=None) as old:
        before = await old.verify()
    assert (before.ok, before.head, before.events) == (True, head, 6), before.problem
    assert _user_version(path) == 1  # a read-only open migrates nothing

    store = await open_sqlite_store(path, key=None)
    try:
        migrated = await store.verify()
        await store.end_session("sess-1", ended_ns=10)
        after = await store.verify()
        keyed = await store.verify(key=b"a key of sixteen bytes or more")
    finally:
        await store.close()
    assert _user_version(path) == ROWS_SCHEMA == 2
    assert (migrated.ok, migrated.head) == (True, head)
    assert (after.ok, after.events, after.batches) == (True, 7, 3)
    assert not keyed.ok
    assert "carries no MAC" in keyed.problem  # the old batches predate keys
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT first_bound_batch FROM chain_meta").fetchall() == [(3,)]
        db.execute("UPDATE streams SET name = 'system:other:lifecycle' WHERE seq = 1")
        db.commit()
    async with await open_sqlite_store(path, readonly=True, key=None) as renamed:
        report = await renamed.verify()
    # Batch 3 (written after the migration) binds the lifecycle stream's name.
    assert not report.ok
    assert report.first_bad_position == 7
