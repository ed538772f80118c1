"""StoreRecorder on a real SQLite log: what is published on chosen topics is what is stored, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.bus import EventBus, EventPublisher, StoreRecorder
from virtuoso.clock import ReplayClock
from virtuoso.events import Event, Quote, Trade
from virtuoso.store import EventFilter, open_sqlite_store


@pytest.mark.asyncio
async def test_published_events_on_chosen_topics_are_stored_in_publish_order(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path / "log.db")
    session = await store.begin_session("bus", "test", started_ns=1)
    clock = ReplayClock(start_ns=10)
    bus = EventBus(clock)
    recorder = StoreRecorder(
        bus, store.writer(max_events=1_000), topics=("market.trade", "system.*"), max_backlog=2_000
    )
    publisher = EventPublisher(bus, clock, session=session.id, exchange="binance")
    published: list[Event] = []
    bus.subscribe("market.*", published.append)
    bus.subscribe(Trade, lambda e: 1 / 0 if e.payload.trade_id == "500" else None, name="picky")
    for n in range(5_000):
        clock.advance_to(10 + n)
        publisher.trade("BTC/USDT", 100.0 + n % 7, 0.1, "buy", str(n))
        publisher.quote("BTC/USDT", Quote(1.0, 1.0, 2.0, 1.0, n))
        await recorder.throttle()
        assert recorder.backlog < 2_000
    await recorder.close()
    await recorder.close()

    stored = [e async for e in store.read(EventFilter(session=session.id))]
    await store.close()
    trades = [e for e in stored if e.type == "Trade"]
    assert [e.id for e in trades] == [e.id for e in published if e.type == "Trade"]
    assert not [e for e in stored if e.type == "Quote"]
    [failure] = [e for e in stored if e.type == "HandlerFailed"]
    assert failure.payload.handler == "picky"
    assert failure.position > trades[500].position


@pytest.mark.asyncio
async def test_followed_commits_come_back_as_the_log_holds_them_without_duplicates(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path / "log.db")
    session = await store.begin_session("follow", "test", started_ns=1)
    clock = ReplayClock(start_ns=10)
    bus = EventBus(clock)
    recorder = StoreRecorder(bus, store.writer(max_events=7), topics=("market.trade",))
    committed: list[Event] = []
    recorder.follow_commits(store, committed.extend)
    publisher = EventPublisher(bus, clock, session=session.id, exchange="binance")
    for n in range(20):
        clock.advance_to(10 + n)
        publisher.trade("BTC/USDT", 100.0, 0.1, "buy", str(n))
        publisher.quote("BTC/USDT", Quote(1.0, 1.0, 2.0, 1.0, n))  # not recorded, so never committed
        await recorder.throttle()
    await recorder.flush()
    first = list(committed)
    for event in first[:5]:  # already stored: skipped by the store, so not reported again
        bus.publish(event)
    await recorder.close()

    stored = [e async for e in store.read(EventFilter(session=session.id, types=("Trade",)))]
    await store.close()
    assert committed == stored == first
    assert [e.version for e in committed] == list(range(1, 21))
    assert all(e.position for e in committed)
