"""ResilientCall: one exchange call through a breaker, a retry policy and error translation."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from virtuoso.clock import Clock
from virtuoso.errors import CircuitOpenError, TransientExchangeError
from virtuoso.resilience._breaker import CircuitBreaker
from virtuoso.resilience._retry import RetryPolicy, Sleep
from virtuoso.resilience._translate import Headers, translating

T = TypeVar("T")


class ResilientCall:
    """Runs zero-argument async exchange calls guarded by ``breaker`` and retried by ``retry``.

    Each attempt asks the breaker first (an open breaker fails the attempt with
    :class:`~virtuoso.errors.CircuitOpenError`, which the policy waits out if its time
    budget allows), translates ccxt errors into ours, and tells the breaker how it
    went: transient errors count as failures, successes as successes; permanent
    errors, cancellation and foreign exceptions only free a half-open probe slot.
    Permanent errors are never retried and never open the breaker.

    ``headers`` (e.g. ``lambda: exchange.last_response_headers``) lets a rate limit
    carry the exchange's Retry-After; ``secrets`` are credential values to blank out of
    error messages. ``clock`` defaults to the breaker's; ``sleep`` to ``asyncio.sleep``.
    """

    def __init__(
        self,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        *,
        exchange: str,
        operation_family: str,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        headers: Headers = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.breaker, self.retry = breaker, retry
        self.exchange, self.operation_family = exchange, operation_family
        self.clock = clock or breaker.clock
        self.sleep = sleep
        self.headers = headers
        self.secrets = tuple(s for s in secrets if s)
        self._rng = random.Random(retry.seed)  # one stream per guard: concurrent retries spread out

    async def __call__(self, fn: Callable[[], Awaitable[T]], *, operation: str | None = None) -> T:
        """``await fn()`` with breaker, retries and translation; ``operation`` names it in errors and logs."""
        name = operation or self.operation_family
        retrying = self.retry.retrying(clock=self.clock, sleep=self.sleep, rng=self._rng)
        result: T = await retrying(self._attempt, fn, name)
        return result

    async def _attempt(self, fn: Callable[[], Awaitable[T]], operation: str) -> T:
        self._allow(operation)
        try:
            with translating(self.exchange, operation, headers=self.headers, secrets=self.secrets):
                result = await fn()
        except TransientExchangeError as error:
            self.breaker.record_failure(error)
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    def _allow(self, operation: str) -> None:
        try:
            self.breaker.allow()
        except CircuitOpenError as refused:
            raise CircuitOpenError(
                refused.message, exchange=self.exchange, operation=operation, reopens_at_ns=refused.reopens_at_ns
            ) from None
