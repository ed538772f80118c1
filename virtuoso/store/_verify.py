"""verify(): walk the hash chain and the bookkeeping of a SQLite event log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from virtuoso.errors import EventError
from virtuoso.store._chain import GENESIS, BatchHasher, Row
from virtuoso.store._models import VerifyReport
from virtuoso.store._rows import Catalog, rows_to_events

_CHUNK = 5000
_ROWS = (
    "SELECT position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"
    " FROM events WHERE position BETWEEN ? AND ? ORDER BY position"
)


class _Broken(Exception):
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


async def verify_log(
    db: aiosqlite.Connection, catalog: Catalog, reload_catalog: Callable[[], Awaitable[None]]
) -> VerifyReport:
    """Check, in order: SQLite's own integrity, every batch's hash and contiguity,
    that every payload decodes, and that the per-stream and per-session counts
    match the events. Stops at the first problem."""
    await reload_catalog()
    walked = _Walk(db, catalog)
    try:
        await walked.sqlite_integrity()
        await walked.batches()
        await walked.bookkeeping()
    except _Broken as broken:
        return VerifyReport(
            False, walked.events, walked.batch_count, walked.head.hex(), broken.position, broken.problem
        )
    return VerifyReport(True, walked.events, walked.batch_count, walked.head.hex())


def _catalog_numbers(row: Row) -> tuple[int, int, int]:
    return row[2], row[4], row[7]


class _Walk:
    def __init__(self, db: aiosqlite.Connection, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog
        self.events = 0
        self.batch_count = 0
        self.head = GENESIS

    async def sqlite_integrity(self) -> None:
        rows = list(await self.db.execute_fetchall("PRAGMA quick_check"))
        if rows != [("ok",)]:
            raise _Broken(None, f"SQLite reports damage: {rows[0][0]}")

    async def batches(self) -> None:
        expected_first = 1
        async with self.db.execute("SELECT seq, first_position, last_position, hash FROM batches ORDER BY seq") as cur:
            async for seq, first, last, stored in cur:
                if first != expected_first or last < first:
                    raise _Broken(
                        expected_first, f"batch {seq} covers {first}..{last}, expected to start at {expected_first}"
                    )
                self.head = await self._check_batch(seq, first, last, stored)
                self.batch_count += 1
                expected_first = last + 1
        ((extra,),) = await self.db.execute_fetchall(
            "SELECT count(*) FROM events WHERE position >= ?", (expected_first,)
        )
        if extra:
            raise _Broken(
                expected_first, f"{extra} event(s) from position {expected_first} on belong to no committed batch"
            )

    async def _check_batch(self, seq: int, first: int, last: int, stored: bytes) -> bytes:
        hasher = BatchHasher(self.head)
        expected = first
        for start in range(first, last + 1, _CHUNK):
            rows: list[Row] = list(await self.db.execute_fetchall(_ROWS, (start, min(start + _CHUNK - 1, last))))  # type: ignore[arg-type]
            for row in rows:
                if row[0] != expected:
                    raise _Broken(expected, f"event {expected} is missing (batch {seq} covers {first}..{last})")
                expected += 1
            self._decode(rows)
            hasher.update_rows(rows)
        if expected != last + 1:
            raise _Broken(expected, f"event {expected} is missing (batch {seq} covers {first}..{last})")
        digest = hasher.digest()
        if digest != stored:
            raise _Broken(
                first, f"batch {seq} (positions {first}..{last}) does not match its hash: content was changed"
            )
        self.events += last - first + 1
        return digest

    def _decode(self, rows: list[Row]) -> None:
        try:
            rows_to_events(rows, self.catalog)
        except EventError as exc:
            raise _Broken(getattr(exc, "position", None), str(exc)) from exc
        except KeyError as exc:
            position = next(row[0] for row in rows if exc.args[0] in _catalog_numbers(row))
            raise _Broken(
                position, f"event {position} refers to an unknown stream, kind or session number {exc}"
            ) from exc

    async def bookkeeping(self) -> None:
        actual = {
            (session, stream): (count, top)
            for session, stream, count, top in await self.db.execute_fetchall(
                "SELECT session, stream, count(*), max(version) FROM events GROUP BY session, stream"
            )
        }
        per_stream: dict[int, tuple[int, int]] = {}
        for (_, stream), (count, top) in actual.items():
            total, highest = per_stream.get(stream, (0, 0))
            per_stream[stream] = (total + count, max(highest, top))
        for seq, name, version in await self.db.execute_fetchall("SELECT seq, name, version FROM streams"):
            count, top = per_stream.get(seq, (0, 0))
            if not version == count == top:
                raise _Broken(
                    None, f"stream {name!r} says version {version} but holds {count} event(s) up to version {top}"
                )
        recorded = await self.db.execute_fetchall("SELECT session, stream, events FROM session_streams")
        for session, stream, counted in recorded:
            count = actual.pop((session, stream), (0, 0))[0]
            if counted != count:
                name = self.catalog.stream_names.get(stream, stream)
                raise _Broken(None, f"session #{session} stream {name!r} records {counted} event(s) but holds {count}")
        if actual:
            (session, stream), (count, _) = sorted(actual.items())[0]
            raise _Broken(None, f"session #{session} stream #{stream} holds {count} event(s) no session records")
