"""Reads of the columnar layout: blobs decoded one at a time, streams merged in position order.

Every position lies in exactly one blob, and a stream's blobs never overlap. So,
walking the blobs by their first position, once the blob starting at position P
has been decoded, every event at or before P is in a decoded blob: those events are
sorted (C-level, on runs that are already sorted) and handed out; the rest wait in
their blob for the next step. A read that starts mid-log first takes, per stream,
the blob holding its start. Blobs whose stream, time range or kinds cannot match are
skipped in SQL, before anything is decoded.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite
import numpy as np

from virtuoso.errors import CorruptDatabaseError
from virtuoso.events import Event, TypeRegistry
from virtuoso.store._batch_codec import ColumnReader, decode_batch
from virtuoso.store._models import EventFilter
from virtuoso.store._rows import Catalog
from virtuoso.store._sqlite_io import translated

T = TypeVar("T")

POSITION = attrgetter("position")
_META_PAGE = 256
_BLOB_COLUMNS = "seq, stream, first_position, last_position, min_ts_event, max_ts_event, kinds, data"


@dataclass(frozen=True, slots=True)
class BlobRow:
    """One row of the blobs table: the index columns a read looks at, and the blob."""

    seq: int
    stream: int
    first_position: int
    last_position: int
    min_ts_event: int
    max_ts_event: int
    kinds: str
    data: bytes

    def kind_numbers(self) -> list[int]:
        """The catalog numbers of the kinds the blob holds."""
        return [int(k) for k in self.kinds.split(",") if k]


@dataclass(frozen=True, slots=True)
class BlobPlan:
    """What a read wants from the blobs: a filter with names turned into catalog numbers."""

    streams: list[int] | None
    after: int
    until: int | None
    start_ns: int | None
    end_ns: int | None
    session: str | None
    types: frozenset[str] | None
    kinds: list[int] | None

    @classmethod
    def of(cls, flt: EventFilter, catalog: Catalog, session_streams: list[int] | None) -> BlobPlan | None:
        """The plan of ``flt``, or None when nothing can match (an unknown stream, type or session)."""
        streams = (
            None if flt.streams is None else [catalog.stream_ids[s] for s in flt.streams if s in catalog.stream_ids]
        )
        if session_streams is not None:
            streams = session_streams if streams is None else [s for s in streams if s in session_streams]
        types = None if flt.types is None else frozenset(flt.types)
        kinds = None if types is None else [seq for seq, (name, _) in catalog.kind_names.items() if name in types]
        if streams == [] or kinds == [] or (flt.session is not None and flt.session not in catalog.session_ids):
            return None
        return cls(
            None if streams is None else sorted(streams),
            flt.after_position,
            flt.until_position,
            flt.start_ns,
            flt.end_ns,
            flt.session,
            types,
            kinds,
        )

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions on blob rows (and their parameters) that every matching blob meets."""
        conditions: list[str] = []
        params: list[Any] = []
        if self.streams is not None:
            conditions.append(f"stream IN ({','.join(map(str, self.streams))})")
        if self.until is not None:
            conditions.append("first_position <= ?")
            params.append(self.until)
        if self.start_ns is not None:
            conditions.append("max_ts_event >= ?")
            params.append(self.start_ns)
        if self.end_ns is not None:
            conditions.append("min_ts_event < ?")
            params.append(self.end_ns)
        if self.kinds is not None:
            like = " OR ".join(f"',' || kinds || ',' LIKE '%,{k:d},%'" for k in self.kinds)
            conditions.append(f"({like})")
        return conditions, params

    def blob_events(self, row: BlobRow, registry: TypeRegistry) -> list[Event]:
        """The events of one blob that match the plan, in position order."""
        wanted = self._wanted(row)
        reader = ColumnReader(row.data, registry) if wanted else None  # opened once, for the events and the mask
        events = decode_batch(row.data, registry) if reader is None else reader.events()
        lo = bisect_right(events, self.after, key=POSITION)
        hi = len(events) if self.until is None else bisect_right(events, self.until, key=POSITION)
        if reader is not None and lo < hi:
            mask = self._mask(row, reader, wanted, lo, hi)
            if not mask.all():
                return list(compress(events[lo:hi], mask.tolist()))
        return events if hi - lo == len(events) else events[lo:hi]

    def _wanted(self, row: BlobRow) -> list[str]:
        """The columns telling which of the blob's events match by session, type and time (none: all do)."""
        wanted = []
        if self.session is not None:
            wanted.append("session")
        if self.kinds is not None and not set(row.kind_numbers()) <= set(self.kinds):
            wanted.append("type")
        if self._early(row) or self._late(row):
            wanted.append("ts_event")
        return wanted

    def _early(self, row: BlobRow) -> bool:
        return self.start_ns is not None and row.min_ts_event < self.start_ns

    def _late(self, row: BlobRow) -> bool:
        return self.end_ns is not None and row.max_ts_event >= self.end_ns

    def _mask(
        self, row: BlobRow, reader: ColumnReader, wanted: list[str], lo: int, hi: int
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which events of ``[lo, hi)`` match by the ``wanted`` columns."""
        mask = np.ones(hi - lo, dtype=np.bool_)
        if self.session is not None and "session" in wanted:
            mask &= reader.equals("session", self.session)[lo:hi]
        if self.types is not None and "type" in wanted:
            mask &= reader.of_types(self.types)[lo:hi]
        times = reader.envelope("ts_event")[lo:hi] if "ts_event" in wanted else None
        if times is not None and self.start_ns is not None and self._early(row):
            mask &= times >= self.start_ns
        if times is not None and self.end_ns is not None and self._late(row):
            mask &= times < self.end_ns
        return mask


class _Pending(Generic[T]):
    """Decoded items of several blobs, waiting for every earlier position to be known."""

    def __init__(self, key: Callable[[T], int]) -> None:
        self.key = key
        self.runs: list[list[T]] = []

    def add(self, items: list[T]) -> None:
        if items:
            self.runs.append(items)

    def take_until(self, bound: int | None) -> list[T]:
        """Every waiting item at or before ``bound`` (None: all), in position order."""
        if len(self.runs) == 1 and (bound is None or self.key(self.runs[0][-1]) <= bound):
            return self.runs.pop()  # one blob's items, all of them: the list itself, not a copy
        taken: list[T] = []
        kept: list[list[T]] = []
        pieces = 0
        for run in self.runs:
            cut = len(run) if bound is None else bisect_right(run, bound, key=self.key)
            if cut:
                taken.extend(run[:cut])
                pieces += 1
            if cut < len(run):
                kept.append(run[cut:])
        self.runs = kept
        if pieces > 1:
            taken.sort(key=self.key)
        return taken


Decode = Callable[[BlobRow], Awaitable[list[T]]]


async def merged(
    db: aiosqlite.Connection,
    path: Path,
    plan: BlobPlan,
    *,
    decode: Decode[T],
    key: Callable[[T], int],
    chunk_size: int,
) -> AsyncIterator[list[T]]:
    """What ``decode`` makes of the plan's blobs, merged in position order, in lists of at most ``chunk_size``."""
    pending: _Pending[T] = _Pending(key)
    buffer: list[T] = []
    for row in await _spanning(db, path, plan):
        pending.add(await decode(row))
    pages = BlobPages(db, path, plan, chunk_size)
    while True:
        rows, known = await pages.next()
        for row in rows:
            pending.add(await decode(row))
        taken = pending.take_until(known)
        if buffer:
            buffer.extend(taken)
        else:
            buffer = taken
        while len(buffer) >= chunk_size:
            if len(buffer) == chunk_size:  # a blob's worth that is a chunk: handed over as it is
                yield buffer
                buffer = []
                break
            yield buffer[:chunk_size]
            del buffer[:chunk_size]
        if known is None:
            break
    if buffer:
        yield buffer


async def _spanning(db: aiosqlite.Connection, path: Path, plan: BlobPlan) -> list[BlobRow]:
    """Per stream, the blob that starts at or before the read's start and ends after it."""
    if plan.after <= 0:
        return []
    conditions, params = plan.where()
    streams = "" if plan.streams is None else f" WHERE s.seq IN ({','.join(map(str, plan.streams))})"
    sql = (
        f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE seq IN (SELECT (SELECT b.seq FROM blobs b WHERE b.stream = s.seq"
        f" AND b.first_position <= ?1 ORDER BY b.first_position DESC LIMIT 1) FROM streams s{streams})"
        f" AND last_position > ?1 {''.join(' AND ' + c for c in conditions)} ORDER BY first_position"
    )
    with translated(path):
        rows = await db.execute_fetchall(sql.replace("?1", str(int(plan.after))), params)
    return [BlobRow(*row) for row in rows]


class BlobPages:
    """The plan's blobs after its start, by first position, fetched about ``chunk_size`` events' worth at a
    time; their index rows are read a page at a time (one query for many fetches, in the read's snapshot)."""

    def __init__(self, db: aiosqlite.Connection, path: Path, plan: BlobPlan, chunk_size: int) -> None:
        self.db, self.path, self.plan, self.chunk_size = db, path, plan, chunk_size
        self._metas: deque[tuple[int, int, int]] = deque()
        """``(seq, count, first_position)`` of the next matching blobs, not yet fetched."""
        self._after = plan.after
        self._handed = plan.after
        """The first position of the last blob fetched."""
        self._last_page = False

    async def next(self) -> tuple[list[BlobRow], int | None]:
        """The next blobs; and the position up to which every matching event is in the blobs fetched so far
        (None: these were the last).

        That is the position before the next matching blob's first: the blobs of one stream (a stream's
        blobs never overlap) are then handed out whole.
        """
        while True:
            await self._known_next()
            chosen = self._enough()
            if not chosen:
                return [], None
            with translated(self.path):
                marks = ",".join("?" * len(chosen))
                sql = f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE seq IN ({marks}) ORDER BY first_position"
                rows = [BlobRow(*row) for row in await self.db.execute_fetchall(sql, chosen)]
            if len(rows) == len(chosen):
                break
            # Blobs of the page were replaced since it was read (sealing, seen by a query outside a snapshot):
            # the page is read again after the last blob handed out, as every page was before pages were kept.
            self._metas.clear()
            self._last_page = False
            self._after = self._handed
        self._handed = rows[-1].first_position
        await self._known_next()
        return rows, self._metas[0][2] - 1 if self._metas else None

    async def _known_next(self) -> None:
        """Read the next page of index rows when none is left to look at."""
        if self._metas or self._last_page:
            return
        conditions, params = self.plan.where()
        where = " AND ".join(["first_position > ?", *conditions])
        sql = f"SELECT seq, count, first_position FROM blobs WHERE {where} ORDER BY first_position LIMIT {_META_PAGE}"
        with translated(self.path):
            page = [
                (int(seq), int(count), int(first))
                for seq, count, first in await self.db.execute_fetchall(sql, [self._after, *params])
            ]
        self._metas.extend(page)
        self._last_page = len(page) < _META_PAGE
        if page:
            self._after = page[-1][2]

    def _enough(self) -> list[int]:
        """The seqs of the next blobs holding ``chunk_size`` events (at least one blob, when any is left)."""
        chosen: list[int] = []
        total = 0
        while self._metas and total < self.chunk_size:
            seq, count, _ = self._metas.popleft()
            chosen.append(seq)
            total += count
        return chosen


async def newest(db: aiosqlite.Connection, path: Path, plan: BlobPlan, registry: TypeRegistry) -> Event | None:
    """The matching event of highest position: per stream, walking its blobs back from its end."""
    conditions, params = plan.where()
    streams = plan.streams
    if streams is None:
        with translated(path):
            streams = [int(row[0]) for row in await db.execute_fetchall("SELECT seq FROM streams")]
    best: Event | None = None
    for stream in await _by_last_position(db, path, streams):
        stream_number, last = stream
        if best is not None and best.position >= last:
            break
        found = await _newest_of_stream(db, path, plan, stream_number, where=(conditions, params), registry=registry)
        if found is not None and (best is None or found.position > best.position):
            best = found
    return best


async def _by_last_position(db: aiosqlite.Connection, path: Path, streams: list[int]) -> list[tuple[int, int]]:
    """``(stream, its last position)`` of streams holding events, the most recent first."""
    if not streams:
        return []
    sql = (
        "SELECT s.seq, (SELECT b.last_position FROM blobs b WHERE b.stream = s.seq ORDER BY b.first_position DESC"
        f" LIMIT 1) AS last FROM streams s WHERE s.seq IN ({','.join(map(str, streams))}) AND last IS NOT NULL"
        " ORDER BY last DESC"
    )
    with translated(path):
        return [(int(s), int(last)) for s, last in await db.execute_fetchall(sql)]


async def _newest_of_stream(
    db: aiosqlite.Connection,
    path: Path,
    plan: BlobPlan,
    stream: int,
    *,
    where: tuple[list[str], list[Any]],
    registry: TypeRegistry,
) -> Event | None:
    conditions, params = where
    matching = " AND ".join([f"stream = {stream:d}", "last_position > ?", *conditions])
    sql = f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE {matching} ORDER BY first_position DESC"
    with translated(path):
        async with db.execute(sql, [plan.after, *params]) as cursor:
            async for row in cursor:
                events = decode_blob(path, BlobRow(*row), plan.blob_events, registry)
                if events:
                    return events[-1]
    return None


def decode_blob(
    path: Path, row: BlobRow, decode: Callable[[BlobRow, TypeRegistry], list[T]], registry: TypeRegistry
) -> list[T]:
    """``decode(row)``, a damaged blob named by its file and positions."""
    try:
        return decode(row, registry)
    except CorruptDatabaseError as exc:
        raise CorruptDatabaseError(
            f"{path}: {exc} (the blob of positions {row.first_position}..{row.last_position});"
            " run `virtuoso sessions verify`"
        ) from exc
