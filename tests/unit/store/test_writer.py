"""The buffered writer, driven against the in-memory store (the contract suite covers SQLite too)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from virtuoso.errors import SessionError, StoreClosedError, UsageError
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, MemoryEventStore

pytestmark = pytest.mark.asyncio

SID = "w"
STREAM = "binance:BTC/USDT:trades"


def trade(n: int, session: str = SID) -> Event:
    return Event(f"t{n}", STREAM, 1_000 + n, 2_000 + n, session, Trade(60_000.0 + n, 0.01, "buy", str(n)))


@pytest_asyncio.fixture
async def store() -> AsyncIterator[MemoryEventStore]:
    opened = MemoryEventStore()
    await opened.begin_session("writer", "tests", started_ns=1, session_id=SID)
    try:
        yield opened
    finally:
        await opened.close()


async def stored_ids(store: MemoryEventStore) -> list[str]:
    return [e.id async for e in store.read(EventFilter(streams=(STREAM,)))]


async def wait_until_position(store: MemoryEventStore, position: int, within_s: float = 2.0) -> None:
    """Poll until the store reaches ``position``; TimeoutError after ``within_s`` seconds."""
    async with asyncio.timeout(within_s):
        while await store.max_position() != position:  # noqa: ASYNC110 - the store has no commit notification to wait on
            await asyncio.sleep(0.001)


@pytest.mark.parametrize(("max_events", "max_delay_s"), [(0, 0.05), (-3, 0.05), (10, -0.001)])
async def test_impossible_settings_are_usage_errors(
    store: MemoryEventStore, max_events: int, max_delay_s: float
) -> None:
    with pytest.raises(UsageError):
        store.writer(max_events=max_events, max_delay_s=max_delay_s)


async def test_write_many_commits_full_batches_in_order(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=4, max_delay_s=3600)
    await writer.write_many(trade(n) for n in range(10))
    assert writer.pending == 2
    await writer.flush()
    assert await stored_ids(store) == [f"t{n}" for n in range(10)]
    assert (await store.verify()).batches == 1 + 3
    assert (writer.written, writer.duplicates, writer.pending) == (10, 0, 0)


async def test_interleaved_write_and_write_many_keep_order(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=3, max_delay_s=3600)
    await writer.write(trade(0))
    await writer.write_many([trade(1), trade(2), trade(3)])
    await writer.write(trade(4))
    await writer.write_many([])
    await writer.write_many([trade(5), trade(6)])
    await writer.close()
    events = [e async for e in store.read(EventFilter(streams=(STREAM,)))]
    assert [e.id for e in events] == [f"t{n}" for n in range(7)]
    assert [e.version for e in events] == list(range(1, 8))


async def test_duplicates_are_counted_not_written(store: MemoryEventStore) -> None:
    await store.append([trade(1), trade(2)])
    writer = store.writer(max_events=10, max_delay_s=3600)
    await writer.write_many([trade(1), trade(2), trade(3)])
    await writer.flush()
    assert (writer.written, writer.duplicates) == (1, 2)
    assert await stored_ids(store) == ["t1", "t2", "t3"]


async def test_flush_with_nothing_queued_commits_no_batch(store: MemoryEventStore) -> None:
    writer = store.writer()
    await writer.flush()
    await writer.flush()
    assert (await store.verify()).batches == 1


async def test_context_manager_flushes_and_closes(store: MemoryEventStore) -> None:
    async with store.writer(max_events=100, max_delay_s=3600) as writer:
        await writer.write_many([trade(1), trade(2)])
        assert await store.max_position() == 1
    assert await stored_ids(store) == ["t1", "t2"]
    with pytest.raises(StoreClosedError):
        await writer.write(trade(3))
    with pytest.raises(StoreClosedError):
        await writer.write_many([trade(3)])
    await writer.close()


async def test_at_most_one_batch_is_in_flight(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=1, max_delay_s=3600)
    await writer.write(trade(1))
    await writer.write(trade(2))
    # The second full batch had to wait for the first one to commit.
    assert await store.max_position() >= 2
    await writer.write(trade(3))
    assert await store.max_position() >= 3
    await writer.flush()
    assert await stored_ids(store) == ["t1", "t2", "t3"]


async def test_age_flush_rearms_for_every_new_batch(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=1_000, max_delay_s=0.005)
    for n in range(3):
        await writer.write(trade(n))
        await wait_until_position(store, n + 2)
    assert writer.written == 3
    await writer.close()


async def test_failed_batch_is_retryable_from_failed(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=3, max_delay_s=3600)
    await writer.write_many([trade(1), trade(2, session="nobody")])
    with pytest.raises(SessionError, match="nobody"):
        await writer.flush()
    assert [e.id for e in writer.failed] == ["t1", "t2"]
    await writer.write_many([e for e in writer.failed if e.session == SID])
    await writer.flush()
    assert await stored_ids(store) == ["t1"]
    await writer.close()


async def test_events_left_after_a_reported_failure_still_flush_by_age(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=2, max_delay_s=0.01)
    await writer.write(trade(0))
    await writer.write(trade(1, session="nobody"))  # fills a batch that will fail
    await writer.write(trade(2))
    with pytest.raises(SessionError):
        await writer.write(trade(3))  # fills the next batch, commits it, then reports the failure
    await wait_until_position(store, 3, within_s=0.5)
    assert await stored_ids(store) == ["t2", "t3"]


async def test_close_after_an_unreported_failure_still_commits_what_came_after(store: MemoryEventStore) -> None:
    writer = store.writer(max_events=2, max_delay_s=3600)
    await writer.write(trade(0))
    await writer.write(trade(1, session="nobody"))  # fills a batch that will fail
    await writer.write(trade(2))  # queued behind it
    async with asyncio.timeout(2.0):
        while not writer.failed:  # noqa: ASYNC110 - the writer has no failure notification to wait on
            await asyncio.sleep(0.001)
    with pytest.raises(SessionError):
        await writer.close()
    assert writer.pending == 0
    assert await stored_ids(store) == ["t2"]
    assert [e.id for e in writer.failed] == ["t0", "t1"]
