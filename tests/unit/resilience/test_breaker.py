"""CircuitBreaker: the state machine under a ReplayClock, and its transition events."""

from __future__ import annotations

import pytest

from virtuoso.clock import ReplayClock
from virtuoso.errors import CircuitOpenError, ExchangeTimeout, UsageError
from virtuoso.events import BreakerStateChanged
from virtuoso.resilience import CircuitBreaker, CircuitBreakers

S = 10**9


def make(clock: ReplayClock, **kwargs: float) -> tuple[CircuitBreaker, list[BreakerStateChanged]]:
    seen: list[BreakerStateChanged] = []
    settings: dict[str, float] = {"failure_threshold": 3, "window_s": 10.0, "open_s": 30.0} | kwargs
    return CircuitBreaker("binance:rest", clock, on_transition=seen.append, **settings), seen  # type: ignore[arg-type]


def test_opens_at_the_threshold_within_the_window_and_refuses_calls() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock)
    for _ in range(2):
        breaker.record_failure(ExchangeTimeout("slow", exchange="binance", operation="fetch_trades"))
    breaker.allow()
    assert breaker.state == "closed"
    assert breaker.failures == 2

    breaker.record_failure(ExchangeTimeout("slow", exchange="binance", operation="fetch_trades"))

    assert breaker.state == "open"
    assert seen == [BreakerStateChanged("binance:rest", "closed", "open", "3 failures in 10 s", 3)]
    with pytest.raises(CircuitOpenError, match="breaker binance:rest is open for another 30 s") as refused:
        breaker.allow()
    assert refused.value.reopens_at_ns == 30 * S
    assert breaker.reopens_at_ns == 30 * S


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance_to(10 * S)  # both are now exactly window_s old: out
    breaker.record_failure()
    assert (breaker.state, breaker.failures, seen) == ("closed", 1, [])


def test_half_opens_after_open_s_and_closes_on_a_successful_probe() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock, failure_threshold=1)
    breaker.record_failure()
    clock.advance_to(30 * S - 1)
    assert breaker.state == "open"
    clock.advance_to(30 * S)

    breaker.allow()  # the probe
    with pytest.raises(CircuitOpenError, match="half-open with 1 probe"):
        breaker.allow()  # only one probe at a time
    breaker.record_success()

    assert breaker.state == "closed"
    assert [(e.old, e.new, e.reason) for e in seen] == [
        ("closed", "open", "1 failures in 10 s"),
        ("open", "half_open", "open for 30 s"),
        ("half_open", "closed", "1 probe(s) succeeded"),
    ]


def test_a_failed_probe_opens_it_again_for_a_full_period() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock, failure_threshold=1)
    breaker.record_failure()
    clock.advance_to(31 * S)
    breaker.allow()
    breaker.record_failure(ExchangeTimeout("slow", exchange="binance", operation="fetch_ohlcv"))

    assert breaker.state == "open"
    assert breaker.reopens_at_ns == 61 * S
    assert seen[-1] == BreakerStateChanged(
        "binance:rest", "half_open", "open", "probe failed: binance fetch_ohlcv: slow", 1
    )


def test_foreign_errors_give_only_their_type_in_the_reason() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock, failure_threshold=1)
    breaker.record_failure()
    clock.advance_to(30 * S)
    breaker.allow()
    breaker.record_failure(OSError("token=abc123 leaked"))
    assert seen[-1].reason == "probe failed: OSError"


def test_several_probes_must_all_succeed() -> None:
    clock = ReplayClock(0)
    breaker, _ = make(clock, failure_threshold=1, half_open_probes=3)
    breaker.record_failure()
    clock.advance_to(30 * S)
    for _ in range(3):
        breaker.allow()
    breaker.record_success()
    breaker.record_success()
    assert breaker.state == "half_open"
    breaker.record_success()
    assert breaker.state == "closed"


def test_release_frees_a_probe_slot_without_deciding() -> None:
    clock = ReplayClock(0)
    breaker, _ = make(clock, failure_threshold=1)
    breaker.record_failure()
    clock.advance_to(30 * S)
    breaker.allow()
    breaker.release()
    breaker.allow()
    assert breaker.state == "half_open"


def test_late_results_while_open_change_nothing() -> None:
    clock = ReplayClock(0)
    breaker, seen = make(clock, failure_threshold=1)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert (breaker.state, breaker.reopens_at_ns, len(seen)) == ("open", 30 * S, 1)


def test_closing_forgets_old_failures() -> None:
    clock = ReplayClock(0)
    breaker, _ = make(clock, failure_threshold=2)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance_to(30 * S)
    breaker.allow()
    breaker.record_success()
    breaker.record_failure()
    assert (breaker.state, breaker.failures) == ("closed", 1)


def test_zero_open_time_half_opens_at_once() -> None:
    clock = ReplayClock(0)
    breaker, _ = make(clock, failure_threshold=1, open_s=0)
    breaker.record_failure()
    assert breaker.state == "half_open"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be >= 1, got 0"),
        ({"window_s": 0}, "window_s must be > 0"),
        ({"open_s": -1}, "open_s must be >= 0"),
        ({"half_open_probes": 0}, "half_open_probes must be >= 1"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CircuitBreaker("x", ReplayClock(0), **kwargs)  # type: ignore[arg-type]


def test_the_board_keeps_one_breaker_per_exchange_and_family() -> None:
    clock, seen = ReplayClock(0), []
    board = CircuitBreakers(clock, failure_threshold=1, on_transition=seen.append)
    rest, ws = board.get("binance", "rest"), board.get("binance", "ws:trades")
    rest.record_failure()

    assert board.get("binance", "rest") is rest
    assert (rest.state, ws.state, len(board)) == ("open", "closed", 2)
    assert [b.name for b in board] == ["binance:rest", "binance:ws:trades"]
    assert [e.breaker for e in seen] == ["binance:rest"]
