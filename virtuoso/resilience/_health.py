"""HealthCheck: per component ok / degraded / down with a reason, from small probes.

A probe is a zero-argument callable returning one :class:`ComponentHealth` or
several. The rules that turn a measurement into a status (a breaker's state, the
age of a stream's last event, a backlog) are plain functions, so ``virtuoso
status`` applies the same rules to what it reads from the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from virtuoso.clock import Clock
from virtuoso.errors import UsageError
from virtuoso.events import BreakerState, ComponentHealth, HealthReported, HealthStatus
from virtuoso.resilience._breaker import CircuitBreaker

Probe = Callable[[], ComponentHealth | Iterable[ComponentHealth]]

_RANK: dict[HealthStatus, int] = {"ok": 0, "degraded": 1, "down": 2}
_NS = 1_000_000_000
_BREAKER_STATUS: dict[BreakerState, HealthStatus] = {"closed": "ok", "half_open": "degraded", "open": "down"}


@dataclass(frozen=True)
class HealthThresholds:
    """When a measurement stops being ok: at or past ``*_degraded`` it is degraded, at ``*_down`` down."""

    stale_degraded_s: float = 60.0
    stale_down_s: float = 300.0
    backlog_degraded: int = 10_000
    backlog_down: int = 100_000
    depth_degraded: int = 10_000
    depth_down: int = 100_000

    def __post_init__(self) -> None:
        pairs = (
            ("stale", self.stale_degraded_s, self.stale_down_s),
            ("backlog", self.backlog_degraded, self.backlog_down),
            ("depth", self.depth_degraded, self.depth_down),
        )
        for what, degraded, down in pairs:
            if not 0 <= degraded <= down:
                raise UsageError(f"HealthThresholds: need 0 <= {what}_degraded <= {what}_down, got {degraded}, {down}")


_SPORADIC = (":gaps", ":markets")


def flowing_stream(stream: str) -> bool:
    """Whether ``stream`` carries a steady flow whose silence means trouble (trades, books, bars, tickers).

    Not the toolkit's ``system:`` streams, nor the gaps and markets streams, written only when something happens.

    >>> [flowing_stream(s) for s in ("binance:BTC/USDT:trades", "binance:markets", "binance:BTC/USDT:gaps")]
    [True, False, False]
    """
    return not stream.startswith("system:") and not stream.endswith(_SPORADIC)


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """The worst of ``statuses`` (``ok`` for none).

    >>> worst(["ok", "degraded", "ok"]), worst([])
    ('degraded', 'ok')
    """
    return max(statuses, key=_RANK.__getitem__, default="ok")


def breaker_health(name: str, state: BreakerState, reason: str = "") -> ComponentHealth:
    """Closed is ok, half-open degraded (probing), open down (no data goes through)."""
    status = _BREAKER_STATUS[state]
    return ComponentHealth(f"breaker {name}", status, f"{state}: {reason}" if reason else state)


def stream_health(stream: str, last_ns: int | None, now_ns: int, thresholds: HealthThresholds) -> ComponentHealth:
    """A stream's status by the age of its last event (receive time) at ``now_ns``.

    >>> stream_health("binance:BTC/USDT:trades", 0, 90 * 10**9, HealthThresholds())
    ComponentHealth(name='stream binance:BTC/USDT:trades', status='degraded', reason='last event 90.0 s ago')
    """
    name = f"stream {stream}"
    if last_ns is None:
        return ComponentHealth(name, "degraded", "no event yet")
    age_s = max(0, now_ns - last_ns) / _NS
    status = _level(age_s, thresholds.stale_degraded_s, thresholds.stale_down_s)
    return ComponentHealth(name, status, f"last event {age_s:.1f} s ago")


def level_health(name: str, value: float, degraded_at: float, down_at: float, unit: str = "") -> ComponentHealth:
    """``value`` (a backlog, a queue depth) against its thresholds."""
    reason = f"{value:g}{unit} (degraded at {degraded_at:g}, down at {down_at:g})"
    return ComponentHealth(name, _level(value, degraded_at, down_at), reason)


def _level(value: float, degraded_at: float, down_at: float) -> HealthStatus:
    if value >= down_at:
        return "down"
    return "degraded" if value >= degraded_at else "ok"


def report(components: Iterable[ComponentHealth]) -> HealthReported:
    """The :class:`HealthReported` payload for ``components``: their worst status and them."""
    listed = tuple(components)
    return HealthReported(listed, worst(c.status for c in listed))


class HealthCheck:
    """Runs probes and folds their answers into one :class:`HealthReported`.

    A probe that raises is reported ``down`` with the exception's type as the reason
    (an ``Exception``; cancellation passes through).

    >>> from virtuoso.clock import ReplayClock
    >>> clock = ReplayClock(120 * 10**9)
    >>> check = HealthCheck([lambda: level_health("writer backlog", 12, 10, 100)])
    >>> check.add(streams_probe(clock, lambda: {"binance:BTC/USDT:trades": 119 * 10**9}))
    >>> result = check.check()
    >>> result.status, [(c.name, c.status) for c in result.components]
    ('degraded', [('writer backlog', 'degraded'), ('stream binance:BTC/USDT:trades', 'ok')])
    """

    def __init__(self, probes: Iterable[Probe] = ()) -> None:
        self._probes = list(probes)

    def add(self, probe: Probe) -> None:
        """Run ``probe`` too from the next check on."""
        self._probes.append(probe)

    def check(self) -> HealthReported:
        """Every probe's components, in probe order, and the worst status."""
        return report(c for probe in self._probes for c in _run(probe))


def _run(probe: Probe) -> list[ComponentHealth]:
    try:
        answer = probe()
    except Exception as exc:
        return [ComponentHealth(_probe_name(probe), "down", f"probe failed: {type(exc).__name__}")]
    return [answer] if isinstance(answer, ComponentHealth) else list(answer)


def _probe_name(probe: Probe) -> str:
    return getattr(probe, "__name__", None) or type(probe).__name__


def breakers_probe(breakers: Iterable[CircuitBreaker]) -> Probe:
    """A probe reporting each breaker (read at check time: a :class:`CircuitBreakers` board works)."""
    return lambda: [breaker_health(b.name, b.state) for b in breakers]


def streams_probe(
    clock: Clock, last_recv_ns: Callable[[], Mapping[str, int | None]], thresholds: HealthThresholds | None = None
) -> Probe:
    """A probe reporting each stream by the age of its last received event (``{stream: ts_recv}``)."""
    limits = thresholds or HealthThresholds()
    return lambda: [
        stream_health(s, ts, clock.now_ns(), limits) for s, ts in last_recv_ns().items() if flowing_stream(s)
    ]


def writer_probe(pending: Callable[[], int], thresholds: HealthThresholds | None = None) -> Probe:
    """A probe for the store writer's backlog (``lambda: writer.pending``)."""
    limits = thresholds or HealthThresholds()
    return lambda: level_health("writer backlog", pending(), limits.backlog_degraded, limits.backlog_down, " events")


def processor_probe(depths: Callable[[], Mapping[str, int]], thresholds: HealthThresholds | None = None) -> Probe:
    """A probe for the processor's queued events over all lanes (``lambda: processor.snapshot().depths``)."""
    limits = thresholds or HealthThresholds()
    return lambda: level_health(
        "processor queue", sum(depths().values()), limits.depth_degraded, limits.depth_down, " events"
    )
