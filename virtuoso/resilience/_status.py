"""The health of a recording read back from its log alone (what ``virtuoso status`` shows).

Everything comes from the event log: the session's status, per stream the last
event's receive time, the latest :class:`BreakerStateChanged` per breaker, the
number of :class:`Gap` events and the latest :class:`HealthReported`. Ages are
measured at ``now_ns`` for an open session and at the session's end otherwise,
so a finished recording shows where its data stopped, not how long ago it ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from virtuoso.errors import SessionError
from virtuoso.events import BreakerStateChanged, ComponentHealth, Event, HealthReported, HealthStatus
from virtuoso.resilience._health import HealthThresholds, breaker_health, flowing_stream, stream_health, worst
from virtuoso.store import EventFilter, EventStore, SessionInfo


@dataclass(frozen=True)
class StreamHealth:
    """One market stream of a session: how many events, the last one's receive time and its age."""

    stream: str
    events: int
    last_ts_recv: int | None
    age_s: float | None
    gaps: int
    health: ComponentHealth


@dataclass(frozen=True)
class SessionHealth:
    """A session's health at ``as_of_ns``: the worst component is ``status``."""

    session: SessionInfo
    as_of_ns: int
    status: HealthStatus
    components: tuple[ComponentHealth, ...]
    streams: tuple[StreamHealth, ...] = ()
    breakers: Mapping[str, BreakerStateChanged] = field(default_factory=dict)
    gaps: int = 0
    last_report: HealthReported | None = None
    last_report_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``virtuoso status --json`` prints for the session)."""
        info = self.session
        return {
            "session": info.id,
            "name": info.name,
            "session_status": info.status,
            "end_reason": info.end_reason,
            "as_of_ns": self.as_of_ns,
            "status": self.status,
            "components": msgspec.to_builtins(self.components),
            "streams": [_stream_json(s) for s in self.streams],
            "breakers": {name: msgspec.to_builtins(change) for name, change in self.breakers.items()},
            "gaps": self.gaps,
            "last_report": msgspec.to_builtins(self.last_report),
            "last_report_ns": self.last_report_ns,
        }


def _stream_json(stream: StreamHealth) -> dict[str, Any]:
    return {
        "stream": stream.stream,
        "events": stream.events,
        "last_ts_recv": stream.last_ts_recv,
        "age_s": stream.age_s,
        "gaps": stream.gaps,
        "status": stream.health.status,
    }


async def pick_session(store: EventStore, session: str | None) -> SessionInfo:
    """The session named by id or prefix, or the most recently started one for None."""
    if session is not None:
        return await store.session(session)
    infos = await store.sessions()
    if not infos:
        raise SessionError("the log has no sessions")
    return max(infos, key=lambda info: info.started_ns)


async def session_health(
    store: EventStore, session: str | None, *, now_ns: int, thresholds: HealthThresholds | None = None
) -> SessionHealth:
    """The health of ``session`` (id or prefix; the latest session for None), read from ``store``.

    Ages are taken at ``now_ns`` for an open session (the caller's clock: the library
    reads none), at the session's end for a closed one, and at its last received event
    for a crashed one (its end is when the crash was found, not when it happened).
    """
    limits = thresholds or HealthThresholds()
    info = await pick_session(store, session)
    last_recv = {name: await _last_recv(store, info.streams[name].last_position) for name in _market_streams(info)}
    as_of = _as_of(info, now_ns, last_recv)
    system = await _system_events(store, info)
    gaps = _gap_counts(system)
    streams = tuple(
        _stream(info, name, ts, as_of, gaps=gaps.get(name, 0), limits=limits) for name, ts in last_recv.items()
    )
    breakers = _latest_breakers(system)
    report = next((e for e in reversed(system) if isinstance(e.payload, HealthReported)), None)
    components = (
        _session_component(info),
        *(s.health for s in streams),
        *(breaker_health(c.breaker, c.new, c.reason) for c in breakers.values()),
        _gaps_component(sum(gaps.values())),
        *([] if report is None else [_report_component(report)]),
    )
    status = worst(c.status for c in components)
    payload = None if report is None else report.payload
    assert payload is None or isinstance(payload, HealthReported)
    report_ns = None if report is None else report.ts_recv
    return SessionHealth(info, as_of, status, components, streams, breakers, sum(gaps.values()), payload, report_ns)


def _as_of(info: SessionInfo, now_ns: int, last_recv: Mapping[str, int | None]) -> int:
    if info.status == "open" or info.ended_ns is None:
        return now_ns
    if info.status == "crashed":
        return max((ts for ts in last_recv.values() if ts is not None), default=info.ended_ns)
    return info.ended_ns


def _market_streams(info: SessionInfo) -> list[str]:
    return [name for name in info.streams if flowing_stream(name)]


async def _system_events(store: EventStore, info: SessionInfo) -> list[Event]:
    """The session's breaker, gap and health events, in log order (read within the session's positions)."""
    if not info.streams:
        return []
    first = min(s.first_position for s in info.streams.values())
    last = max(s.last_position for s in info.streams.values())
    types = (BreakerStateChanged.TYPE, HealthReported.TYPE, "Gap")
    flt = EventFilter(session=info.id, types=types, after_position=first - 1, until_position=last)
    return [event async for event in store.read(flt)]


def _stream(
    info: SessionInfo, name: str, last_recv: int | None, as_of: int, *, gaps: int, limits: HealthThresholds
) -> StreamHealth:
    health = stream_health(name, last_recv, as_of, limits)
    age_s = None if last_recv is None else max(0, as_of - last_recv) / 1e9
    return StreamHealth(name, info.streams[name].events, last_recv, age_s, gaps, health)


async def _last_recv(store: EventStore, position: int) -> int | None:
    """The receive time of the event at ``position`` (a stream's last): a one-row read by position."""
    async for event in store.read(EventFilter(after_position=position - 1, until_position=position)):
        return event.ts_recv
    return None


def _gap_counts(events: list[Event]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        stream = getattr(event.payload, "stream", None) if event.type == "Gap" else None
        if isinstance(stream, str):
            counts[stream] = counts.get(stream, 0) + 1
    return counts


def _latest_breakers(events: list[Event]) -> dict[str, BreakerStateChanged]:
    latest: dict[str, BreakerStateChanged] = {}
    for event in events:
        if isinstance(event.payload, BreakerStateChanged):
            latest[event.payload.breaker] = event.payload
    return dict(sorted(latest.items()))


def _session_component(info: SessionInfo) -> ComponentHealth:
    if info.status == "crashed":
        return ComponentHealth("session", "down", f"crashed: {info.end_reason}" if info.end_reason else "crashed")
    if info.status == "open":
        return ComponentHealth("session", "ok", "open (recording)")
    return ComponentHealth("session", "ok", f"closed: {info.end_reason}" if info.end_reason else "closed")


def _gaps_component(count: int) -> ComponentHealth:
    return ComponentHealth("gaps", "degraded" if count else "ok", f"{count} gap(s) in the data")


def _report_component(event: Event) -> ComponentHealth:
    report = event.payload
    assert isinstance(report, HealthReported)
    bad = [f"{c.name} {c.status}" for c in report.components if c.status != "ok"]
    return ComponentHealth("last health report", report.status, "; ".join(bad) or "all ok")
