"""ResilientCall: breaker + retry + translation around real ccxt exception classes, on a fake clock."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from tests.unit.resilience._fakes import FakeSleep, Script
from virtuoso.clock import ReplayClock
from virtuoso.errors import BadSymbol, CircuitOpenError, ExchangeTimeout, RateLimited
from virtuoso.events import BreakerStateChanged
from virtuoso.resilience import CircuitBreaker, ResilientCall, RetryPolicy

S = 10**9


def guard(
    clock: ReplayClock, sleep: FakeSleep, *, threshold: int = 5, retry: RetryPolicy | None = None, **kwargs: object
) -> tuple[ResilientCall, list[BreakerStateChanged]]:
    seen: list[BreakerStateChanged] = []
    breaker = CircuitBreaker("binance:rest", clock, failure_threshold=threshold, open_s=10.0, on_transition=seen.append)
    policy = retry or RetryPolicy(max_attempts=4, max_elapsed_s=60.0, base_delay_s=0.1, max_delay_s=1.0, seed=5)
    call = ResilientCall(breaker, policy, exchange="binance", operation_family="rest", sleep=sleep, **kwargs)  # type: ignore[arg-type]
    return call, seen


@pytest.mark.asyncio
async def test_ccxt_failures_are_translated_retried_and_counted() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    call, seen = guard(clock, sleep)
    fn = Script([ccxt.RequestTimeout("binance GET /api/v3/aggTrades timed out"), ccxt.NetworkError("reset")])

    assert await call(fn, operation="fetch_trades") == "done"

    assert fn.calls == 3
    assert call.breaker.state == "closed"
    assert call.breaker.failures == 2
    assert seen == []


@pytest.mark.asyncio
async def test_the_last_error_is_ours_and_chained_to_ccxts() -> None:
    clock = ReplayClock(0)
    call, _ = guard(clock, FakeSleep(clock))
    original = ccxt.RequestTimeout("timed out 4")

    failures = [ccxt.RequestTimeout(f"timed out {i}") for i in range(3)]

    with pytest.raises(ExchangeTimeout) as caught:
        await call(Script([*failures, original]), operation="fetch_ohlcv")

    assert str(caught.value) == "binance fetch_ohlcv: timed out 4"
    assert caught.value.__cause__ is original


@pytest.mark.asyncio
async def test_permanent_errors_are_not_retried_and_leave_the_breaker_alone() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    call, seen = guard(clock, sleep, threshold=1)
    fn = Script([ccxt.BadSymbol("binance does not have market symbol NOPE/USDT")])

    with pytest.raises(BadSymbol):
        await call(fn, operation="fetch_trades")

    assert (fn.calls, sleep.waits, call.breaker.state, seen) == (1, [], "closed", [])


@pytest.mark.asyncio
async def test_the_breaker_opens_during_retries_and_the_retry_waits_it_out() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    call, seen = guard(clock, sleep, threshold=2, retry=RetryPolicy(max_attempts=5, max_elapsed_s=60.0, seed=1))
    fn = Script([ccxt.ExchangeNotAvailable("503"), ccxt.ExchangeNotAvailable("503")])

    assert await call(fn, operation="fetch_trades") == "done"

    assert fn.calls == 3  # two failures opened it; the third attempt was refused, then probed after 10 s
    assert [(e.old, e.new) for e in seen] == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert clock.now_ns() >= 10 * S


@pytest.mark.asyncio
async def test_an_open_breaker_fails_fast_when_the_budget_is_too_small() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    call, _ = guard(clock, sleep, threshold=1, retry=RetryPolicy(max_attempts=5, max_elapsed_s=5.0, seed=1))
    call.breaker.record_failure()
    fn = Script([])

    with pytest.raises(CircuitOpenError) as refused:
        await call(fn, operation="watch_trades")

    assert (fn.calls, sleep.waits) == (0, [])
    assert (refused.value.exchange, refused.value.operation, refused.value.reopens_at_ns) == (
        "binance",
        "watch_trades",
        10 * S,
    )


@pytest.mark.asyncio
async def test_rate_limits_use_retry_after_from_the_exchange_headers() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    headers: dict[str, str] = {}
    call, _ = guard(clock, sleep, headers=lambda: headers)

    async def limited_once() -> str:
        if not sleep.waits:
            headers["Retry-After"] = "8"
            raise ccxt.RateLimitExceeded("binance 429 Too Many Requests")
        return "done"

    assert await call(limited_once) == "done"
    assert sleep.waits == [8.0]


@pytest.mark.asyncio
async def test_secrets_never_reach_the_error() -> None:
    clock = ReplayClock(0)
    call, _ = guard(clock, FakeSleep(clock), secrets=["s3cr3t-key", ""])
    fn = Script([ccxt.AuthenticationError("binance 401 key s3cr3t-key rejected; url ?signature=ff00")])

    with pytest.raises(Exception, match="rejected") as caught:
        await call(fn, operation="fetch_balance")

    assert "s3cr3t-key" not in str(caught.value)
    assert "ff00" not in str(caught.value)


@pytest.mark.asyncio
async def test_cancellation_frees_a_half_open_probe_and_is_not_retried() -> None:
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    call, _ = guard(clock, sleep, threshold=1)
    call.breaker.record_failure()
    clock.advance_to(10 * S)
    fn = Script([asyncio.CancelledError()])

    with pytest.raises(asyncio.CancelledError):
        await call(fn)

    assert (fn.calls, sleep.waits, call.breaker.state) == (1, [], "half_open")
    call.breaker.allow()  # the probe slot was given back


@pytest.mark.asyncio
async def test_the_rate_limit_counts_for_the_breaker_too() -> None:
    clock = ReplayClock(0)
    call, _ = guard(clock, FakeSleep(clock), threshold=1, retry=RetryPolicy(max_attempts=1))

    with pytest.raises(RateLimited):
        await call(Script([ccxt.DDoSProtection("418 banned")]))

    assert call.breaker.state == "open"
