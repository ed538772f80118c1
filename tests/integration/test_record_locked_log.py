"""A recording whose log another process locks for 40 s: nothing is lost, or what is lost is a declared Gap.

Real ccxt.pro against the loopback exchange playing the BTCUSDT capture at 3x its
pace; a plain ``sqlite3`` connection takes the log's write lock (``BEGIN
IMMEDIATE``) for 40 s once the recording has committed its first trades. The
recorder's memory bound is set low (2,000 events) so that the 40 s overflow it:
the first 2,000 events received meanwhile must be committed in order once the
lock goes, and the rest must be covered by a Gap on each stream, with the book
starting again from a snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.integration.test_record_loopback import BOOK, _config, _data_dir, _log
from virtuoso.book import BookBuilder, SyncRule
from virtuoso.errors import VirtuosoError
from virtuoso.events import BookSnapshot, Event, Gap, Trade
from virtuoso.exchange import Channel, record
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

LOCK_S = 40.0
TRADES = "binance:BTC/USDT:trades"
WAIT_S = 60.0


async def _count(db: Path, type_name: str) -> int:
    try:
        store = await open_sqlite_store(db, readonly=True)
    except VirtuosoError:
        return 0  # not created yet
    try:
        return sum([1 async for _ in store.read(EventFilter(types=(type_name,)))])
    finally:
        await store.close()


async def _until(condition: str, db: Path, type_name: str, at_least: int) -> None:
    for _ in range(int(WAIT_S / 0.1)):
        if await _count(db, type_name) >= at_least:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{condition} did not happen within {WAIT_S} s")


async def _hold_the_lock(db: Path) -> None:
    other = sqlite3.connect(db, isolation_level=None, timeout=WAIT_S)
    try:
        other.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(LOCK_S)  # the other process's work: the lock is what is under test
        other.execute("ROLLBACK")
    finally:
        other.close()


def _covered(ts: int, gaps: list[Gap]) -> bool:
    return any(g.start_ns <= ts <= g.end_ns for g in gaps)


async def test_a_40_s_lock_loses_nothing_it_could_hold_and_declares_the_rest(db_path: Path) -> None:
    stop = asyncio.Event()
    async with LoopbackExchange(_data_dir(), speed=3) as ex:
        config = _config(ex, channels=(Channel("trades"), Channel("book")), max_unsaved_events=2_000)
        recording = asyncio.create_task(record(config, db_path, stop=stop))
        await _until("the first trades committed", db_path, "Trade", 20)
        await _hold_the_lock(db_path)
        await _until("the dropped span declared", db_path, "Gap", 1)
        committed = await _count(db_path, "Trade")
        await _until("more trades after the lock", db_path, "Trade", committed + 20)
        stop.set()
        summary = await asyncio.wait_for(recording, WAIT_S)
        served = ex.served.trade_ids("BTCUSDT", "ws")
        trade_ns = {int(f.data["t"]): int(f.data["T"]) * 1_000_000 for f in ex.capture.frames if f.event == "trade"}
    events = await _log(db_path)
    recorded = [int(e.payload.trade_id) for e in events if isinstance(e.payload, Trade)]
    writer_gaps = [
        e.payload
        for e in events
        if isinstance(e.payload, Gap) and "events not recorded: the log refused writes" in e.payload.reason
    ]
    assert summary["dropped"] > 0, summary
    assert {g.stream for g in writer_gaps} >= {TRADES, BOOK}  # and the health reports of those 40 s
    assert sum(int(g.reason.split(" events not recorded")[0]) for g in writer_gaps) == summary["dropped"]
    assert len(recorded) == len(set(recorded)), "a trade stored twice"
    up_to = [tid for tid in served if tid <= recorded[-1]]
    missing = sorted(set(up_to) - set(recorded))
    assert missing, "the bound was never reached: the test did not test dropping"
    trade_gaps = [g for g in writer_gaps if g.stream == TRADES]
    assert all(_covered(trade_ns[tid], trade_gaps) for tid in missing), "a lost trade outside every declared gap"
    assert summary["committed"] >= len(recorded)
    _assert_the_book_starts_again_after_the_gap(events)


def _assert_the_book_starts_again_after_the_gap(events: list[Event]) -> None:
    """After the recorder heard of the dropped deltas, the book's next event is a fresh snapshot, and the whole
    book stream rebuilds into a book in sync at the end."""
    book = [e for e in events if e.stream in (BOOK, "binance:BTC/USDT:gaps")]
    resync = next(
        i
        for i, e in enumerate(book)
        if isinstance(e.payload, Gap) and e.payload.stream == BOOK and e.payload.reason.startswith("deltas dropped")
    )
    after = [e for e in book[resync + 1 :] if e.stream == BOOK]
    assert after, "no book event after the resync gap"
    assert isinstance(after[0].payload, BookSnapshot), f"the book went on with {after[0].type} after the gap"
    builder = BookBuilder(SyncRule.SPOT, BOOK)
    for event in book:
        if event.stream == BOOK:
            builder.apply(event)
    assert builder.in_sync
