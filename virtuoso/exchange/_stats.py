"""RecordStats: what a recording has done so far, for the live status line and the final summary.

It is a plain bus subscriber, so it sees exactly what the log receives: every
market event, every Gap and every breaker transition.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from virtuoso.events import ChannelRestarted, Event, Gap, PayloadRejected
from virtuoso.resilience import flowing_stream

NS = 1_000_000_000


def _duration(ns: int) -> str:
    """``850ms`` below ten seconds, ``72,364,136s`` above (replayed data lags by its age)."""
    return f"{ns / 1e6:,.0f}ms" if abs(ns) < 10 * NS else f"{ns / NS:,.0f}s"


class RecordStats:
    """Counts per type and stream, lag per stream, gaps and breaker transitions; feed it every event."""

    def __init__(self, now_ns: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self.per_stream: Counter[str] = Counter()
        self.lag_ns: dict[str, int] = {}
        self.last_recv: dict[str, int] = {}
        """Per market stream, the receive time of its last event."""
        self.gaps: list[dict[str, Any]] = []
        self.breaker_transitions: list[dict[str, Any]] = []
        self.breakers: dict[str, str] = {}
        self.rejected: Counter[tuple[str, str]] = Counter()
        """Items of exchange answers not recorded, per ``(stream, reason)`` (from ``PayloadRejected`` events)."""
        self.restarts: list[dict[str, Any]] = []
        self._mark_ns = now_ns
        self._mark_counts: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        """Take one published event into account."""
        self.counts[event.type] += 1
        self.per_stream[event.stream] += 1
        payload = event.payload
        if event.topic.startswith("market.") and flowing_stream(event.stream):
            self.lag_ns[event.stream] = event.ts_recv - event.ts_event
            self.last_recv[event.stream] = event.ts_recv
        elif isinstance(payload, Gap):
            self.gaps.append(
                {
                    "stream": payload.stream,
                    "start_ns": payload.start_ns,
                    "end_ns": payload.end_ns,
                    "reason": payload.reason,
                }
            )
        elif event.type == "BreakerStateChanged":
            self._breaker(event.ts_recv, payload)
        elif isinstance(payload, PayloadRejected):
            self.rejected[(payload.stream, payload.reason)] += payload.count
        elif isinstance(payload, ChannelRestarted):
            self.restarts.append(
                {
                    "stream": payload.stream,
                    "reason": payload.reason,
                    "restarts": payload.restarts,
                    "stopped": payload.stopped,
                    "ts_ns": event.ts_recv,
                }
            )

    def _breaker(self, ts_ns: int, payload: Any) -> None:
        transition = {name: getattr(payload, name, None) for name in ("breaker", "old", "new", "reason", "failures")}
        transition["ts_ns"] = ts_ns
        self.breaker_transitions.append(transition)
        self.breakers[str(transition["breaker"])] = str(transition["new"])

    def status_line(self, now_ns: int) -> str:
        """One line: events/s per stream since the previous call, lag, breaker states, gaps so far."""
        elapsed = max(now_ns - self._mark_ns, 1) / NS
        rates = []
        for stream, count in sorted(self.per_stream.items()):
            if not flowing_stream(stream):
                continue
            rate = (count - self._mark_counts[stream]) / elapsed
            lag = self.lag_ns.get(stream)
            lag_text = "" if lag is None else f" lag {_duration(lag)}"
            rates.append(f"{stream.split(':', 1)[-1]} {rate:,.0f}/s{lag_text}")
        self._mark_ns, self._mark_counts = now_ns, Counter(self.per_stream)
        breakers = ", ".join(f"{name} {state}" for name, state in sorted(self.breakers.items()) if state != "closed")
        total = sum(self.counts.values())
        parts = [f"{total:,} events", *rates, f"gaps {len(self.gaps)}", f"breakers {breakers or 'all closed'}"]
        rejected = sum(self.rejected.values())
        if rejected:
            parts.append(f"rejected {rejected:,}")
        stopped = sorted({r["stream"] for r in self.restarts if r["stopped"]})
        restarting = sum(1 for r in self.restarts if not r["stopped"])
        if restarting:
            parts.append(f"restarts {restarting}")
        if stopped:
            parts.append(f"stopped {', '.join(s.split(':', 1)[-1] for s in stopped)}")
        return " | ".join(parts)

    def summary(self, session: str) -> dict[str, Any]:
        """The final summary: ``session``, ``counts`` per type name, ``gaps``, ``breaker_transitions``,
        ``rejected`` (per stream and reason) and ``channel_restarts``."""
        return {
            "session": session,
            "counts": dict(sorted(self.counts.items())),
            "streams": dict(sorted(self.per_stream.items())),
            "gaps": list(self.gaps),
            "breaker_transitions": list(self.breaker_transitions),
            "rejected": [
                {"stream": stream, "reason": reason, "count": count}
                for (stream, reason), count in sorted(self.rejected.items())
            ],
            "channel_restarts": list(self.restarts),
        }
