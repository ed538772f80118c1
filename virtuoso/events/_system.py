"""System payloads: what the toolkit itself says about a session (its lifecycle, gaps, notes, provenance)."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from virtuoso.events._registry import Payload, event_type


@event_type
class SessionStarted(Payload, frozen=True, gc=False):
    """A recording, import or run began."""

    TYPE: ClassVar[str] = "SessionStarted"
    TOPIC: ClassVar[str] = "system.session.started"

    name: str
    source: str
    symbols: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    config_hash: str = ""


@event_type
class SessionEnded(Payload, frozen=True, gc=False):
    """A session ended: ``closed`` normally, ``crashed`` when found abandoned."""

    TYPE: ClassVar[str] = "SessionEnded"
    TOPIC: ClassVar[str] = "system.session.ended"

    status: Literal["closed", "crashed"]
    reason: str = ""


@event_type
class Gap(Payload, frozen=True, gc=False):
    """Stream ``stream`` has no data from ``start_ns`` to ``end_ns``, and why."""

    TYPE: ClassVar[str] = "Gap"
    TOPIC: ClassVar[str] = "system.gap"

    stream: str
    start_ns: int
    end_ns: int
    reason: str


@event_type
class Note(Payload, frozen=True, gc=False):
    """A free-form remark worth keeping in the log (operator notes, warnings)."""

    TYPE: ClassVar[str] = "Note"
    TOPIC: ClassVar[str] = "system.note"

    message: str
    level: Literal["info", "warning", "error"] = "info"
    data: dict[str, str] = msgspec.field(default_factory=dict)


@event_type
class FileImported(Payload, frozen=True, gc=False):
    """One file imported into a session, appended in the same transaction as its events.

    ``path`` is the file as it was named, ``sha256`` the hash of its bytes as stored
    on disk (compressed files are hashed compressed), ``counts`` the events it gave
    per type name. ``cursors`` holds, per stream, the last sequence number the
    file ended on (trade id, book update id) and its exchange time, so that the
    next file of the same capture can continue the checks for gaps even when this
    file is skipped by a re-run.
    """

    TYPE: ClassVar[str] = "FileImported"
    TOPIC: ClassVar[str] = "system.import.file"

    path: str
    sha256: str
    bytes: int
    format: str
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    cursors: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)


@event_type
class SessionResumed(Payload, frozen=True, gc=False):
    """An ended session was opened again to continue its work (``previous``: how it had ended)."""

    TYPE: ClassVar[str] = "SessionResumed"
    TOPIC: ClassVar[str] = "system.session.resumed"

    previous: Literal["closed", "crashed"]
    reason: str = ""
