"""CircuitBreaker invariants over random sequences of calls, results and time (hypothesis stateful)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from virtuoso.clock import ReplayClock
from virtuoso.errors import CircuitOpenError
from virtuoso.events import BreakerStateChanged
from virtuoso.resilience import ALLOWED_MOVES, CircuitBreaker

S = 10**9


class BreakerMachine(RuleBasedStateMachine):
    """A model that keeps its own failure timestamps and checks the breaker against it."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ReplayClock(0)
        self.events: list[BreakerStateChanged] = []
        self.breaker = CircuitBreaker(
            "x", self.clock, failure_threshold=3, window_s=5.0, open_s=7.0, half_open_probes=2, on_transition=self.seen
        )
        self.closed_failures: list[int] = []  # failure times since the breaker last closed
        self.in_flight = 0

    def seen(self, change: BreakerStateChanged) -> None:
        if change.new == "open" and change.old == "closed":
            recent = [t for t in self.closed_failures if t > self.clock.now_ns() - 5 * S]
            assert len(recent) >= 3, "opened with fewer failures in the window than the threshold"
            assert change.failures == len(recent)
        if change.new == "closed":
            self.closed_failures.clear()
        if change.new in ("half_open", "open", "closed"):
            self.in_flight = 0
        self.events.append(change)

    @rule(seconds=st.integers(0, 10))
    def advance(self, seconds: int) -> None:
        self.clock.advance_to(self.clock.now_ns() + seconds * S // 2)

    @rule()
    def call(self) -> None:
        state = self.breaker.state
        refused: CircuitOpenError | None = None
        try:
            self.breaker.allow()
        except CircuitOpenError as error:
            refused = error
        if refused is not None:
            assert state == "open" or (state == "half_open" and self.in_flight == 2)
            assert refused.reopens_at_ns >= self.clock.now_ns()
            return
        assert state == "closed" or self.in_flight < 2
        if state == "half_open":
            self.in_flight += 1

    @rule()
    def failure(self) -> None:
        if self.breaker.state == "closed":
            self.closed_failures.append(self.clock.now_ns())
        self._end_probe()
        self.breaker.record_failure()

    @rule()
    def success(self) -> None:
        self._end_probe()
        self.breaker.record_success()

    def _end_probe(self) -> None:
        if self.breaker.state == "half_open":
            self.in_flight = max(0, self.in_flight - 1)

    @precondition(lambda self: self.in_flight > 0)
    @rule()
    def release(self) -> None:
        self.breaker.release()
        self.in_flight -= 1

    @invariant()
    def moves_follow_allowed_edges_and_chain(self) -> None:
        previous = "closed"
        for change in self.events:
            assert (change.old, change.new) in ALLOWED_MOVES
            assert change.old == previous
            previous = change.new
        assert self.breaker.state in ("closed", "open", "half_open")

    @invariant()
    def closed_never_holds_threshold_failures(self) -> None:
        if self.breaker.state == "closed":
            assert self.breaker.failures < 3

    @invariant()
    def open_never_outlasts_open_s(self) -> None:
        reopens = self.breaker.reopens_at_ns
        if reopens is not None:
            assert self.clock.now_ns() < reopens <= self.clock.now_ns() + 7 * S


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
