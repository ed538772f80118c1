"""A real capture imported into both SQLite layouts: the same events, the same head, far fewer bytes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import require_data
from virtuoso.errors import StoreError, UsageError
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, SessionInfo, migrate_log, open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"


def _used_bytes(path: Path) -> int:
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
        ((pages, free, size),) = db.execute(
            "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count),"
            " (SELECT page_size FROM pragma_page_size)"
        ).fetchall()
    return int((pages - free) * size)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_capture_gives_the_same_head_in_both_layouts(tmp_path: Path) -> None:
    capture = require_data(CAPTURE)
    results = {}
    for layout in ("rows", "columnar"):
        path = tmp_path / f"{layout}.sqlite"
        store = await open_sqlite_store(path, layout=layout, key=None)
        try:
            report = await import_files(store, "binance-capture", [capture])
            verified = await store.verify()
            events = [e async for e in store.read()]
            book = [e async for e in store.read(EventFilter(types=("BookSnapshot",), after_position=2))]
            newest = await store.last_event(EventFilter(streams=("binance:BTC/USDT:trades",)))
        finally:
            await store.close()
        assert verified.ok, verified.problem
        results[layout] = (verified.head, verified.batches, events, book, newest, report.counts, _used_bytes(path))
    rows, columnar = results["rows"], results["columnar"]
    assert columnar[:6] == rows[:6]
    assert columnar[6] * 5 < rows[6]

    migrated = tmp_path / "migrated.sqlite"
    report = await migrate_log(tmp_path / "rows.sqlite", migrated)
    assert (report.ok, report.head, report.batches) == (True, rows[0], rows[1])
    copy = await open_sqlite_store(migrated, readonly=True)
    try:
        assert [e async for e in copy.read()] == rows[2]
        assert await copy.sessions() == await _sessions(tmp_path / "rows.sqlite")
    finally:
        await copy.close()
    with pytest.raises(UsageError, match="already exists"):
        await migrate_log(tmp_path / "rows.sqlite", migrated)
    with pytest.raises(UsageError, match="a columnar log"):
        await migrate_log(migrated, tmp_path / "again.sqlite")
    assert not (tmp_path / "again.sqlite").exists()


async def _sessions(path: Path) -> list[SessionInfo]:
    store = await open_sqlite_store(path, readonly=True)
    try:
        return await store.sessions()
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_migrating_a_damaged_row_log_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "rows.sqlite"
    store = await open_sqlite_store(source, key=None, layout="rows")
    try:
        await store.begin_session("m", "tests", started_ns=1, session_id="s-m")
        await store.end_session("s-m", ended_ns=2)
    finally:
        await store.close()
    with closing(sqlite3.connect(source)) as db:
        db.execute("DROP TRIGGER batches_no_update")
        db.execute("UPDATE batches SET hash = zeroblob(32)")
        db.commit()
    with pytest.raises(StoreError, match="does not verify"):
        await migrate_log(source, tmp_path / "copy.sqlite")
    assert not (tmp_path / "copy.sqlite").exists()
