"""The hash chain over committed batches.

Each committed batch stores ``sha256(previous batch hash || slices)``. The batch's
ten stored columns (see ``Row``) are cut into slices of :data:`SLICE` events and
each slice, as a list of ten column lists, is msgpack-encoded and fed to the hash
(a batch of up to :data:`SLICE` events is one slice).
Encoding whole column slices in one call keeps the chain's cost per event to a
fraction of the insert itself; the price is that a change inside a batch is
located to that batch, not the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec

SLICE = 8192
GENESIS = bytes(32)
_ENCODE = msgspec.msgpack.Encoder().encode

Row = tuple[Any, ...]
"""A stored event row: (position, id, stream, version, kind, ts_event, ts_recv,
session, causation, payload), with stream, kind and session as catalog numbers."""

Columns = Sequence[Sequence[Any]]
"""The same data as rows, transposed: ten columns of equal length."""

_WIDTH = 10


class BatchHasher:
    """Hash of one batch fed column-wise in pieces of any size, in position order."""

    __slots__ = ("_hash", "_pending")

    def __init__(self, previous: bytes) -> None:
        self._hash = hashlib.sha256(previous)
        self._pending: list[list[Any]] = [[] for _ in range(_WIDTH)]

    def update(self, columns: Columns) -> None:
        """Feed the next events of the batch as ten columns."""
        pending = self._pending
        for kept, more in zip(pending, columns, strict=True):
            kept.extend(more)
        while len(pending[0]) >= SLICE:
            self._hash.update(_ENCODE([column[:SLICE] for column in pending]))
            for column in pending:
                del column[:SLICE]

    def update_rows(self, rows: Sequence[Row]) -> None:
        """Feed the next events of the batch as rows."""
        if rows:
            self.update(list(zip(*rows, strict=True)))

    def digest(self) -> bytes:
        """The batch hash (call once, after the last events)."""
        if self._pending[0]:
            self._hash.update(_ENCODE(self._pending))
            self._pending = [[] for _ in range(_WIDTH)]
        return self._hash.digest()


def batch_hash(previous: bytes, columns: Columns) -> bytes:
    """Chain hash of one batch (as columns) following a batch whose hash is ``previous``.

    The same value as feeding :class:`BatchHasher`, without copying the columns.
    """
    digest = hashlib.sha256(previous)
    if len(columns[0]) <= SLICE:  # the usual batch: one encode, no copies
        digest.update(_ENCODE(columns))
        return digest.digest()
    for start in range(0, len(columns[0]), SLICE):
        digest.update(_ENCODE([column[start : start + SLICE] for column in columns]))
    return digest.digest()
