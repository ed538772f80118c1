"""System payloads: what the toolkit itself says about a session."""

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
