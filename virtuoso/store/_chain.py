"""The hash chain over committed batches.

Each committed batch stores ``sha256(previous batch hash || slices)``. The batch's
ten stored columns (see ``Row``) are cut into slices of :data:`SLICE` events and
each slice, as a list of ten column lists, is msgpack-encoded and fed to the hash
(a batch of up to :data:`SLICE` events is one slice).
Encoding whole column slices in one call keeps the chain's cost per event to a
fraction of the insert itself; the price is that a change inside a batch is
located to that batch, not the row.

Since schema version 2 a batch's hash also binds its **meaning**: a *context*
(see :func:`batch_context`) fed after the columns names every stream,
kind (type and schema) and session number the batch uses, and holds the full
header of each session whose ``SessionStarted`` event is in the batch. A batch
without context is a version-1 batch (columns only). With a key, each batch also
carries ``batch_mac``: an HMAC over its hash, which covers every batch before it.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable, Mapping, Sequence
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

    def digest(self, context: bytes = b"") -> bytes:
        """The batch hash (call once, after the last events), closed by the batch's ``context``."""
        if self._pending[0]:
            self._hash.update(_ENCODE(self._pending))
            self._pending = [[] for _ in range(_WIDTH)]
        self._hash.update(context)
        return self._hash.digest()


def batch_hash(previous: bytes, columns: Columns, context: bytes = b"") -> bytes:
    """Chain hash of one batch (as columns) following a batch whose hash is ``previous``.

    The same value as feeding :class:`BatchHasher`, without copying the columns.
    ``context`` (from :func:`batch_context`) is empty for a version-1 batch.
    """
    digest = hashlib.sha256(previous)
    if len(columns[0]) <= SLICE:  # the usual batch: one encode, no copies
        digest.update(_ENCODE(columns))
    else:
        for start in range(0, len(columns[0]), SLICE):
            digest.update(_ENCODE([column[start : start + SLICE] for column in columns]))
    digest.update(context)
    return digest.digest()


CONTEXT_TAG = "virtuoso-chain/2"

SessionHeader = Sequence[Any]
"""A session's stored header: (number, id, name, source, symbols, channels,
manifest, config_hash, started_ns), the three JSON fields as their stored text."""


def batch_context(
    numbers: tuple[Iterable[int], Iterable[int], Iterable[int]],
    names: tuple[Mapping[int, str], Mapping[int, tuple[str, int]], Mapping[int, str]],
    headers: Sequence[SessionHeader],
) -> bytes:
    """What a batch's events mean, for its hash: ``numbers`` are the distinct
    stream, kind and session numbers it uses; ``names`` the catalog's maps from
    number to stream name, (type, schema) and session id; ``headers`` the headers
    of the sessions it starts."""
    streams, kinds, sessions = (sorted(n) for n in numbers)
    stream_names, kind_names, session_ids = names
    return _ENCODE(
        [
            CONTEXT_TAG,
            [[n, stream_names[n]] for n in streams],
            [[n, *kind_names[n]] for n in kinds],
            [[n, session_ids[n]] for n in sessions],
            [list(h) for h in sorted(headers, key=lambda h: int(h[0]))],
        ]
    )


_MAC_TAG = b"virtuoso-batch-mac/1\0"


def batch_mac(key: bytes, seq: int, first: int, last: int, digest: bytes) -> bytes:
    """HMAC-SHA256 under ``key`` of one batch's place (seq, positions) and chain hash."""
    return hmac.new(key, _MAC_TAG + struct.pack(">QQQ", seq, first, last) + digest, hashlib.sha256).digest()
