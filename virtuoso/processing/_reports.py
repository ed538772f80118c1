"""What a processor reports: dead letters, snapshots of its metrics, and ``ProcessorStats`` events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from virtuoso.events import Event, EventIdFactory, Payload, event_type

LATENCY_WINDOW = 4096
"""How many recent latency samples the percentiles are taken over."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event whose handler raised: the event, the handler's name and the error as ``"Type: message"``."""

    event: Event
    handler: str
    error: str


@event_type
class ProcessorStats(Payload, frozen=True, gc=False):
    """A processor's metrics at one instant (see :class:`ProcessorSnapshot` for the fields).

    Rates and latencies are wall-clock measurements: a replay does not reproduce
    them, so these events are not part of a replay's output.
    """

    TYPE: ClassVar[str] = "ProcessorStats"
    TOPIC: ClassVar[str] = "system.processor.stats"

    processor: str
    depths: dict[str, int]
    events_in: int
    events_handled: int
    events_abandoned: int
    events_out: int
    dead_letters: int
    events_per_s: float
    latency_p50_ns: int
    latency_p90_ns: int
    latency_p99_ns: int


@dataclass(frozen=True, slots=True)
class ProcessorSnapshot:
    """A processor's counters and measurements at one instant.

    ``depths`` maps each lane's name to the events waiting in it (submitted, not
    yet taken by a worker). ``events_in`` counts submitted events,
    ``events_handled`` those whose handler call finished (dead letters included),
    ``events_abandoned`` those of handler calls cut short (by :meth:`abort`, a
    cancellation, or a callback that stopped the processor),
    ``in_flight`` those a worker took and is handling, ``events_out`` the derived
    events emitted, ``blocked_submitters`` the submitters waiting for room in a
    full lane (backpressure at work). ``events_per_s`` is events handled
    per wall-clock second from the processor's start to now (or to its stop). Latencies are a handler
    call's wall-clock duration divided by the events it was given, one sample per
    call, over the last :data:`LATENCY_WINDOW` calls (0 before the first call).
    """

    depths: dict[str, int]
    events_in: int
    events_handled: int
    events_abandoned: int
    events_out: int
    dead_letters: int
    in_flight: int
    blocked_submitters: int
    events_per_s: float
    latency_p50_ns: int
    latency_p90_ns: int
    latency_p99_ns: int

    def as_payload(self, processor: str) -> ProcessorStats:
        """This snapshot as the payload of a ``ProcessorStats`` event of processor ``processor``."""
        return ProcessorStats(
            processor,
            dict(self.depths),
            self.events_in,
            self.events_handled,
            self.events_abandoned,
            self.events_out,
            self.dead_letters,
            round(self.events_per_s, 3),
            self.latency_p50_ns,
            self.latency_p90_ns,
            self.latency_p99_ns,
        )


class LatencyWindow:
    """The last :data:`LATENCY_WINDOW` samples (ns) in a ring; percentiles by nearest rank.

    >>> window = LatencyWindow()
    >>> for sample in range(1, 101):
    ...     window.add(sample)
    >>> window.percentiles((50, 90, 99))
    [50, 90, 99]
    """

    __slots__ = ("_next", "_samples")

    def __init__(self) -> None:
        self._samples: list[int] = []
        self._next = 0

    def add(self, sample_ns: int) -> None:
        """Record one sample, replacing the oldest once the window is full."""
        samples = self._samples
        if len(samples) < LATENCY_WINDOW:
            samples.append(sample_ns)
        else:
            samples[self._next] = sample_ns
            self._next = (self._next + 1) % LATENCY_WINDOW

    def percentiles(self, ranks: tuple[int, ...]) -> list[int]:
        """The samples at each percentile rank in ``ranks`` (0 for each when there are none)."""
        ordered = sorted(self._samples)
        if not ordered:
            return [0 for _ in ranks]
        count = len(ordered)
        return [ordered[max(0, -(-rank * count // 100) - 1)] for rank in ranks]


class StatsEvents:
    """Envelopes for one processor's ``ProcessorStats`` payloads: its own stream, deterministic ids."""

    __slots__ = ("_ids", "session", "stream")

    def __init__(self, processor: str, session: str) -> None:
        self.session = session
        self.stream = f"system:{session}:processor:{processor}"
        self._ids = EventIdFactory(self.stream)

    def event(self, payload: ProcessorStats, ts_ns: int) -> Event:
        """The event of ``payload`` at clock time ``ts_ns``."""
        return Event(self._ids(ts_ns), self.stream, ts_ns, ts_ns, self.session, payload)
