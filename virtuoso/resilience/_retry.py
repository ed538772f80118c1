"""RetryPolicy: exponential backoff with full jitter, on tenacity, timed by the injected Clock.

tenacity runs the loop (attempts, stop and wait strategies, the async sleep); the
policy supplies a wait strategy (full jitter from a seedable ``random.Random``,
stretched for rate limits and open breakers) and a stop strategy that reads
elapsed time from our :class:`~virtuoso.clock.Clock` instead of tenacity's
``time.monotonic`` (which tenacity 9 offers no way to replace), so a test with a
ReplayClock and a fake sleep runs without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from virtuoso.clock import Clock, LiveClock
from virtuoso.errors import CircuitOpenError, RateLimited, TransientExchangeError, UsageError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
"""An async sleep taking seconds: ``asyncio.sleep`` live, a clock-advancing fake in tests."""

log = logging.getLogger("virtuoso.resilience")

_NS = 1_000_000_000
_MAX_DOUBLINGS = 64  # beyond this the cap is max_delay_s anyway; keeps 2**n finite


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry a :class:`~virtuoso.errors.TransientExchangeError`, and how long to wait first.

    At most ``max_attempts`` calls; no wait that would end past ``max_elapsed_s``
    after the first call. Before attempt ``n + 1`` it waits ``uniform(0, min(max_delay_s,
    base_delay_s * 2**(n - 1)))`` ("full jitter"), but at least ``RateLimited.retry_after_s``
    (``rate_limit_delay_s`` when the exchange did not say) after a rate limit, and at
    least until the breaker half-opens after a :class:`~virtuoso.errors.CircuitOpenError`.
    Permanent errors and anything not ours are raised at once; the last error is
    raised as it is when the policy gives up. ``seed`` makes the jitter reproducible.
    """

    max_attempts: int = 5
    max_elapsed_s: float = 30.0
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    rate_limit_delay_s: float = 5.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"RetryPolicy: max_attempts must be at least 1, got {self.max_attempts}")
        delays = ("max_elapsed_s", "base_delay_s", "max_delay_s", "rate_limit_delay_s")
        for name in delays:
            if not getattr(self, name) >= 0:
                raise UsageError(f"RetryPolicy: {name} must be >= 0, got {getattr(self, name)}")

    def backoff_s(self, failed_attempt: int, rng: random.Random) -> float:
        """The jittered wait after attempt number ``failed_attempt`` (1-based) failed."""
        cap = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failed_attempt - 1, _MAX_DOUBLINGS))
        return rng.uniform(0.0, cap)

    def floor_s(self, error: BaseException | None, now_ns: int) -> float:
        """The least wait ``error`` asks for: a rate limit's Retry-After, an open breaker's remaining time."""
        if isinstance(error, RateLimited):
            return self.rate_limit_delay_s if error.retry_after_s is None else error.retry_after_s
        if isinstance(error, CircuitOpenError):
            return max(0, error.reopens_at_ns - now_ns) / _NS
        return 0.0

    def retrying(
        self, *, clock: Clock | None = None, sleep: Sleep | None = None, rng: random.Random | None = None
    ) -> AsyncRetrying:
        """A tenacity ``AsyncRetrying`` for this policy (``async for attempt in ...`` or ``await r(fn)``).

        ``clock`` measures the elapsed time (a LiveClock by default), ``sleep`` waits
        (``asyncio.sleep`` by default), ``rng`` draws the jitter (``Random(seed)`` by default;
        share one between calls so concurrent retries spread out).
        """
        clock = clock or LiveClock()
        deadline = _Deadline(clock, self.max_elapsed_s)
        return AsyncRetrying(
            sleep=sleep or asyncio.sleep,
            stop=stop_after_attempt(self.max_attempts) | deadline,
            wait=_Wait(self, rng or random.Random(self.seed), clock),
            retry=retry_if_exception_type(TransientExchangeError),
            before=deadline.start,
            before_sleep=_log_retry,
            reraise=True,
        )

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> T:
        """``await fn()``, retried by this policy; returns its result or raises its last error."""
        result: T = await self.retrying(clock=clock, sleep=sleep, rng=rng)(fn)
        return result


class _Wait(wait_base):
    def __init__(self, policy: RetryPolicy, rng: random.Random, clock: Clock) -> None:
        self.policy, self.rng, self.clock = policy, rng, clock

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        jitter = self.policy.backoff_s(retry_state.attempt_number, self.rng)
        return max(jitter, self.policy.floor_s(error, self.clock.now_ns()))


class _Deadline(stop_base):
    """Stops when the next wait would end more than ``limit_s`` after the first attempt began (clock time)."""

    def __init__(self, clock: Clock, limit_s: float) -> None:
        self.clock, self.limit_s = clock, limit_s
        self._started: weakref.WeakKeyDictionary[RetryCallState, int] = weakref.WeakKeyDictionary()

    def start(self, retry_state: RetryCallState) -> None:
        if retry_state.attempt_number == 1:
            self._started[retry_state] = self.clock.now_ns()

    def __call__(self, retry_state: RetryCallState) -> bool:
        elapsed_s = (self.clock.now_ns() - self._started.get(retry_state, self.clock.now_ns())) / _NS
        return elapsed_s + retry_state.upcoming_sleep > self.limit_s


def _log_retry(retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    # Our exchange errors carry redacted messages only; nothing else is ever retried.
    log.warning(
        "attempt %d failed (%s), retrying in %.3f s", retry_state.attempt_number, error, retry_state.upcoming_sleep
    )
