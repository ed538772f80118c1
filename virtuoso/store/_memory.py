"""The in-memory backend: the same rows, catalog and chain as SQLite, in lists.

It is the reference the contract suite holds SQLite to, and the fast store for
unit tests. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace

from virtuoso.errors import ConcurrencyError, SessionError
from virtuoso.events import REGISTRY, Event, TypeRegistry
from virtuoso.store._chain import GENESIS, Row, batch_hash
from virtuoso.store._column_chunks import ColumnChunk, column_chunks
from virtuoso.store._models import AppendResult, EventFilter, SessionInfo, SessionStatus, StreamStats, VerifyReport
from virtuoso.store._rows import (
    AppendTotals,
    Batch,
    Catalog,
    Columns,
    ExpectedVersion,
    Field,
    StatsUpdate,
    StoredColumns,
    batch_numbers,
    build_batch,
    check_expected,
    context_for,
    header_values,
    matches,
    rows_to_events,
    started_sessions,
    stream_stats_updates,
    unique_by_id,
    unknown_session_error,
)
from virtuoso.store._store import EventStore


@dataclass(frozen=True, slots=True)
class _UndoPoint:
    """What an atomic append restores when it fails: the sizes and counters before it."""

    rows: int
    hashes: int
    heads: dict[str, int]
    stats: dict[tuple[int, int], list[int]]
    streams: int
    kinds: int


class MemoryEventStore(EventStore):
    """An event store held in memory, behaving exactly like the SQLite one (on a :class:`MemoryBackend`)."""

    def __init__(self, registry: TypeRegistry = REGISTRY) -> None:
        super().__init__(MemoryBackend(registry))


class MemoryBackend:
    """The :class:`~virtuoso.store.StorageBackend` holding rows in a list; nothing survives the process."""

    def __init__(self, registry: TypeRegistry = REGISTRY) -> None:
        self._catalog = Catalog(registry)
        self._rows: list[Row] = []
        self._ids: set[str] = set()
        self._heads: dict[str, int] = {}
        self._hashes: list[tuple[int, int, bytes]] = []
        self._sessions: dict[str, SessionInfo] = {}
        self._stats: dict[tuple[int, int], list[int]] = {}
        self._lock = asyncio.Lock()

    @property
    def catalog(self) -> Catalog:
        """The numbers of this log's streams, kinds and sessions."""
        return self._catalog

    async def close(self) -> None:
        """Nothing to release: the data lives as long as the object."""

    async def checkpoint(self) -> None:
        """Nothing to fold back: memory has no journal."""

    async def append(self, columns: Columns, expected: ExpectedVersion) -> AppendResult:
        """One batch, atomically (see :class:`~virtuoso.store.StorageBackend`)."""
        async with self._lock:
            return self._append_locked(columns, expected)

    async def append_atomic(self, chunks: AsyncIterator[Columns]) -> AppendResult:
        """Every chunk or none: a failure restores the sizes and counters from before."""
        totals = AppendTotals()
        async with self._lock:
            undo = self._undo_point()
            try:
                async for columns in chunks:
                    totals.add(self._append_locked(columns, None))
            except BaseException:
                self._undo(undo)
                raise
        return totals.result()

    def _undo_point(self) -> _UndoPoint:
        return _UndoPoint(
            len(self._rows),
            len(self._hashes),
            dict(self._heads),
            {key: list(values) for key, values in self._stats.items()},
            len(self._catalog.stream_ids),
            len(self._catalog.kind_ids),
        )

    def _undo(self, point: _UndoPoint) -> None:
        self._ids.difference_update(row[Field.ID] for row in self._rows[point.rows :])
        del self._rows[point.rows :]
        del self._hashes[point.hashes :]
        self._heads, self._stats = point.heads, point.stats
        self._catalog.truncate(point.streams, point.kinds)

    def _append_locked(self, columns: Columns, expected: ExpectedVersion) -> AppendResult:
        events = columns.events
        streams, kinds, sessions = self._catalog.missing(columns)
        if sessions:
            raise unknown_session_error(sessions)
        try:
            check_expected(expected, columns.distinct_streams(), self._heads)
        except ConcurrencyError:
            if not all(e.id in self._ids for e in events):
                raise
            self._number(streams, kinds)
            return AppendResult(0, len(events))
        self._number(streams, kinds)
        fresh = unique_by_id(events, self._ids)
        if not fresh:
            return AppendResult(0, len(events))
        heads = dict(self._heads)
        first = len(self._rows) + 1
        fresh_columns = Columns.of(fresh)
        batch = build_batch(fresh_columns, first, heads, self._catalog)
        self._commit(batch, heads, stream_stats_updates(batch, fresh_columns))
        return AppendResult(len(batch), len(events) - len(fresh), first, batch.last_position)

    def _commit(self, batch: Batch, heads: dict[str, int], stats: StatsUpdate) -> None:
        previous = self._hashes[-1][2] if self._hashes else GENESIS
        self._hashes.append((batch.first_position, batch.last_position, self._hash(previous, batch)))
        rows = batch.rows()
        self._rows.extend(rows)
        self._ids.update(batch.columns.id)
        self._heads = heads
        for key, (count, low, high, first, last) in stats.items():
            entry = self._stats.setdefault(key, [0, low, high, first, last])
            entry[0] += count
            entry[1], entry[2], entry[4] = min(entry[1], low), max(entry[2], high), last

    def _number(self, streams: list[str], kinds: list[tuple[str, int]]) -> None:
        # Same numbering as SQLite's: new names in sorted order, max + 1 each.
        for name in streams:
            self._catalog.add_stream(len(self._catalog.stream_ids) + 1, name)
        for type_name, schema in kinds:
            self._catalog.add_kind(len(self._catalog.kind_ids) + 1, type_name, schema)

    def read_columns(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[ColumnChunk, None]:
        """The events of :meth:`read_chunks` as columns (a row layout transposes each chunk)."""
        return column_chunks(self.read_chunks(flt, chunk_size))

    async def read_chunks(self, flt: EventFilter, chunk_size: int) -> AsyncGenerator[list[Event], None]:
        """Events matching ``flt`` in position order, ``chunk_size`` at a time."""
        position = flt.after_position
        while position < len(self._rows):
            window = self._rows[position : position + chunk_size * 4]
            position += len(window)
            chunk = [e for e in rows_to_events(window, self._catalog) if matches(e, flt)]
            for start in range(0, len(chunk), chunk_size):
                yield chunk[start : start + chunk_size]
            await asyncio.sleep(0)

    async def last_event(self, flt: EventFilter) -> Event | None:
        """The newest event (highest position) matching ``flt``; None when none does."""
        end = len(self._rows) if flt.until_position is None else min(flt.until_position, len(self._rows))
        for position in range(end, flt.after_position, -1):
            (event,) = rows_to_events([self._rows[position - 1]], self._catalog)
            if matches(event, flt):
                return event
        return None

    async def max_position(self) -> int:
        """The position of the newest event, 0 for an empty log."""
        return len(self._rows)

    async def stream_version(self, stream: str) -> int:
        """The version of the newest event of ``stream``, 0 when it has none."""
        return self._heads.get(stream, 0)

    async def sessions(self) -> list[SessionInfo]:
        """Every session, oldest first, with per-stream counts."""
        names = self._catalog.stream_names
        out = []
        for info in self._sessions.values():
            seq = self._catalog.session_ids[info.id]
            streams = {
                names[stream]: StreamStats(*values)
                for (session, stream), values in sorted(self._stats.items(), key=lambda kv: names[kv[0][1]])
                if session == seq
            }
            out.append(replace(info, streams=streams))
        return out

    def _hash(self, previous: bytes, batch: Batch) -> bytes:
        used = batch_numbers(batch)
        started = started_sessions(batch.columns.kind, batch.columns.session, used, self._catalog)
        headers = [self._header(number) for number in started]
        return batch_hash(previous, batch.columns, context_for(used, self._catalog, headers))

    def _header(self, number: int) -> tuple[object, ...]:
        return (number, *header_values(self._sessions[self._catalog.session_names[number]]))

    async def verify(self, key: bytes | None, expect_head: str | None) -> VerifyReport:
        """Recompute the chain over the held rows (they cannot be tampered with here).

        Batches in memory carry no MAC, so a ``key`` fails at the first batch, as for
        a log written without the key.
        """
        head, position, heads = GENESIS, 0, set()
        for seq, (first, last, stored) in enumerate(self._hashes, start=1):
            head = self._hash(head, Batch(StoredColumns.of_rows(self._rows[first - 1 : last]), None, 0))
            if head != stored:
                return VerifyReport(False, position, seq - 1, head.hex(), first, "hash mismatch", position=position)
            if key is not None:
                problem = f"batch {seq} (positions {first}..{last}) carries no MAC: not written with the key"
                return VerifyReport(False, position, seq - 1, head.hex(), first, problem, position=position)
            position = last
            heads.add(head.hex())
        if expect_head is not None and expect_head.strip().lower() not in heads:
            problem = f"the log does not contain head {expect_head[:16]}...: it was truncated or rewritten since then"
            return VerifyReport(False, position, len(self._hashes), head.hex(), None, problem, position=position)
        return VerifyReport(True, len(self._rows), len(self._hashes), head.hex(), position=position)

    async def insert_session(self, info: SessionInfo, started: Columns) -> None:
        """The session's row, then its SessionStarted event; the row is dropped if the append fails."""
        if info.id in self._sessions:
            raise SessionError(f"session {info.id} already exists")
        self._sessions[info.id] = info
        self._catalog.add_session(len(self._sessions), info.id)
        try:
            await self.append(started, None)
        except BaseException:
            del self._sessions[info.id]
            self._catalog.forget_session(info.id)
            raise

    async def change_session(
        self, session_id: str, event: Columns, status: SessionStatus, ended_ns: int | None, reason: str
    ) -> None:
        """The lifecycle event, then the row's new state (nothing can fail in between)."""
        await self.append(event, None)
        info = self._sessions[session_id]
        self._sessions[session_id] = replace(info, ended_ns=ended_ns, status=status, end_reason=reason)

    async def abandoned_sessions(self) -> list[tuple[str, int]]:
        """None: an in-memory log dies with its process."""
        return []
