"""The hash chain over committed batches.

Each committed batch stores ``sha256(previous batch hash || rows)`` where the rows
are msgpack-encoded in fixed slices of :data:`SLICE` rows. Hashing whole slices in
one call keeps the chain's cost per event to a fraction of the insert itself; the
price is that a change inside a batch is located to that batch, not the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec

SLICE = 1024
GENESIS = bytes(32)
_ENCODE = msgspec.msgpack.Encoder().encode

Row = tuple[Any, ...]
"""A stored event row: (position, id, stream, version, kind, ts_event, ts_recv,
session, causation, payload), with stream, kind and session as catalog numbers."""


class BatchHasher:
    """Incremental form of :func:`batch_hash` for rows that arrive in pieces."""

    __slots__ = ("_hash", "_pending")

    def __init__(self, previous: bytes) -> None:
        self._hash = hashlib.sha256(previous)
        self._pending: list[Row] = []

    def update(self, rows: Sequence[Row]) -> None:
        """Feed the next rows of the batch, in position order."""
        pending = self._pending
        pending.extend(rows)
        whole = len(pending) - len(pending) % SLICE
        for start in range(0, whole, SLICE):
            self._hash.update(_ENCODE(pending[start : start + SLICE]))
        del pending[:whole]

    def digest(self) -> bytes:
        """The batch hash (call once, after the last rows)."""
        if self._pending:
            self._hash.update(_ENCODE(self._pending))
            self._pending = []
        return self._hash.digest()


def batch_hash(previous: bytes, rows: Sequence[Row]) -> bytes:
    """Chain hash of one batch of rows following a batch whose hash is ``previous``."""
    hasher = BatchHasher(previous)
    hasher.update(rows)
    return hasher.digest()
