"""The storage port: the few operations a layout of the log must provide.

:class:`~virtuoso.store.EventStore` is the one public store. It validates what
enters the log, turns events into :class:`Columns`, keeps sessions, buffered
writers and crash recovery, and leaves storage to a :class:`StorageBackend`.
A backend owns how events lie on disk (or in memory): it numbers names in the
shared :class:`Catalog`, assigns positions and versions, enforces expected
versions and ids, chains batches and reads them back in position order.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from virtuoso.events import Event
from virtuoso.store._column_chunks import ColumnChunk
from virtuoso.store._models import AppendResult, EventFilter, SessionInfo, SessionStatus, VerifyReport
from virtuoso.store._rows import Catalog, Columns, ExpectedVersion


class StorageBackend(Protocol):
    """What a storage layout implements; the contract suite (``tests/contract``) holds every one to it.

    Appends take validated :class:`Columns` (the store checked them against the
    registry and the value rules) and are atomic. Reads return events in position
    order. Nothing here is called after :meth:`close`, except :meth:`close`.
    """

    @property
    def catalog(self) -> Catalog:
        """Stream, kind and session numbers, shared with the store (which checks payload classes with it)."""

    async def append(self, columns: Columns, expected: ExpectedVersion) -> AppendResult:
        """Write one batch in one transaction: positions and versions assigned, ``expected`` versions
        checked (:class:`~virtuoso.errors.ConcurrencyError`, nothing written), stored ids skipped as
        duplicates, one link of the hash chain."""

    async def append_atomic(self, chunks: AsyncIterator[Columns]) -> AppendResult:
        """Write every chunk (one chain link each) in one transaction, consuming ``chunks`` inside it;
        if ``chunks`` raises, nothing is kept."""

    def read_chunks(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[list[Event], None]:
        """Events matching ``flt`` in position order, in lists of at most ``chunk_size``."""

    def read_columns(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[ColumnChunk, None]:
        """The same events as columns, one payload type a chunk of at most ``chunk_size`` events; a type's
        events come in position order. A row layout builds them with
        :func:`~virtuoso.store._column_chunks.column_chunks`, a columnar one hands over what it decodes."""

    async def last_event(self, flt: EventFilter) -> Event | None:
        """The matching event of highest position, or None."""

    async def max_position(self) -> int:
        """The position of the newest event, 0 for an empty log."""

    async def stream_version(self, stream: str) -> int:
        """The version of the newest event of ``stream``, 0 when it has none."""

    async def sessions(self) -> list[SessionInfo]:
        """Every session row, oldest first, with per-stream counts."""

    async def insert_session(self, info: SessionInfo, started: Columns) -> None:
        """Store a new session's row and append its ``SessionStarted`` event, in one transaction;
        :class:`~virtuoso.errors.SessionError` if the id exists."""

    async def change_session(
        self, session_id: str, event: Columns, status: SessionStatus, ended_ns: int | None, reason: str
    ) -> None:
        """Append a lifecycle event (``SessionEnded``, or ``SessionResumed`` with status ``open``)
        and set the row's status, end time and reason to match, in one transaction."""

    async def abandoned_sessions(self) -> list[tuple[str, int]]:
        """``(session id, time of its last event)`` of open sessions whose owning process is gone."""

    async def verify(self, key: bytes | None, expect_head: str | None) -> VerifyReport:
        """Recompute the chain and check the bookkeeping; report the first problem."""

    async def checkpoint(self) -> None:
        """Fold a journal back into the log's file (nothing to do without one)."""

    async def close(self) -> None:
        """Release connections and files; a file-backed log is left as one file."""
