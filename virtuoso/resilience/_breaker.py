"""CircuitBreaker: a pure state machine over the injected Clock (closed / open / half_open).

Closed, it counts failures in a rolling window and opens at ``failure_threshold``.
Open, it refuses calls for ``open_s``. Then it half-opens: ``half_open_probes``
calls may go through at once; when that many have succeeded it closes, and any
failure opens it again. The open -> half_open move is made lazily, by the first
look at the breaker (``state``, ``allow()``, ``record_*``) once ``open_s`` has
passed, so the breaker needs no timer and behaves the same under a ReplayClock.
Every move is reported to ``on_transition`` as a :class:`BreakerStateChanged`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator

from virtuoso.clock import Clock
from virtuoso.errors import CircuitOpenError, ExchangeError, UsageError
from virtuoso.events import BreakerState, BreakerStateChanged

OnTransition = Callable[[BreakerStateChanged], object]

log = logging.getLogger("virtuoso.resilience")

_NS = 1_000_000_000
ALLOWED_MOVES: frozenset[tuple[BreakerState, BreakerState]] = frozenset(
    {("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open")}
)
"""The only transitions a breaker makes."""


class CircuitBreaker:
    """Stops calling a failing endpoint for a while, then probes it (see the module docstring).

    >>> from virtuoso.clock import ReplayClock
    >>> clock, seen = ReplayClock(0), []
    >>> breaker = CircuitBreaker("binance:rest", clock, failure_threshold=2, open_s=10, on_transition=seen.append)
    >>> breaker.record_failure(); breaker.record_failure()
    >>> breaker.state, seen[-1].reason
    ('open', '2 failures in 60 s')
    >>> clock.advance_to(10 * 10**9); breaker.state
    'half_open'
    """

    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        half_open_probes: int = 1,
        on_transition: OnTransition | None = None,
    ) -> None:
        _check_settings(name, failure_threshold, window_s, open_s, half_open_probes)
        self.name, self.clock = name, clock
        self.failure_threshold, self.window_s, self.open_s = failure_threshold, window_s, open_s
        self.half_open_probes = half_open_probes
        self.on_transition = on_transition
        self._state: BreakerState = "closed"
        self._failures: deque[int] = deque()
        self._reopens_at_ns = 0
        self._probing = 0
        self._probe_successes = 0

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open``, as of the clock's current time."""
        self._refresh()
        return self._state

    @property
    def failures(self) -> int:
        """Failures counted in the rolling window now (closed state only; 0 otherwise)."""
        self._refresh()
        return len(self._failures)

    @property
    def reopens_at_ns(self) -> int | None:
        """When an open breaker will half-open (clock ns); None unless open."""
        return self._reopens_at_ns if self.state == "open" else None

    def allow(self) -> None:
        """Return if a call may go out now; raise :class:`CircuitOpenError` if not.

        Half-open, each allowed call is a probe and must end in ``record_success()``,
        ``record_failure()`` or ``release()``.
        """
        self._refresh()
        if self._state == "closed":
            return
        if self._state == "half_open" and self._probing < self.half_open_probes:
            self._probing += 1
            return
        raise self._refusal()

    def record_success(self) -> None:
        """A call succeeded. Half-open, enough successful probes close the breaker."""
        self._refresh()
        if self._state != "half_open":
            return
        self._end_probe()
        self._probe_successes += 1
        if self._probe_successes >= self.half_open_probes:
            self._move("closed", f"{self._probe_successes} probe(s) succeeded")

    def record_failure(self, error: BaseException | None = None) -> None:
        """A call failed transiently. Closed, it counts; half-open, it opens the breaker again."""
        self._refresh()
        if self._state == "closed":
            self._count_failure()
        elif self._state == "half_open":
            self._end_probe()
            self._open(f"probe failed{_because(error)}", failures=1)

    def release(self) -> None:
        """A call ended neither way (cancelled, or a permanent error): frees its half-open probe slot."""
        self._refresh()
        if self._state == "half_open":
            self._end_probe()

    # -- the machine -----------------------------------------------------------

    def _refresh(self) -> None:
        now = self.clock.now_ns()
        if self._state == "open" and now >= self._reopens_at_ns:
            self._probing = self._probe_successes = 0
            self._move("half_open", f"open for {self.open_s:g} s")
        elif self._state == "closed":
            self._prune(now)

    def _prune(self, now: int) -> None:
        horizon = now - round(self.window_s * _NS)
        while self._failures and self._failures[0] <= horizon:
            self._failures.popleft()

    def _count_failure(self) -> None:
        self._failures.append(self.clock.now_ns())
        count = len(self._failures)
        if count >= self.failure_threshold:
            self._open(f"{count} failures in {self.window_s:g} s", failures=count)

    def _open(self, reason: str, failures: int) -> None:
        self._failures.clear()
        self._reopens_at_ns = self.clock.now_ns() + round(self.open_s * _NS)
        self._move("open", reason, failures)

    def _end_probe(self) -> None:
        self._probing = max(0, self._probing - 1)

    def _move(self, new: BreakerState, reason: str, failures: int = 0) -> None:
        old, self._state = self._state, new
        if new == "closed":
            self._failures.clear()
        log.info("breaker %s: %s -> %s (%s)", self.name, old, new, reason)
        if self.on_transition is not None:
            self.on_transition(BreakerStateChanged(self.name, old, new, reason, failures))

    def _refusal(self) -> CircuitOpenError:
        if self._state == "open":
            remaining_s = (self._reopens_at_ns - self.clock.now_ns()) / _NS
            message = f"breaker {self.name} is open for another {remaining_s:.3g} s"
            return CircuitOpenError(message, reopens_at_ns=self._reopens_at_ns)
        message = f"breaker {self.name} is half-open with {self._probing} probe(s) in flight"
        return CircuitOpenError(message, reopens_at_ns=self.clock.now_ns())

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name} {self._state}>"


def _because(error: BaseException | None) -> str:
    if error is None:
        return ""
    # Only our errors carry a message known to be free of credentials.
    return f": {error}" if isinstance(error, ExchangeError) else f": {type(error).__name__}"


def _check_settings(name: str, threshold: int, window_s: float, open_s: float, probes: int) -> None:
    problems = [
        f"failure_threshold must be >= 1, got {threshold}" if threshold < 1 else "",
        f"window_s must be > 0, got {window_s}" if not window_s > 0 else "",
        f"open_s must be >= 0, got {open_s}" if not open_s >= 0 else "",
        f"half_open_probes must be >= 1, got {probes}" if probes < 1 else "",
    ]
    found = [p for p in problems if p]
    if found:
        raise UsageError(f"CircuitBreaker {name!r}: {'; '.join(found)}")


class CircuitBreakers:
    """One breaker per exchange and endpoint family, made on first use with shared settings.

    >>> from virtuoso.clock import ReplayClock
    >>> board = CircuitBreakers(ReplayClock(0), failure_threshold=3)
    >>> board.get("binance", "rest") is board.get("binance", "rest"), board.get("binance", "ws").name
    (True, 'binance:ws')
    """

    def __init__(
        self,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        half_open_probes: int = 1,
        on_transition: OnTransition | None = None,
    ) -> None:
        self.clock = clock
        self._settings = (failure_threshold, window_s, open_s, half_open_probes)
        _check_settings("defaults", *self._settings)
        self.on_transition = on_transition
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, exchange: str, family: str) -> CircuitBreaker:
        """The breaker named ``exchange:family`` (``binance:rest``, ``binance:ws:trades``)."""
        name = f"{exchange}:{family}"
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = self._make(name)
        return breaker

    def _make(self, name: str) -> CircuitBreaker:
        threshold, window_s, open_s, probes = self._settings
        return CircuitBreaker(
            name,
            self.clock,
            failure_threshold=threshold,
            window_s=window_s,
            open_s=open_s,
            half_open_probes=probes,
            on_transition=self.on_transition,
        )

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        return len(self._breakers)
