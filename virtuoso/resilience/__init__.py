"""Resilience at the exchange boundary: error translation, retries, circuit breakers, health.

- :func:`translate_error` / :func:`translating` turn ccxt's exceptions into ours
  (:class:`~virtuoso.errors.TransientExchangeError` or
  :class:`~virtuoso.errors.PermanentExchangeError`), credentials removed.
- :class:`RetryPolicy` retries transient errors with full-jitter backoff, on tenacity.
- :class:`CircuitBreaker` stops calling an endpoint that keeps failing; every state
  change is a :class:`~virtuoso.events.BreakerStateChanged` for the log.
- :class:`ResilientCall` puts the three around one exchange call.
- :class:`HealthCheck` folds probes into a :class:`~virtuoso.events.HealthReported`;
  :func:`session_health` reads a recording's health back from its log.

See docs/resilience.md.
"""

from virtuoso.events import BreakerStateChanged, ComponentHealth, HealthReported
from virtuoso.resilience._breaker import ALLOWED_MOVES, CircuitBreaker, CircuitBreakers, OnTransition
from virtuoso.resilience._guard import ResilientCall
from virtuoso.resilience._health import (
    HealthCheck,
    HealthThresholds,
    Probe,
    breaker_health,
    breakers_probe,
    flowing_stream,
    level_health,
    processor_probe,
    report,
    stream_health,
    streams_probe,
    worst,
    writer_probe,
)
from virtuoso.resilience._retry import RetryPolicy, Sleep
from virtuoso.resilience._status import SessionHealth, StreamHealth, pick_session, session_health
from virtuoso.resilience._translate import (
    Headers,
    ccxt_table,
    our_class,
    redact_message,
    retry_after,
    translate_error,
    translating,
)

__all__ = [
    "ALLOWED_MOVES",
    "BreakerStateChanged",
    "CircuitBreaker",
    "CircuitBreakers",
    "ComponentHealth",
    "Headers",
    "HealthCheck",
    "HealthReported",
    "HealthThresholds",
    "OnTransition",
    "Probe",
    "ResilientCall",
    "RetryPolicy",
    "SessionHealth",
    "Sleep",
    "StreamHealth",
    "breaker_health",
    "breakers_probe",
    "ccxt_table",
    "flowing_stream",
    "level_health",
    "our_class",
    "pick_session",
    "processor_probe",
    "redact_message",
    "report",
    "retry_after",
    "session_health",
    "stream_health",
    "streams_probe",
    "translate_error",
    "translating",
    "worst",
    "writer_probe",
]
