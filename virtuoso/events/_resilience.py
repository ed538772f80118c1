"""Resilience payloads: circuit breaker transitions and health reports.

They go into the log with the market data, so a replay shows when and why data
stopped (a breaker opened) and how healthy the recording said it was.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from virtuoso.events._registry import Payload, event_type

BreakerState = Literal["closed", "open", "half_open"]
HealthStatus = Literal["ok", "degraded", "down"]


@event_type
class BreakerStateChanged(Payload, frozen=True, gc=False):
    """Circuit breaker ``breaker`` went from ``old`` to ``new``; ``failures`` counted in its window then."""

    TYPE: ClassVar[str] = "BreakerStateChanged"
    TOPIC: ClassVar[str] = "system.breaker"

    breaker: str
    old: BreakerState
    new: BreakerState
    reason: str
    failures: int = 0


class ComponentHealth(msgspec.Struct, frozen=True, gc=False):
    """The health of one component (a stream, a breaker, the writer): ``ok``, ``degraded`` or ``down``, and why."""

    name: str
    status: HealthStatus
    reason: str = ""


@event_type
class HealthReported(Payload, frozen=True, gc=False):
    """A health check's result: every component, and the worst of their statuses as ``status``."""

    TYPE: ClassVar[str] = "HealthReported"
    TOPIC: ClassVar[str] = "system.health"

    components: tuple[ComponentHealth, ...]
    status: HealthStatus
