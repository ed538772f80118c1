"""The buffered writer riding out a log that refuses writes: another process's lock, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from virtuoso.errors import StoreBusyError
from virtuoso.events import Event, Gap, Trade
from virtuoso.store import CommitRetry, EventFilter, SQLiteEventStore, open_sqlite_store

pytestmark = pytest.mark.asyncio

SID = "retry"
STREAM = "binance:BTC/USDT:trades"
FAST = {"first_delay_s": 0.01, "max_delay_s": 0.05}


def trade(n: int) -> Event:
    ts = 1_700_000_000_000_000_000 + n * 1_000_000
    return Event(f"t{n}", STREAM, ts, ts + 5, SID, Trade(60_000.0 + n, 0.01, "buy", str(n)))


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteEventStore]:
    opened = await open_sqlite_store(tmp_path / "log.sqlite", busy_timeout_s=0.02)
    await opened.begin_session("retry", "tests", started_ns=1, session_id=SID)
    try:
        yield opened
    finally:
        await opened.close()


@contextmanager
def lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the log's write lock until the block ends (or ``release`` is called)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def stored(store: SQLiteEventStore) -> list[Event]:
    return [e async for e in store.read(EventFilter(session=SID)) if e.type != "SessionStarted"]


async def wait_for_stall(writer: object) -> None:
    for _ in range(500):
        if getattr(writer, "stalled", None) is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never saw the lock")


async def test_a_locked_log_is_retried_in_order_and_nothing_is_lost(store: SQLiteEventStore) -> None:
    writer = store.writer(max_events=7, max_delay_s=0.01, retry=CommitRetry(**FAST))
    with lock_held(store.path) as other:
        await writer.write_many([trade(n) for n in range(1, 21)])
        await wait_for_stall(writer)
        assert isinstance(writer.stalled, StoreBusyError)
        await writer.write_many([trade(n) for n in range(21, 41)])
        assert writer.written == 0
        other.execute("ROLLBACK")
    await writer.flush()
    assert [e.id for e in await stored(store)] == [f"t{n}" for n in range(1, 41)]
    assert (writer.written, writer.dropped, writer.stalled) == (40, 0, None)
    assert (await store.verify()).ok


async def test_past_the_bound_the_newest_are_dropped_and_declared_as_a_gap(store: SQLiteEventStore) -> None:
    writer = store.writer(max_events=5, max_delay_s=0.01, retry=CommitRetry(max_pending=10, when_full="drop", **FAST))
    seen: list[object] = []
    writer.on_dropped = seen.extend
    with lock_held(store.path) as other:
        await writer.write_many([trade(n) for n in range(1, 6)])
        await wait_for_stall(writer)
        await writer.write_many([trade(n) for n in range(6, 31)])
        other.execute("ROLLBACK")
    await writer.flush()
    events = await stored(store)
    trades = [e.id for e in events if isinstance(e.payload, Trade)]
    gaps = [e for e in events if isinstance(e.payload, Gap)]
    assert trades == [f"t{n}" for n in range(1, 11)]
    assert writer.dropped == 20
    assert len(gaps) == 1
    gap = gaps[0].payload
    assert isinstance(gap, Gap)
    assert (gaps[0].stream, gap.stream) == ("binance:BTC/USDT:gaps", STREAM)
    assert (gap.start_ns, gap.end_ns) == (trade(11).ts_event, trade(30).ts_event)
    assert gap.reason.startswith("20 events not recorded: the log refused writes (StoreBusyError")
    assert len(seen) == 1
    assert (await store.verify()).ok


async def test_wait_mode_holds_the_producer_instead_of_dropping(store: SQLiteEventStore) -> None:
    writer = store.writer(max_events=5, max_delay_s=0.01, retry=CommitRetry(max_pending=8, when_full="wait", **FAST))
    with lock_held(store.path) as other:
        await writer.write_many([trade(n) for n in range(1, 6)])
        await wait_for_stall(writer)
        blocked = asyncio.create_task(writer.write_many([trade(n) for n in range(6, 21)]))
        await asyncio.sleep(0.2)
        assert not blocked.done()
        other.execute("ROLLBACK")
        await asyncio.wait_for(blocked, 5)
    await writer.flush()
    assert [e.id for e in await stored(store)] == [f"t{n}" for n in range(1, 21)]
    assert writer.dropped == 0


async def test_a_flush_gives_up_after_the_bound_and_says_how_much_was_not_committed(store: SQLiteEventStore) -> None:
    writer = store.writer(max_events=5, max_delay_s=0.01, retry=CommitRetry(give_up_after_s=0.3, **FAST))
    with lock_held(store.path):
        await writer.write_many([trade(n) for n in range(1, 13)])
        with pytest.raises(StoreBusyError, match=r"12 events were not committed \(and 0 dropped\) after retrying"):
            await asyncio.wait_for(writer.flush(), 5)
    assert [e.id for e in writer.failed] == [f"t{n}" for n in range(1, 13)]
    assert await stored(store) == []


async def test_without_a_retry_policy_a_locked_log_is_an_error_at_once(store: SQLiteEventStore) -> None:
    writer = store.writer(max_events=5, max_delay_s=0.01)
    with lock_held(store.path):
        await writer.write_many([trade(n) for n in range(1, 6)])
        with pytest.raises(StoreBusyError, match="database is locked by another writer"):
            await writer.flush()
    assert len(writer.failed) == 5
