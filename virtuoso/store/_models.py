"""Value objects the store returns and takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SessionStatus = Literal["open", "closed", "crashed"]

FAILED_PREFIX = "failed: "
"""How the end reason of a session ended by ``EventStore.fail_session`` begins (its status is ``crashed``)."""

READ_CHUNK = 5000
"""Default events per chunk of a read (one query, one trip to the reader thread)."""

NO_STREAM = 0
"""``expected_version`` for a stream that must not exist yet."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: events written, ids already present, positions taken."""

    written: int
    duplicates: int
    first_position: int = 0
    last_position: int = 0


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a read returns; every criterion given must hold.

    ``start_ns``/``end_ns`` bound ``ts_event`` (start inclusive, end exclusive);
    ``after_position`` starts a catch-up read after that position.
    """

    session: str | None = None
    streams: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    after_position: int = 0
    until_position: int | None = None


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Events of one stream within one session."""

    events: int
    first_ts_event: int
    last_ts_event: int
    first_position: int
    last_position: int


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's row: identity, provenance, manifest, lifecycle and counts."""

    id: str
    name: str
    source: str
    symbols: tuple[str, ...]
    channels: tuple[str, ...]
    manifest: Mapping[str, Any]
    config_hash: str
    started_ns: int
    ended_ns: int | None
    status: SessionStatus
    end_reason: str = ""
    streams: Mapping[str, StreamStats] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Ended by the process that saw its work fail (``EventStore.fail_session``), not merely crashed."""
        return self.status == "crashed" and self.end_reason.startswith(FAILED_PREFIX)

    @property
    def events(self) -> int:
        """Number of events in the session."""
        return sum(s.events for s in self.streams.values())

    @property
    def first_ts_event(self) -> int | None:
        """Earliest exchange time in the session, or None when it has no events."""
        return min((s.first_ts_event for s in self.streams.values()), default=None)

    @property
    def last_ts_event(self) -> int | None:
        """Latest exchange time in the session, or None when it has no events."""
        return max((s.last_ts_event for s in self.streams.values()), default=None)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary ``virtuoso sessions list --json`` prints."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "symbols": list(self.symbols),
            "channels": list(self.channels),
            "status": self.status,
            "events": self.events,
            "first_ts_event": self.first_ts_event,
            "last_ts_event": self.last_ts_event,
            "started_ns": self.started_ns,
            "ended_ns": self.ended_ns,
        }


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of walking the hash chain. ``ok`` is False at the first problem found.

    ``events`` and ``batches`` count what was found intact before that problem;
    ``head`` is the hash of the last intact batch, ``position`` its last position.
    """

    ok: bool
    events: int
    batches: int
    head: str
    first_bad_position: int | None = None
    problem: str = ""
    position: int = 0
    """The last position of the last intact batch (where ``head`` stands)."""
    keyed: bool = False
    """Whether every intact batch's HMAC was checked with a key."""
