"""The digest of a run: sha256 over the canonical encoding of every derived event, in order.

The canonical encoding of one event is the compact JSON array

    [stream, type, schema, ts_event, ts_recv, causation, payload]

followed by a newline, where ``payload`` is the stored payload JSON
(:func:`~virtuoso.events.encode_payload`, embedded as is) and ``causation`` is
the input position (or ``null``). Left out: ``id`` and ``session`` (they name
the run, and two runs of the same configuration must agree), ``version`` and
``position`` (the store assigns them on append).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

from virtuoso.events import Event, encode_payload

_ENCODE = msgspec.json.Encoder().encode


def canonical(event: Event) -> bytes:
    """The canonical encoding of ``event`` (see the module docstring).

    >>> from virtuoso.events import Note
    >>> canonical(Event("any-id", "analysis:notes", 5, 6, "any-run", Note("hi"), causation=3))
    b'["analysis:notes","Note",1,5,6,3,{"message":"hi","level":"info","data":{}}]\\n'
    """
    raw = msgspec.Raw(encode_payload(event.payload))
    row = (event.stream, event.type, event.schema, event.ts_event, event.ts_recv, event.causation, raw)
    return _ENCODE(row) + b"\n"


class Digest:
    """A running digest of derived events.

    >>> Digest().hexdigest() == hashlib.sha256().hexdigest()
    True
    """

    __slots__ = ("_hash", "events")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.events = 0
        """Events digested so far."""

    def update(self, events: Iterable[Event]) -> None:
        """Add ``events``, in order."""
        update = self._hash.update
        for event in events:
            update(canonical(event))
            self.events += 1

    def hexdigest(self) -> str:
        """The sha256 so far, as hex."""
        return self._hash.hexdigest()


def digest_of(events: Iterable[Event]) -> str:
    """The digest of ``events``."""
    digest = Digest()
    digest.update(events)
    return digest.hexdigest()
