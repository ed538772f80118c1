"""HealthCheck and the rules behind it: breakers, stream ages, backlogs, failing probes."""

from __future__ import annotations

import pytest

from virtuoso.clock import ReplayClock
from virtuoso.errors import UsageError
from virtuoso.events import ComponentHealth, HealthReported
from virtuoso.resilience import (
    CircuitBreakers,
    HealthCheck,
    HealthThresholds,
    breakers_probe,
    processor_probe,
    stream_health,
    streams_probe,
    worst,
    writer_probe,
)

S = 10**9
LIMITS = HealthThresholds(stale_degraded_s=10, stale_down_s=60, backlog_degraded=100, backlog_down=1000)


@pytest.mark.parametrize(
    ("age_s", "status"), [(0, "ok"), (9.9, "ok"), (10, "degraded"), (59, "degraded"), (60, "down"), (3600, "down")]
)
def test_stream_status_by_age(age_s: float, status: str) -> None:
    now = 1_000 * S
    assert stream_health("s", now - round(age_s * S), now, LIMITS).status == status


def test_a_stream_without_events_is_degraded_and_a_future_one_is_fresh() -> None:
    assert stream_health("s", None, 0, LIMITS) == ComponentHealth("stream s", "degraded", "no event yet")
    assert stream_health("s", 5 * S, 0, LIMITS).reason == "last event 0.0 s ago"


def test_worst() -> None:
    assert worst(["ok", "down", "degraded"]) == "down"
    assert worst(["ok"]) == "ok"


def test_a_check_folds_every_probe_into_one_report() -> None:
    clock = ReplayClock(100 * S)
    board = CircuitBreakers(clock, failure_threshold=1, open_s=30)
    board.get("binance", "rest")
    check = HealthCheck(
        [
            breakers_probe(board),
            streams_probe(clock, lambda: {"a": 95 * S, "b": 80 * S}, LIMITS),
            writer_probe(lambda: 150, LIMITS),
            processor_probe(lambda: {"high": 1, "normal": 2}, LIMITS),
        ]
    )

    first = check.check()
    board.get("binance", "ws").record_failure()
    second = check.check()

    assert first.status == "degraded"
    assert [(c.name, c.status) for c in first.components] == [
        ("breaker binance:rest", "ok"),
        ("stream a", "ok"),
        ("stream b", "degraded"),
        ("writer backlog", "degraded"),
        ("processor queue", "ok"),
    ]
    assert first.components[3].reason == "150 events (degraded at 100, down at 1000)"
    assert second.status == "down"
    assert ("breaker binance:ws", "down") in [(c.name, c.status) for c in second.components]


def test_a_failing_probe_is_reported_down_not_raised() -> None:
    def writer_backlog() -> ComponentHealth:
        raise RuntimeError("secret=abc")

    report = HealthCheck([writer_backlog]).check()

    assert report == HealthReported((ComponentHealth("writer_backlog", "down", "probe failed: RuntimeError"),), "down")


def test_an_empty_check_is_ok() -> None:
    assert HealthCheck().check() == HealthReported((), "ok")


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(UsageError, match="stale_degraded <= stale_down"):
        HealthThresholds(stale_degraded_s=100, stale_down_s=10)
