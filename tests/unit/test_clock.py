"""ReplayClock and LiveClock: time order, ties, cancellation, no going back."""

from __future__ import annotations

import asyncio

import pytest

from virtuoso.clock import LiveClock, ReplayClock
from virtuoso.errors import ClockError


def test_timers_fire_in_time_order_then_registration_order() -> None:
    clock = ReplayClock(start_ns=0)
    fired: list[str] = []
    for name, when in [("late", 30), ("tie-1", 20), ("early", 10), ("tie-2", 20)]:
        clock.call_at(when, lambda name=name: fired.append(name))
    clock.advance_to(25)
    assert fired == ["early", "tie-1", "tie-2"]
    clock.advance_to(30)
    assert fired[-1] == "late"


def test_a_timer_sees_its_own_due_time_and_the_target_after() -> None:
    clock = ReplayClock(start_ns=100)
    seen: list[int] = []
    clock.call_later(50, lambda: seen.append(clock.now_ns()))
    clock.advance_to(1_000)
    assert seen == [150]
    assert clock.now_ns() == 1_000


def test_timers_scheduled_by_timers_fire_in_the_same_advance_when_due() -> None:
    clock = ReplayClock()
    fired: list[int] = []

    def chain() -> None:
        fired.append(clock.now_ns())
        if len(fired) < 3:
            clock.call_later(10, chain)

    clock.call_at(10, chain)
    clock.advance_to(25)
    assert fired == [10, 20]
    clock.advance_to(30)
    assert fired == [10, 20, 30]


def test_cancelled_timers_do_not_fire_and_cancel_is_idempotent() -> None:
    clock = ReplayClock()
    fired: list[str] = []
    handle = clock.call_at(5, lambda: fired.append("x"))
    handle.cancel()
    handle.cancel()
    assert clock.next_timer_ns() is None
    clock.advance_to(10)
    assert fired == []


def test_a_timer_in_the_past_fires_at_the_next_advance_without_moving_back() -> None:
    clock = ReplayClock(start_ns=100)
    seen: list[int] = []
    clock.call_at(50, lambda: seen.append(clock.now_ns()))
    clock.advance_to(100)
    assert seen == [100]


def test_going_backwards_is_an_error_that_names_both_times() -> None:
    clock = ReplayClock(start_ns=500)
    with pytest.raises(ClockError, match="from 500 to 499"):
        clock.advance_to(499)
    assert clock.now_ns() == 500


@pytest.mark.asyncio
async def test_live_clock_fires_on_the_running_loop() -> None:
    clock = LiveClock()
    done = asyncio.get_running_loop().create_future()
    start = clock.now_ns()
    clock.call_later(1_000_000, lambda: done.set_result(clock.now_ns()))
    cancelled = clock.call_at(start, lambda: done.set_result(-1))
    cancelled.cancel()
    fired_at = await asyncio.wait_for(done, timeout=5)
    assert fired_at >= start + 1_000_000
