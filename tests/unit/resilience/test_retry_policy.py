"""RetryPolicy on tenacity: full jitter, attempts and elapsed-time limits, rate limits; no real time."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from tests.unit.resilience._fakes import FakeSleep, Script
from virtuoso.clock import ReplayClock
from virtuoso.errors import (
    BadSymbol,
    CircuitOpenError,
    ExchangeNetworkError,
    ExchangeTimeout,
    RateLimited,
    UsageError,
)
from virtuoso.resilience import RetryPolicy

T0 = 1_723_161_255_000_000_000


def net(n: int = 0) -> ExchangeNetworkError:
    return ExchangeNetworkError(f"connection reset {n}", exchange="binance", operation="fetch_trades")


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(T0)


@pytest.mark.asyncio
async def test_transient_failures_are_retried_until_success(clock: ReplayClock) -> None:
    sleep, call = FakeSleep(clock), Script([net(1), net(2)])

    result = await RetryPolicy(seed=1).call(call, clock=clock, sleep=sleep)

    assert result == "done"
    assert call.calls == 3
    assert len(sleep.waits) == 2


@pytest.mark.asyncio
async def test_waits_are_full_jitter_under_the_doubling_cap(clock: ReplayClock) -> None:
    policy = RetryPolicy(max_attempts=8, max_elapsed_s=1e9, base_delay_s=1.0, max_delay_s=10.0, seed=3)
    sleep = FakeSleep(clock)

    with pytest.raises(ExchangeNetworkError):
        await policy.call(Script([net(i) for i in range(8)]), clock=clock, sleep=sleep)

    caps = [1, 2, 4, 8, 10, 10, 10]
    assert len(sleep.waits) == 7
    assert all(0 <= wait <= cap for wait, cap in zip(sleep.waits, caps, strict=True))
    expected = random.Random(3)
    assert sleep.waits == [expected.uniform(0, cap) for cap in caps]


@pytest.mark.asyncio
async def test_the_same_seed_gives_the_same_waits() -> None:
    waits = []
    for _ in range(2):
        clock = ReplayClock(T0)
        sleep = FakeSleep(clock)
        with pytest.raises(ExchangeNetworkError):
            await RetryPolicy(seed=42).call(Script([net(i) for i in range(5)]), clock=clock, sleep=sleep)
        waits.append(sleep.waits)
    assert waits[0] == waits[1]
    assert len(set(waits[0])) == 4


@pytest.mark.asyncio
async def test_gives_up_after_max_attempts_with_the_last_error(clock: ReplayClock) -> None:
    call = Script([net(i) for i in range(10)])

    with pytest.raises(ExchangeNetworkError, match="connection reset 2"):
        await RetryPolicy(max_attempts=3, seed=0).call(call, clock=clock, sleep=FakeSleep(clock))

    assert call.calls == 3


@pytest.mark.asyncio
async def test_never_waits_past_max_elapsed_by_the_injected_clock(clock: ReplayClock) -> None:
    policy = RetryPolicy(max_attempts=100, max_elapsed_s=5.0, base_delay_s=1.0, max_delay_s=2.0, seed=9)
    sleep = FakeSleep(clock)

    with pytest.raises(ExchangeTimeout):
        await policy.call(Script([ExchangeTimeout("slow")] * 100), clock=clock, sleep=sleep)

    assert sum(sleep.waits) <= 5.0
    assert clock.now_ns() - T0 <= 5 * 10**9
    assert len(sleep.waits) >= 3  # waits average 0.5-1 s: several fit, then the budget stops it


@pytest.mark.asyncio
async def test_elapsed_time_includes_time_spent_in_the_calls(clock: ReplayClock) -> None:
    async def slow_failure() -> None:
        clock.advance_to(clock.now_ns() + 4 * 10**9)  # each attempt takes 4 s of clock time
        raise net()

    sleep = FakeSleep(clock)
    with pytest.raises(ExchangeNetworkError):
        await RetryPolicy(max_attempts=10, max_elapsed_s=10.0, max_delay_s=0.5, seed=2).call(
            slow_failure, clock=clock, sleep=sleep
        )

    assert len(sleep.waits) == 2  # after 8 s and a wait, the third attempt ends past 10 s


@pytest.mark.asyncio
async def test_permanent_and_foreign_errors_are_raised_at_once(clock: ReplayClock) -> None:
    for error in (BadSymbol("no market NOPE/USDT"), ValueError("bug")):
        call, sleep = Script([error]), FakeSleep(clock)
        with pytest.raises(type(error)):
            await RetryPolicy(seed=0).call(call, clock=clock, sleep=sleep)
        assert (call.calls, sleep.waits) == (1, [])


@pytest.mark.asyncio
async def test_cancellation_is_never_retried(clock: ReplayClock) -> None:
    call, sleep = Script([asyncio.CancelledError()]), FakeSleep(clock)
    with pytest.raises(asyncio.CancelledError):
        await RetryPolicy(seed=0).call(call, clock=clock, sleep=sleep)
    assert (call.calls, sleep.waits) == (1, [])


@pytest.mark.asyncio
async def test_rate_limits_wait_at_least_retry_after_or_the_rate_limit_delay(clock: ReplayClock) -> None:
    policy = RetryPolicy(max_elapsed_s=100.0, max_delay_s=0.5, rate_limit_delay_s=5.0, seed=0)
    sleep = FakeSleep(clock)
    call = Script([RateLimited("429", retry_after_s=12.0), RateLimited("429"), net()])

    assert await policy.call(call, clock=clock, sleep=sleep) == "done"

    assert sleep.waits[:2] == [12.0, 5.0]
    assert sleep.waits[2] <= 0.5


@pytest.mark.asyncio
async def test_a_retry_after_beyond_the_budget_stops_at_once(clock: ReplayClock) -> None:
    call, sleep = Script([RateLimited("429", retry_after_s=60.0)]), FakeSleep(clock)
    with pytest.raises(RateLimited):
        await RetryPolicy(max_elapsed_s=30.0, seed=0).call(call, clock=clock, sleep=sleep)
    assert (call.calls, sleep.waits) == (1, [])


@pytest.mark.asyncio
async def test_an_open_breaker_is_waited_out(clock: ReplayClock) -> None:
    call, sleep = Script([CircuitOpenError("open", reopens_at_ns=T0 + 3 * 10**9)]), FakeSleep(clock)
    assert await RetryPolicy(max_delay_s=0.1, seed=0).call(call, clock=clock, sleep=sleep) == "done"
    assert sleep.waits == [3.0]


@pytest.mark.asyncio
async def test_retries_are_logged_without_more_than_our_message(
    clock: ReplayClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="virtuoso.resilience"):
        await RetryPolicy(seed=0).call(Script([net(7)]), clock=clock, sleep=FakeSleep(clock))
    [record] = caplog.records
    assert "attempt 1 failed (binance fetch_trades: connection reset 7), retrying in" in record.getMessage()


@pytest.mark.asyncio
async def test_retrying_works_as_an_async_for_loop(clock: ReplayClock) -> None:
    call, sleep = Script([net()]), FakeSleep(clock)
    async for attempt in RetryPolicy(seed=0).retrying(clock=clock, sleep=sleep):
        with attempt:
            result = await call()
    assert (result, call.calls) == ("done", 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_attempts": 0}, "max_attempts must be at least 1"), ({"base_delay_s": -1}, "base_delay_s must be >= 0")],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
