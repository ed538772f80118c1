"""EventBus: who receives what, in which order, and what a failing handler becomes."""

from __future__ import annotations

from typing import ClassVar

import pytest

from virtuoso.bus import EventBus, FailurePolicy, HandlerFailed
from virtuoso.clock import ReplayClock
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, Event, Gap, Payload, Trade


class MyTrade(Trade, frozen=True, gc=False):
    """A subclass (not registered: the bus routes by class, not by registry)."""

    TOPIC: ClassVar[str] = "market.trade.mine"


def trade_event(n: int = 1, payload: Payload | None = None) -> Event:
    body = payload or Trade(100.0 + n, 1.0, "buy", str(n))
    return Event(f"e{n}", "binance:BTC/USDT:trades", n, n + 1, "s1", body, version=n, position=n)


def recorder(log: list[str], tag: str):  # type: ignore[no-untyped-def]
    return lambda event: log.append(f"{tag}:{event.type}")


def test_handlers_run_by_priority_then_subscription_order() -> None:
    bus, log = EventBus(), []
    bus.subscribe(Trade, recorder(log, "a"))
    bus.subscribe("market.trade", recorder(log, "b"), priority=-5)
    bus.subscribe(Payload, recorder(log, "c"))
    bus.subscribe("*", recorder(log, "d"), priority=-5)
    bus.publish(trade_event())
    assert log == ["b:Trade", "d:Trade", "a:Trade", "c:Trade"]


def test_a_class_subscription_receives_subclasses_and_topic_patterns_match_by_fnmatch() -> None:
    bus, log = EventBus(), []
    bus.subscribe(Trade, recorder(log, "class"))
    bus.subscribe("market.trade", recorder(log, "exact"))
    bus.subscribe("market.*", recorder(log, "glob"))
    bus.subscribe("analysis.*", recorder(log, "other"))
    bus.publish(trade_event(1, MyTrade(1.0, 1.0, "sell", "9")))
    bus.publish(trade_event(2, BookDelta((), (), 1, 2)))
    assert log == ["class:Trade", "glob:Trade", "glob:BookDelta"]


def test_several_patterns_make_one_subscription_that_handles_each_event_once() -> None:
    bus, log = EventBus(), []
    bus.subscribe(("market.*", "*"), recorder(log, "x"))
    bus.publish(trade_event())
    assert log == ["x:Trade"]


def test_unsubscribe_stops_delivery_and_twice_is_harmless() -> None:
    bus, log = EventBus(), []
    subscription = bus.subscribe(Trade, recorder(log, "x"))
    bus.publish(trade_event(1))
    bus.unsubscribe(subscription)
    bus.unsubscribe(subscription)
    bus.publish(trade_event(2))
    assert log == ["x:Trade"]
    assert bus.subscriptions == ()


def test_events_published_by_handlers_are_dispatched_after_the_current_one() -> None:
    bus, log = EventBus(), []

    def derive(event: Event) -> None:
        log.append(f"derive:{event.id}")
        bus.publish(trade_event(10, Gap("x", 0, 1, "derived")))

    bus.subscribe(Trade, derive)
    bus.subscribe(Payload, lambda e: log.append(f"all:{e.type}"))
    bus.publish_many([trade_event(1), trade_event(2)])
    assert log == ["derive:e1", "all:Trade", "all:Gap", "derive:e2", "all:Trade", "all:Gap"]


def test_a_failing_handler_does_not_stop_the_others_and_becomes_a_handler_failed_event() -> None:
    clock = ReplayClock(start_ns=777)
    bus, log, failures = EventBus(clock), [], []

    def broken(event: Event) -> None:
        raise ValueError(f"cannot handle {event.id}")

    bus.subscribe(Trade, broken, name="broken")
    bus.subscribe(Trade, recorder(log, "after"))
    bus.subscribe(HandlerFailed, failures.append)
    bus.publish(trade_event(3))
    assert log == ["after:Trade"]
    [failure] = failures
    assert failure.payload == HandlerFailed("broken", "e3", 3, "Trade", "ValueError: cannot handle e3", False)
    assert (failure.session, failure.stream, failure.causation) == ("s1", "system:s1:failures", 3)
    assert (failure.ts_event, failure.ts_recv) == (3, 777)
    assert bus.failures == 1


def test_the_same_failure_gets_the_same_id_so_a_replay_stores_it_once() -> None:
    ids = []
    for _ in range(2):
        bus = EventBus()
        bus.subscribe(Trade, lambda e: 1 / 0, name="div")
        bus.subscribe(HandlerFailed, lambda e: ids.append(e.id))
        bus.publish(trade_event(4))
    assert ids[0] == ids[1]
    assert len(ids[0]) == 32


def test_the_failure_policy_unsubscribes_a_handler_after_n_failures() -> None:
    bus, failures = EventBus(policy=FailurePolicy(max_failures=2)), []
    calls = []

    def flaky(event: Event) -> None:
        calls.append(event.id)
        raise RuntimeError("down")

    subscription = bus.subscribe(Trade, flaky)
    bus.subscribe(HandlerFailed, lambda e: failures.append(e.payload.unsubscribed))
    bus.publish_many([trade_event(n) for n in range(1, 5)])
    assert calls == ["e1", "e2"]
    assert failures == [False, True]
    assert not subscription.active


def test_a_failing_failure_handler_does_not_loop() -> None:
    bus = EventBus()
    bus.subscribe("*", lambda e: 1 / 0)
    bus.publish(trade_event())
    assert bus.failures == 2


def test_async_handlers_and_bad_targets_are_refused() -> None:
    bus = EventBus()

    async def handler(event: Event) -> None:
        return None

    class AsyncCallable:
        async def __call__(self, event: Event) -> None:
            return None

    with pytest.raises(UsageError, match="processor"):
        bus.subscribe(Trade, handler)
    with pytest.raises(UsageError, match="processor"):
        bus.subscribe(Trade, AsyncCallable())
    with pytest.raises(UsageError, match="non-empty"):
        bus.subscribe("", print)
    with pytest.raises(UsageError, match="Payload subclass"):
        bus.subscribe(int, print)  # type: ignore[arg-type]


def test_a_base_exception_propagates_and_leaves_the_bus_usable() -> None:
    bus, log = EventBus(), []

    def interrupt(event: Event) -> None:
        if event.id == "e1":
            raise KeyboardInterrupt

    bus.subscribe(Trade, interrupt)
    bus.subscribe(Trade, recorder(log, "x"))
    with pytest.raises(KeyboardInterrupt):
        bus.publish(trade_event(1))
    bus.publish(trade_event(2))
    assert log == ["x:Trade"]


def test_a_batch_subscriber_gets_each_publish_once_after_the_per_event_handlers() -> None:
    bus, log = EventBus(), []
    bus.subscribe(Trade, lambda events: log.append([e.id for e in events]), batch=True, priority=-9)
    bus.subscribe(Trade, recorder(log, "each"))
    bus.subscribe(BookDelta, lambda events: log.append(["book", *[e.id for e in events]]), batch=True)
    bus.publish_many([trade_event(1), trade_event(2), trade_event(3)])
    bus.publish(trade_event(4))
    assert log == ["each:Trade", "each:Trade", "each:Trade", ["e1", "e2", "e3"], "each:Trade", ["e4"]]


def test_a_batch_subscriber_also_gets_what_handlers_publish_and_its_failure_is_reported_once() -> None:
    bus, batches, failures = EventBus(), [], []

    def derive(event: Event) -> None:
        if event.position and event.position < 10:
            bus.publish(trade_event(event.position + 10))

    def refuse(events: list[Event]) -> None:
        batches.append([e.id for e in events])
        raise ValueError("no")

    bus.subscribe(Trade, derive)
    bus.subscribe(Trade, refuse, batch=True, name="refuse")
    bus.subscribe(HandlerFailed, failures.append)
    bus.publish_many([trade_event(1), trade_event(2)])
    assert batches == [["e1", "e11", "e2", "e12"]]
    assert [(f.payload.handler, f.payload.event_id) for f in failures] == [("refuse", "e1")]
    assert bus.failures == 1


def test_publish_many_moves_the_clock_to_each_event_and_fires_timers_before_it() -> None:
    clock, bus, seen = ReplayClock(), EventBus(), []
    clock.call_at(3, lambda: seen.append(("timer", clock.now_ns())))
    bus.subscribe(Trade, lambda e: seen.append((e.id, clock.now_ns())))
    late = Event("late", "binance:BTC/USDT:trades", 9, 2, "s1", Trade(1.0, 1.0, "buy", "9"))
    bus.publish_many([trade_event(1), trade_event(2), late, trade_event(3)], clock=clock)  # ts_recv n + 1
    assert seen == [("e1", 2), ("timer", 3), ("e2", 3), ("late", 3), ("e3", 4)]  # the clock never goes back
    bus.publish_many([trade_event(7)], clock=clock, time="ts_event")
    assert seen[-1] == ("e7", 7)


def _chunk_with_a_book_update() -> list[Event]:
    book = BookDelta((), (), 1, 1)
    return [trade_event(10), trade_event(20), trade_event(25, book), trade_event(30), trade_event(30)]


@pytest.mark.parametrize("form", [list, iter])
def test_batch_subscribers_get_a_chunk_and_the_clock_ends_where_following_it_leaves_it(form: type) -> None:
    # A list is handed over in one step (every class goes to batch subscribers alone); an iterator is
    # dispatched event by event: the two must not differ.
    bus, clock, log = EventBus(), ReplayClock(), []
    bus.subscribe("market.trade", lambda events: log.append(["trades", *[e.id for e in events]]), batch=True)
    bus.subscribe("market.*", lambda events: log.append(["market", *[e.id for e in events]]), batch=True)
    bus.publish_many(form(_chunk_with_a_book_update()), clock=clock, time="ts_event")
    assert log == [["trades", "e10", "e20", "e30", "e30"], ["market", "e10", "e20", "e25", "e30", "e30"]]
    assert clock.now_ns() == 30
    bus.publish_many(form([trade_event(5)]), clock=clock, time="ts_event")  # earlier: the clock stays
    assert clock.now_ns() == 30


def test_a_timer_due_inside_a_chunk_fires_between_its_events_for_batch_subscribers_too() -> None:
    bus, clock, log = EventBus(clock=ReplayClock()), ReplayClock(), []
    bus.subscribe("*", lambda events: log.append([e.id for e in events]), batch=True)
    clock.call_at(15, lambda: bus.publish(trade_event(15, Gap("binance:BTC/USDT:trades", 1, 2, "timer"))))
    bus.publish_many([trade_event(10), trade_event(20), trade_event(30)], clock=clock, time="ts_event")
    assert log == [["e10", "e20", "e15", "e30"]]


def test_a_per_event_subscriber_sees_each_event_at_its_time_beside_batch_ones() -> None:
    bus, clock, seen, batches = EventBus(), ReplayClock(), [], []
    bus.subscribe("market.*", batches.append, batch=True)
    bus.subscribe(BookDelta, lambda event: seen.append((event.id, clock.now_ns())))
    bus.publish_many(_chunk_with_a_book_update(), clock=clock, time="ts_event")
    assert seen == [("e25", 25)]
    assert [len(batch) for batch in batches] == [5]
