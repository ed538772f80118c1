"""verify() of a columnar log: the row layout's walk, fed from the blobs.

Each blob is decoded back into the stored rows the row layout would hold (catalog
numbers from the names in the blob, payloads as :func:`stored_payloads` gives their
hashed bytes), merged in position order and cut at the chain links, so every
commit's hash is checked exactly as in the row layout. On top, per blob: its index
row must say what it holds (stream, positions, versions, time range, count, kinds),
a stream's versions must follow on from blob to blob, and every id must be found
through the id index at its position.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import repeat
from operator import itemgetter
from pathlib import Path

import aiosqlite
import numpy as np

from virtuoso.errors import EventError, StoreError
from virtuoso.events import Event
from virtuoso.store._batch_codec import decode_batch, decode_columns, stored_payloads
from virtuoso.store._chain import BatchHasher, Row
from virtuoso.store._columnar_ids import first_unindexed
from virtuoso.store._columnar_read import POSITION, BlobPlan, BlobRow, merged
from virtuoso.store._models import VerifyReport
from virtuoso.store._rows import Catalog, Field, Numbers
from virtuoso.store._sqlite_io import one_snapshot
from virtuoso.store._verify import Broken, Walk, run_checks

_ALL = BlobPlan(None, 0, None, None, None, None, None, None)
_CHUNK = 5000
_ROW_POSITION = itemgetter(Field.POSITION)


async def verify_blobs(
    db: aiosqlite.Connection,
    path: Path,
    catalog: Catalog,
    reload_catalog: Callable[[], Awaitable[None]],
    *,
    key: bytes | None,
    expect_head: str | None,
    schema: int,
) -> VerifyReport:
    """The checks of the row layout's verify (same order, same report), over the blobs."""
    async with one_snapshot(db):  # a log written meanwhile: the catalog and the walk must see the same log
        await reload_catalog()
        return await run_checks(BlobWalk(db, path, catalog, key, schema), expect_head)


class BlobWalk(Walk):
    """The verify walk of a columnar log."""

    def __init__(self, db: aiosqlite.Connection, path: Path, catalog: Catalog, key: bytes | None, schema: int) -> None:
        super().__init__(db, catalog, schema, key)
        self.path = path
        self.counts: dict[tuple[int, int], int] = {}
        self.versions: dict[int, int] = {}

    async def batches(self) -> None:
        first_bound = await self._first_bound_batch()
        self.headers = {row[0]: row for row in await self.db.execute_fetchall(_HEADERS)}
        rows = _Rows(merged(self.db, self.path, _ALL, decode=self._blob_rows, key=_ROW_POSITION, chunk_size=_CHUNK))
        expected_first = 1
        query = "SELECT seq, first_position, last_position, hash, mac FROM batches ORDER BY seq"
        async with self.db.execute(query) as cur:
            async for seq, first, last, stored, stored_mac in cur:
                if first != expected_first or last < first:
                    raise Broken(
                        expected_first, f"batch {seq} covers {first}..{last}, expected to start at {expected_first}"
                    )
                self.head = await self._check_link(rows, seq, first, last, stored, bound=seq >= first_bound)
                self._check_mac(seq, first, last, stored_mac)
                self.heads[self.head.hex()] = last
                self.batch_count += 1
                self.position = last
                expected_first = last + 1
        extra = await rows.take(2**63 - 1)
        if extra:
            position = extra[0][Field.POSITION]
            raise Broken(position, f"{len(extra)} event(s) from position {position} on belong to no committed batch")
        await self._check_id_count()

    async def _check_link(self, rows: _Rows, seq: int, first: int, last: int, stored: bytes, *, bound: bool) -> bytes:
        hasher = BatchHasher(self.head)
        used: Numbers = (set(), set(), set())
        started: set[int] = set()
        expected = first
        while expected <= last:
            chunk = await rows.take(min(last, expected + _CHUNK - 1))
            for row in chunk:
                position = row[Field.POSITION]
                if position != expected:
                    what = "is missing" if position > expected else "is stored twice"
                    raise Broken(min(position, expected), f"event {min(position, expected)} {what} (batch {seq})")
                expected += 1
            if not chunk:
                raise Broken(expected, f"event {expected} is missing (batch {seq} covers {first}..{last})")
            hasher.update_rows(chunk)
            if bound:
                started.update(self._meaning(chunk, used))
        digest = hasher.digest(self._context(used, started) if bound else b"")
        if digest != stored:
            raise Broken(first, f"batch {seq} (positions {first}..{last}) does not match its hash: content was changed")
        self.events += last - first + 1
        return digest

    async def _blob_rows(self, blob: BlobRow) -> list[Row]:
        """The stored rows a blob holds, after checking it against its index row and the id index."""
        events, payloads, types = self._open(blob)
        stream = self._stream_number(blob, events)
        positions = np.fromiter(map(POSITION, events), np.int64, len(events))
        versions = [e.version for e in events]
        times = [e.ts_event for e in events]
        summary = (
            stream,
            int(positions[0]),
            int(positions[-1]),
            versions[0],
            versions[-1],
            min(times),
            max(times),
            len(events),
        )
        index = (blob.stream, blob.first_position, blob.last_position, *await self._index_columns(blob))
        if summary != index or (len(positions) > 1 and not bool(np.all(np.diff(positions) > 0))):
            raise Broken(
                blob.first_position,
                f"the blob of positions {blob.first_position}..{blob.last_position} disagrees with its index row",
            )
        self._check_versions(blob, stream, versions)
        kinds = self._kind_numbers(blob, types, events)
        sessions = self._session_numbers(events)
        ids = [e.id for e in events]
        missing = await first_unindexed(self.db, ids, positions.tolist(), self.schema)
        if missing is not None:
            raise Broken(missing, f"the id index does not lead to event {missing}")
        for session in set(sessions):
            self.counts[(session, stream)] = self.counts.get((session, stream), 0) + sessions.count(session)
        return list(
            zip(
                positions.tolist(),
                ids,
                repeat(stream),
                versions,
                kinds,
                times,
                [e.ts_recv for e in events],
                sessions,
                [e.causation for e in events],
                payloads,
                strict=False,
            )
        )

    def _open(self, blob: BlobRow) -> tuple[list[Event], list[bytes], list[str]]:
        try:
            events = decode_batch(blob.data, self.catalog.registry)
            payloads = stored_payloads(blob.data, self.catalog.registry)
            types: list[str] = decode_columns(blob.data, ["type"])["type"].tolist()
        except (EventError, StoreError) as exc:
            raise Broken(
                blob.first_position,
                f"the blob of positions {blob.first_position}..{blob.last_position} does not decode: {exc}",
            ) from exc
        return events, payloads, types

    async def _index_columns(self, blob: BlobRow) -> tuple[int, ...]:
        ((values),) = await self.db.execute_fetchall(
            "SELECT first_version, last_version, min_ts_event, max_ts_event, count FROM blobs WHERE seq = ?",
            (blob.seq,),
        )
        return tuple(int(v) for v in values)

    def _stream_number(self, blob: BlobRow, events: list[Event]) -> int:
        number = self.catalog.stream_ids.get(events[0].stream)
        if number is None:
            raise Broken(
                blob.first_position,
                f"event {blob.first_position} names stream {events[0].stream!r}, which the log's catalog does not hold",
            )
        return number

    def _check_versions(self, blob: BlobRow, stream: int, versions: list[int]) -> None:
        start = self.versions.get(stream, 0) + 1
        if versions != list(range(start, start + len(versions))):
            raise Broken(
                blob.first_position,
                f"the versions of the blob of positions {blob.first_position}.."
                f"{blob.last_position} do not follow on from {start - 1}",
            )
        self.versions[stream] = versions[-1]

    def _kind_numbers(self, blob: BlobRow, types: list[str], events: list[Event]) -> list[int]:
        try:
            by_name = {self.catalog.kind_names[k][0]: k for k in blob.kind_numbers()}
        except KeyError as exc:
            raise Broken(
                blob.first_position,
                f"the blob of positions {blob.first_position}.. refers to an unknown kind number {exc}",
            ) from exc
        if len(by_name) == 1 and len(set(types)) == 1 and types[0] in by_name:
            return [by_name[types[0]]] * len(types)
        for event, name in zip(events, types, strict=True):
            if name not in by_name:
                raise Broken(event.position, f"event {event.position} is of unknown type {name!r} in the catalog")
        return [by_name[name] for name in types]

    def _session_numbers(self, events: list[Event]) -> list[int]:
        ids = self.catalog.session_ids
        for event in events:
            if event.session not in ids:
                raise Broken(event.position, f"event {event.position} refers to an unknown session {event.session!r}")
        return [ids[e.session] for e in events]

    async def _check_id_count(self) -> None:
        ((indexed,),) = await self.db.execute_fetchall("SELECT count(*) FROM ids")
        if indexed != self.events:
            raise Broken(None, f"the id index holds {indexed} entries for {self.events} events")

    async def stream_events(self, stream: int) -> list[Event]:
        events: list[Event] = []
        async with self.db.execute("SELECT data FROM blobs WHERE stream = ? ORDER BY first_position", (stream,)) as cur:
            async for (data,) in cur:
                events.extend(decode_batch(data, self.catalog.registry))
        return events

    async def bookkeeping(self) -> None:
        for seq, name, version in await self.db.execute_fetchall("SELECT seq, name, version FROM streams"):
            count = sum(n for (_, stream), n in self.counts.items() if stream == seq)
            top = self.versions.get(seq, 0)
            if not version == count == top:
                raise Broken(
                    None, f"stream {name!r} says version {version} but holds {count} event(s) up to version {top}"
                )
        actual = dict(self.counts)
        for session, stream, counted in await self.db.execute_fetchall(
            "SELECT session, stream, events FROM session_streams"
        ):
            count = actual.pop((session, stream), 0)
            if counted != count:
                name = self.catalog.stream_names.get(stream, stream)
                raise Broken(None, f"session #{session} stream {name!r} records {counted} event(s) but holds {count}")
        if actual:
            (session, stream), count = sorted(actual.items())[0]
            raise Broken(None, f"session #{session} stream #{stream} holds {count} event(s) no session records")


_HEADERS = "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns FROM sessions"


class _Rows:
    """The merged rows of every blob, taken up to a position at a time."""

    def __init__(self, chunks: AsyncIterator[list[Row]]) -> None:
        self._chunks = chunks
        self._held: list[Row] = []
        self._done = False

    async def take(self, until: int) -> list[Row]:
        """The next rows at or before position ``until``."""
        while not self._done and (not self._held or self._held[-1][Field.POSITION] <= until):
            try:
                self._held.extend(await self._chunks.__anext__())
            except StopAsyncIteration:
                self._done = True
        cut = bisect_right(self._held, until, key=_ROW_POSITION)
        taken, self._held = self._held[:cut], self._held[cut:]
        return taken
