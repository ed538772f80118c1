"""EventPublisher: envelopes with the Clock's time, the right streams and deterministic ids."""

from __future__ import annotations

from virtuoso.bus import EventBus, EventPublisher
from virtuoso.clock import ReplayClock
from virtuoso.events import Bar, BookDelta, BookSnapshot, Event, Quote, Ticker, Trade


def publish_all(clock: ReplayClock) -> list[Event]:
    bus, seen = EventBus(clock), []
    bus.subscribe("*", seen.append)
    publisher = EventPublisher(bus, clock, session="s1", exchange="binance")
    publisher.trade("BTC/USDT", 100.0, 0.5, "buy", "1", ts_event=900)
    clock.advance_to(2_000)
    publisher.book_snapshot("BTC/USDT", [(99.0, 1.0)], [(101.0, 2.0)], 10)
    publisher.book_delta("BTC/USDT", [(99.0, 0.0)], [], 11, 12, previous_sequence=10, ts_event=1_900)
    publisher.bar("BTC/USDT", Bar("1m", 0, 1.0, 2.0, 0.5, 1.5, 10.0))
    publisher.ticker("ETH/USDT", Ticker(1.0, 2.0, 3.0, 4.0, 2.0))
    publisher.quote("ETH/USDT", Quote(1.0, 2.0, 3.0, 4.0, 7))
    return seen


def test_streams_times_and_payloads() -> None:
    seen = publish_all(ReplayClock(start_ns=1_000))
    assert [(e.stream, e.ts_event, e.ts_recv) for e in seen] == [
        ("binance:BTC/USDT:trades", 900, 1_000),
        ("binance:BTC/USDT:book", 2_000, 2_000),
        ("binance:BTC/USDT:book", 1_900, 2_000),
        ("binance:BTC/USDT:bars", 2_000, 2_000),
        ("binance:ETH/USDT:ticker", 2_000, 2_000),
        ("binance:ETH/USDT:quotes", 2_000, 2_000),
    ]
    assert isinstance(seen[0].payload, Trade)
    assert seen[1].payload == BookSnapshot(((99.0, 1.0),), ((101.0, 2.0),), 10)
    assert seen[2].payload == BookDelta(((99.0, 0.0),), (), 11, 12, 10)
    assert {e.session for e in seen} == {"s1"}


def test_ids_are_unique_and_the_same_on_every_run() -> None:
    first = [e.id for e in publish_all(ReplayClock(start_ns=1_000))]
    second = [e.id for e in publish_all(ReplayClock(start_ns=1_000))]
    assert first == second
    assert len(set(first)) == len(first)
