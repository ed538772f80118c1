"""Payloads the store logs about a session's provenance: imported files, resumptions.

They live with the store (not in ``virtuoso.events``) because the store writes or
reads them itself; importing ``virtuoso.store`` registers them, so any program
that can open a log can also decode these events.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from virtuoso.events import Payload, event_type


def imports_stream(session_id: str) -> str:
    """The stream holding a session's FileImported events."""
    return f"system:{session_id}:imports"


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
