"""How collectors call the exchange: through a guard (breaker + retry + error translation).

A guard has the signature of :class:`virtuoso.resilience.ResilientCall`:
``await guard(fn, operation="fetch_trades")`` runs the zero-argument coroutine
function ``fn`` and returns its result or raises. The recorder gets one guard per
stream from a :data:`GuardFactory`, so the recorder's logic can be tested with
:func:`passthrough` and run live with the real policies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from virtuoso.errors import CircuitOpenError, TransientExchangeError
from virtuoso.exchange._ccxt import ccxt_module

T = TypeVar("T")


class Guard(Protocol):
    """Runs one exchange call with whatever protection it stands for."""

    async def __call__(self, fn: Callable[[], Awaitable[T]], *, operation: str) -> T:
        """The result of ``await fn()``, or the (translated) error."""
        ...


GuardFactory = Callable[[str], Guard]
"""Makes the guard of one named stream (its breaker is named after it)."""


async def passthrough(fn: Callable[[], Awaitable[T]], *, operation: str) -> T:
    """A guard that adds nothing: the call as it is."""
    return await fn()


def passthrough_factory(name: str) -> Guard:
    """A :data:`GuardFactory` of :func:`passthrough` guards."""
    return passthrough


def is_transient(error: BaseException) -> bool:
    """Whether a failed call may succeed later (network trouble, rate limits, an open breaker).

    Anything else (bad symbol, authentication, an unsupported method, a bug)
    ends the recording instead of being retried forever.
    """
    network = ccxt_module().NetworkError
    return isinstance(error, TransientExchangeError | network | TimeoutError | ConnectionError)


def reopens_at_ns(error: BaseException) -> int | None:
    """When an open circuit breaker lets calls through again (``None`` for other errors)."""
    return error.reopens_at_ns if isinstance(error, CircuitOpenError) else None
