"""The EventStore: one public store over any storage backend (validation, sessions, writers, recovery)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Self

from virtuoso.errors import SessionError, StoreClosedError, UsageError
from virtuoso.events import (
    CheckedEvents,
    Event,
    EventIdFactory,
    Payload,
    SessionEnded,
    SessionResumed,
    SessionStarted,
)
from virtuoso.store._backend import StorageBackend
from virtuoso.store._column_chunks import ColumnChunk
from virtuoso.store._manifest import build_manifest, session_id_for
from virtuoso.store._models import (
    FAILED_PREFIX,
    READ_CHUNK,
    AppendResult,
    EventFilter,
    SessionInfo,
    SessionStatus,
    VerifyReport,
)
from virtuoso.store._rows import Columns, ExpectedVersion
from virtuoso.store._writer import BufferedWriter, CommitRetry

log = logging.getLogger("virtuoso.store")


async def _one_ahead(items: AsyncGenerator[Columns, None]) -> AsyncGenerator[Columns, None]:
    """``items``, the next one made while the consumer works on this one.

    The backend awaits its writer thread for each chunk; meanwhile the event loop makes (and checks)
    the next chunk, so the import's parsing overlaps SQLite's inserts. Errors of the producer come
    out of the ``await`` of the chunk they belong to; a consumer that stops early leaves no work behind.
    """
    upcoming: asyncio.Future[Columns | None] = asyncio.ensure_future(anext(items, None))
    try:
        while (item := await upcoming) is not None:
            upcoming = asyncio.ensure_future(anext(items, None))
            yield item
    finally:
        upcoming.cancel()
        await asyncio.wait([upcoming])
        if not upcoming.cancelled():
            upcoming.exception()  # seen and dropped: the consumer's own error is the one that propagates
        await items.aclose()


def lifecycle_stream(session_id: str) -> str:
    """The stream holding a session's SessionStarted and SessionEnded events."""
    return f"system:{session_id}:lifecycle"


def imports_stream(session_id: str) -> str:
    """The stream holding a session's FileImported events."""
    return f"system:{session_id}:imports"


MIN_PREFIX = 4
"""The shortest session id prefix :meth:`EventStore.session` accepts."""


class EventStore:
    """The append-only event log, over a :class:`~virtuoso.store.StorageBackend`.

    Get one from :func:`~virtuoso.store.open_sqlite_store` or
    :class:`~virtuoso.store.MemoryEventStore`. The store checks what enters the
    log, keeps sessions and buffered writers; the backend stores and reads.
    Every backend passes the same contract suite (``tests/contract``).
    """

    def __init__(self, backend: StorageBackend) -> None:
        self._backend = backend
        self._catalog = backend.catalog
        self._closed = False
        self._writers: list[BufferedWriter] = []
        self.recovered: list[str] = []
        """Ids of sessions this store marked ``crashed`` when it was opened."""

    # -- the port ------------------------------------------------------------------

    async def append(self, events: Iterable[Event], expected_version: ExpectedVersion = None) -> AppendResult:
        """Append ``events`` atomically, in order, in one transaction.

        ``expected_version`` (an int for a single-stream batch, or a mapping
        stream -> version) must equal the streams' current versions, else
        :class:`~virtuoso.errors.ConcurrencyError` and nothing is written.
        Events whose id is already stored are skipped and counted as duplicates.
        """
        columns = self._prepared(events if isinstance(events, (list, CheckedEvents)) else list(events))
        if columns is None:
            return AppendResult(0, 0)
        return await self._append_prepared(columns, expected_version)

    def _prepared(self, batch: Sequence[Event]) -> Columns | None:
        """The checked columns of ``batch`` (None when empty): the part of an append that needs no backend."""
        self._check_open()
        if not batch:
            return None
        columns = Columns.of(batch)
        self._catalog.check_batch(columns)
        return columns

    async def _append_prepared(self, columns: Columns, expected_version: ExpectedVersion = None) -> AppendResult:
        """Append columns made by :meth:`_prepared` (a buffered writer makes them while the batch before commits)."""
        self._check_open()
        return await self._backend.append(columns, expected_version)

    async def append_atomic(self, chunks: Iterable[Sequence[Event]] | AsyncIterable[Sequence[Event]]) -> AppendResult:
        """Append every chunk of ``chunks`` in ONE transaction: all of them or nothing.

        ``chunks`` (a sync or async iterable of event lists) is consumed while the
        transaction is open, so a producer can stream a large input with flat
        memory: each chunk is written as it comes (one hash-chain batch per chunk)
        and only the end commits. If the iterable raises, or a chunk is refused,
        nothing of any chunk is kept and the error propagates. Ids already stored
        are skipped and counted as duplicates, as with :meth:`append`. Other
        appends to this store wait until the transaction ends; the producer must
        not append to the same store itself.
        """
        self._check_open()
        async with aclosing(_one_ahead(self._checked_columns(chunks))) as ahead:
            return await self._backend.append_atomic(ahead)

    async def _checked_columns(
        self, chunks: Iterable[Sequence[Event]] | AsyncIterable[Sequence[Event]]
    ) -> AsyncGenerator[Columns, None]:
        if isinstance(chunks, AsyncIterable):
            async for chunk in chunks:
                columns = self._columns(chunk)
                if columns is not None:
                    yield columns
        else:
            for chunk in chunks:
                columns = self._columns(chunk)
                if columns is not None:
                    yield columns

    def _columns(self, chunk: Sequence[Event]) -> Columns | None:
        return self._prepared(chunk if isinstance(chunk, (list, CheckedEvents)) else list(chunk))

    async def read(self, flt: EventFilter | None = None, chunk_size: int = READ_CHUNK) -> AsyncIterator[Event]:
        """Events matching ``flt`` one by one, in position order (read in chunks)."""
        async for chunk in self.read_chunks(flt, chunk_size):
            for event in chunk:
                yield event

    async def read_chunks(
        self, flt: EventFilter | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[list[Event]]:
        """Events matching ``flt`` in position order, in lists of at most ``chunk_size``."""
        self._check_open()
        # Closed with this generator, so a reader that stops early leaves nothing open in the backend.
        async with aclosing(self._backend.read_chunks(flt or EventFilter(), chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def read_columns(
        self, flt: EventFilter | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[ColumnChunk]:
        """Events matching ``flt`` as columns: :class:`ColumnChunk` s of one payload type each, at most
        ``chunk_size`` events, a type's events in position order, never an object per event where the
        layout stores columns (``docs/store.md``, "Reading columns")."""
        self._check_open()
        async with aclosing(self._backend.read_columns(flt or EventFilter(), chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def last_event(self, flt: EventFilter | None = None) -> Event | None:
        """The newest event (highest position) matching ``flt``; None when none does.

        "The latest checkpoint at or before T" is
        ``last_event(EventFilter(streams=(s,), end_ns=T + 1))``.
        """
        self._check_open()
        return await self._backend.last_event(flt or EventFilter())

    async def max_position(self) -> int:
        """The position of the newest event, 0 for an empty log."""
        self._check_open()
        return await self._backend.max_position()

    async def stream_version(self, stream: str) -> int:
        """The version of the newest event of ``stream``, 0 when it has none."""
        self._check_open()
        return await self._backend.stream_version(stream)

    async def sessions(self) -> list[SessionInfo]:
        """Every session, oldest first, with per-stream counts."""
        self._check_open()
        return await self._backend.sessions()

    async def verify(self, *, key: bytes | None = None, expect_head: str | None = None) -> VerifyReport:
        """Check the hash chain and bookkeeping; report the first problem.

        With ``key`` (for a SQLite log, by default the key it was opened with),
        every batch must carry a valid HMAC made with it; with ``expect_head`` (a
        head hash kept elsewhere), the chain must pass through it.
        """
        self._check_open()
        return await self._backend.verify(key, expect_head)

    async def checkpoint(self) -> None:
        """Fold what the log's journal holds back into its file, so the journal does not grow without bound
        (SQLite: ``PRAGMA wal_checkpoint(TRUNCATE)``; in memory: nothing to do)."""
        self._check_open()
        await self._backend.checkpoint()

    async def close(self) -> None:
        """Flush every buffered writer, then release the store.

        If a writer fails to flush, the others are still flushed and the store is
        still closed; the first error is raised afterwards.
        """
        if self._closed:
            return
        error = await self._close_writers()
        self._closed = True
        try:
            await self._backend.close()
        finally:
            if error is not None:
                raise error

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def writer(
        self, max_events: int = 5000, max_delay_s: float = 0.05, retry: CommitRetry | None = None
    ) -> BufferedWriter:
        """A buffered writer committing every ``max_events`` events or ``max_delay_s`` seconds.

        With ``retry``, commits that fail for a while (a lock held by another
        process, a disk I/O error) are retried in order instead of raised; see
        :class:`~virtuoso.store.CommitRetry`.
        """
        self._check_open()
        buffered = BufferedWriter(self, max_events=max_events, max_delay_s=max_delay_s, retry=retry)
        self._writers.append(buffered)
        return buffered

    async def session(self, session_id: str) -> SessionInfo:
        """One session by id (a unique prefix of at least 4 characters is enough).

        The :class:`SessionError` says which: no such session, a prefix too short, or
        an ambiguous prefix (listing the candidates).
        """
        sessions = await self.sessions()
        matches = [s for s in sessions if s.id == session_id]
        if not matches and len(session_id) < MIN_PREFIX:
            raise SessionError(f"session prefix {session_id!r} is too short: give at least {MIN_PREFIX} characters")
        if not matches:
            matches = [s for s in sessions if s.id.startswith(session_id)]
        if not matches:
            raise SessionError(f"no session with id {session_id!r}")
        if len(matches) > 1:
            candidates = ", ".join(f"{s.id[:12]} ({s.source}: {s.name})" for s in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise SessionError(f"{len(matches)} sessions with id prefix {session_id!r}: {candidates}{more}")
        return matches[0]

    async def begin_session(
        self,
        name: str,
        source: str,
        *,
        started_ns: int,
        symbols: Sequence[str] = (),
        channels: Sequence[str] = (),
        config: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        """Open a session and log its SessionStarted event.

        The manifest holds the Virtuoso, ccxt and Python versions and the config
        with secrets redacted, plus the config's hash. The id defaults to a hash
        of source, name and start time, so it is deterministic. ``extra`` adds
        top-level manifest keys (a rotated session's ``previous``).
        """
        manifest = build_manifest(config or {}, extra)
        info = SessionInfo(
            id=session_id or session_id_for(source, name, started_ns),
            name=name,
            source=source,
            symbols=tuple(symbols),
            channels=tuple(channels),
            manifest=manifest,
            config_hash=manifest["config_hash"],
            started_ns=started_ns,
            ended_ns=None,
            status="open",
        )
        started = SessionStarted(name, source, info.symbols, info.channels, info.config_hash)
        # The session's row and its SessionStarted event are committed together, or neither is.
        started_event = await self._lifecycle_event(info.id, started_ns, started)
        await self._backend.insert_session(info, self._checked(started_event))
        return info

    async def end_session(self, session_id: str, *, ended_ns: int, reason: str = "") -> SessionInfo:
        """Close an open session and log its SessionEnded event."""
        info = await self.session(session_id)
        if info.status != "open":
            raise SessionError(f"session {info.id} is {info.status}, not open")
        await self._finish(info.id, ended_ns, "closed", reason)
        return await self.session(info.id)

    async def fail_session(self, session_id: str, *, ended_ns: int, reason: str) -> SessionInfo:
        """End an open session whose work failed, saying why: its SessionEnded event has status ``crashed``
        and the reason ``failed: <reason>`` (:attr:`SessionInfo.failed`).

        What the session committed stays; it is ended now by the process that saw the failure, rather
        than left open for a later open of the log to find and mark crashed without a reason.
        """
        info = await self.session(session_id)
        if info.status != "open":
            raise SessionError(f"session {info.id} is {info.status}, not open")
        await self._finish(info.id, ended_ns, "crashed", FAILED_PREFIX + reason)
        return await self.session(info.id)

    async def resume_session(self, session_id: str, *, resumed_ns: int, reason: str = "") -> SessionInfo:
        """Open an ended (closed or crashed) session again and log a SessionResumed event.

        For work that continues an earlier session, such as an import re-run
        after a failure; end it again with :meth:`end_session`.
        """
        info = await self.session(session_id)
        if info.status == "open":
            raise SessionError(f"session {info.id} is already open")
        resumed = await self._lifecycle_event(info.id, resumed_ns, SessionResumed(info.status, reason))
        await self._backend.change_session(info.id, self._checked(resumed), "open", None, "")
        return await self.session(info.id)

    # -- shared machinery ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    async def _lifecycle_event(self, session_id: str, ts: int, payload: Payload) -> Event:
        # Counting from the stream's version keeps ids distinct when a resumed
        # session ends a second time (and gives a first SessionEnded the id it always had).
        stream = lifecycle_stream(session_id)
        ids = EventIdFactory(stream, start=await self.stream_version(stream))
        return Event(ids(ts), stream, ts, ts, session_id, payload)

    async def _finish(self, session_id: str, ended_ns: int, status: SessionStatus, reason: str) -> None:
        if status == "open":
            raise UsageError("a session cannot be finished as 'open'")
        ended = await self._lifecycle_event(session_id, ended_ns, SessionEnded(status, reason))
        await self._backend.change_session(session_id, self._checked(ended), status, ended_ns, reason)

    async def _recover_abandoned(self) -> None:
        """Mark ``crashed`` the open sessions of processes that are gone (``open_sqlite_store`` calls it)."""
        for session_id, last_ts in await self._backend.abandoned_sessions():
            reason = "the recording process ended without closing the session"
            await self._finish(session_id, last_ts, "crashed", reason)
            self.recovered.append(session_id)
            log.warning("session %s was left open by a process that is gone: marked crashed", session_id)

    async def _close_writers(self) -> BaseException | None:
        """Close every writer; return the first error instead of stopping at it."""
        writers, self._writers = self._writers, []
        first: BaseException | None = None
        for buffered in writers:
            try:
                await buffered.close()
            except Exception as exc:  # the others must still be flushed; raised by close()
                first = first or exc
        return first

    def _checked(self, event: Event) -> Columns:
        self._check_open()
        columns = Columns.of([event])
        self._catalog.check_batch(columns)
        return columns
