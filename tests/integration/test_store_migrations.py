"""Schema migrations: a log written at version 1 opens under a newer schema, step by step."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from virtuoso.errors import StoreError
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, _sqlite_io, open_sqlite_store
from virtuoso.store._schema import MIGRATIONS, SCHEMA_VERSION

STREAM = "binance:BTC/USDT:trades"


async def _write_v1_log(path: Path) -> str:
    store = await open_sqlite_store(path)
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
    monkeypatch.setattr(_sqlite_io, "MIGRATIONS", {**MIGRATIONS, SCHEMA_VERSION + 1: step})
    monkeypatch.setattr(_sqlite_io, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    store = await open_sqlite_store(path)
    try:
        report = await store.verify()
        trades = [e async for e in store.read(EventFilter(types=("Trade",)))]
    finally:
        await store.close()
    assert _user_version(path) == SCHEMA_VERSION + 1
    assert (report.ok, report.head) == (True, head)
    assert [e.payload.price for e in trades] == [100.0, 101.0, 102.0, 103.0, 104.0]  # type: ignore[attr-defined]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM annotations").fetchone() == (0,)


@pytest.mark.asyncio
async def test_a_failing_migration_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.sqlite"
    head = await _write_v1_log(path)
    broken = ["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"]
    monkeypatch.setattr(_sqlite_io, "MIGRATIONS", {**MIGRATIONS, SCHEMA_VERSION + 1: broken})
    monkeypatch.setattr(_sqlite_io, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=str(path)):
        await open_sqlite_store(path)
    monkeypatch.undo()
    assert _user_version(path) == SCHEMA_VERSION
    with closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables
    store = await open_sqlite_store(path, readonly=True)
    try:
        report = await store.verify()
    finally:
        await store.close()
    assert (report.ok, report.head) == (True, head)
