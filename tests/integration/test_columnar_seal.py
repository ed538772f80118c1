"""Sealing of the columnar layout on real trades: a live-committed session shrinks when it ends.

The BTCUSDT spot capture's trades are committed as a recorder would (100 a batch)
into a columnar log; ending the session seals its blobs into segments. The log must
read the same events, verify with the same head, and take fewer bytes a trade.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from tests.conftest import require_data
from virtuoso.errors import AppendOnlyError
from virtuoso.events import Event
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, MemoryEventStore, open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
STREAM = "binance:BTC/USDT:trades"


async def _capture_trades() -> list[Event]:
    memory = MemoryEventStore()
    try:
        await import_files(memory, "binance-capture", [require_data(CAPTURE)])
        return [e async for e in memory.read(EventFilter(streams=(STREAM,)))]
    finally:
        await memory.close()


def _blob_bytes(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
        count, size = db.execute(
            "SELECT count(*), sum(length(data)) FROM blobs WHERE stream = (SELECT seq FROM streams WHERE name = ?)",
            (STREAM,),
        ).fetchone()
    return int(count), int(size)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_ending_a_session_seals_its_blobs(tmp_path: Path) -> None:
    trades = await _capture_trades()
    path = tmp_path / "live.sqlite"
    store = await open_sqlite_store(path, layout="columnar")
    try:
        session = await store.begin_session("live", "tests", started_ns=trades[0].ts_event, session_id="s-live")
        mine = [msgspec.structs.replace(e, session=session.id, version=0, position=0) for e in trades]
        for start in range(0, len(mine), 100):
            await store.append(mine[start : start + 100])
        live_blobs, live_bytes = _blob_bytes(path)
        before = await store.verify()
        await store.end_session(session.id, ended_ns=trades[-1].ts_event + 1)
        await store.wait_sealed()
        sealed_blobs, sealed_bytes = _blob_bytes(path)
        after = await store.verify()
        read = [e async for e in store.read(EventFilter(streams=(STREAM,)))]
        window = [e async for e in store.read(EventFilter(after_position=5_000, until_position=5_010))]
    finally:
        await store.close()
    assert before.ok
    assert after.ok, after.problem
    assert after.head != before.head  # the SessionEnded link; the trades' links are checked by verify
    assert (after.events, after.batches) == (before.events + 1, before.batches + 1)
    assert [(e.id, e.payload, e.ts_event, e.ts_recv) for e in read] == [
        (e.id, e.payload, e.ts_event, e.ts_recv) for e in trades
    ]
    assert [e.position for e in window] == list(range(5_001, 5_011))
    assert live_blobs == -(-len(trades) // 100)
    assert sealed_blobs == 1  # 19,904 trades: one segment
    assert sealed_bytes < 0.75 * live_bytes
    print(f"capture trades: live {live_bytes / len(trades):.2f} B/trade, sealed {sealed_bytes / len(trades):.2f}")


@pytest.mark.asyncio
async def test_live_blobs_cannot_be_deleted_without_a_covering_segment(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        await store.begin_session("s", "tests", started_ns=1, session_id="s-1")
        with pytest.raises(AppendOnlyError):
            await store._backend._transaction(lambda db: db.execute("DELETE FROM blobs"))  # type: ignore[attr-defined]
        assert (await store.verify()).ok
    finally:
        await store.close()
