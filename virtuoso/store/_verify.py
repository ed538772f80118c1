"""verify(): walk the hash chain and the bookkeeping of a SQLite event log."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from virtuoso.errors import EventError
from virtuoso.events import Event, SessionEnded, SessionResumed, SessionStarted
from virtuoso.store._chain import GENESIS, BatchHasher, Row, batch_mac
from virtuoso.store._manifest import config_hash
from virtuoso.store._models import VerifyReport
from virtuoso.store._rows import Catalog, Field, Numbers, context_for, rows_to_events, started_sessions
from virtuoso.store._sqlite_io import one_snapshot

_CHUNK = 5000
_ROWS = (
    "SELECT position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"
    " FROM events WHERE position BETWEEN ? AND ? ORDER BY position"
)
_HEADERS = "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns FROM sessions"
_SESSIONS = (
    "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns, ended_ns, status,"
    " end_reason FROM sessions ORDER BY seq"
)
_NO_BOUND_BATCH = 2**62


class Broken(Exception):
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


async def verify_log(
    db: aiosqlite.Connection,
    catalog: Catalog,
    reload_catalog: Callable[[], Awaitable[None]],
    *,
    schema: int,
    key: bytes | None = None,
    expect_head: str | None = None,
) -> VerifyReport:
    """Check, in order: SQLite's own integrity, every batch's hash (and MAC, with a
    key) and contiguity, that every payload decodes, the expected head, that the
    session rows agree with their lifecycle events, and that the per-stream and
    per-session counts match the events. Stops at the first problem."""
    async with one_snapshot(db):  # a log written meanwhile: the catalog and the walk must see the same log
        await reload_catalog()
        return await run_checks(Walk(db, catalog, schema, key), expect_head)


async def run_checks(walked: Walk, expect_head: str | None) -> VerifyReport:
    """The checks of :func:`verify_log` in their order on ``walked`` (a layout's walk), up to the first problem."""
    try:
        await walked.sqlite_integrity()
        await walked.batches()
        walked.expected_head(expect_head)
        await walked.sessions()
        await walked.bookkeeping()
    except Broken as broken:
        return walked.report(broken)
    return walked.report(None)


def _catalog_numbers(row: Row) -> tuple[int, int, int]:
    return row[Field.STREAM], row[Field.KIND], row[Field.SESSION]


class Walk:
    def __init__(self, db: aiosqlite.Connection, catalog: Catalog, schema: int, key: bytes | None) -> None:
        self.db = db
        self.catalog = catalog
        self.schema = schema
        self.key = key
        self.events = 0
        self.batch_count = 0
        self.position = 0
        self.head = GENESIS
        self.heads: dict[str, int] = {}
        self.headers: dict[int, Any] = {}

    def report(self, broken: Broken | None) -> VerifyReport:
        if broken is None:
            return VerifyReport(
                True, self.events, self.batch_count, self.head.hex(), position=self.position, keyed=self.key is not None
            )
        return VerifyReport(
            False,
            self.events,
            self.batch_count,
            self.head.hex(),
            broken.position,
            broken.problem,
            position=self.position,
            keyed=self.key is not None,
        )

    async def sqlite_integrity(self) -> None:
        rows = list(await self.db.execute_fetchall("PRAGMA quick_check"))
        if rows != [("ok",)]:
            raise Broken(None, f"SQLite reports damage: {rows[0][0]}")

    async def _first_bound_batch(self) -> int:
        if self.schema < 2:
            return _NO_BOUND_BATCH
        rows = list(await self.db.execute_fetchall("SELECT first_bound_batch FROM chain_meta"))
        if len(rows) != 1:
            raise Broken(None, f"the chain's format record is missing or repeated ({len(rows)} rows in chain_meta)")
        return int(rows[0][0])

    async def batches(self) -> None:
        first_bound = await self._first_bound_batch()
        self.headers = {row[0]: row for row in await self.db.execute_fetchall(_HEADERS)}
        mac = "mac" if self.schema >= 2 else "NULL"
        expected_first = 1
        query = f"SELECT seq, first_position, last_position, hash, {mac} FROM batches ORDER BY seq"
        async with self.db.execute(query) as cur:
            async for seq, first, last, stored, stored_mac in cur:
                if first != expected_first or last < first:
                    raise Broken(
                        expected_first, f"batch {seq} covers {first}..{last}, expected to start at {expected_first}"
                    )
                self.head = await self._check_batch(seq, first, last, stored, bound=seq >= first_bound)
                self._check_mac(seq, first, last, stored_mac)
                self.heads[self.head.hex()] = last
                self.batch_count += 1
                self.position = last
                expected_first = last + 1
        ((extra,),) = await self.db.execute_fetchall(
            "SELECT count(*) FROM events WHERE position >= ?", (expected_first,)
        )
        if extra:
            raise Broken(
                expected_first, f"{extra} event(s) from position {expected_first} on belong to no committed batch"
            )

    def _check_mac(self, seq: int, first: int, last: int, stored: bytes | None) -> None:
        if self.key is None:
            return
        if stored is None:
            raise Broken(first, f"batch {seq} (positions {first}..{last}) carries no MAC: not written with the key")
        if not hmac.compare_digest(stored, batch_mac(self.key, seq, first, last, self.head)):
            raise Broken(first, f"batch {seq} (positions {first}..{last}) fails its MAC: rewritten, or another key")

    async def _check_batch(self, seq: int, first: int, last: int, stored: bytes, *, bound: bool) -> bytes:
        hasher = BatchHasher(self.head)
        used: Numbers = (set(), set(), set())
        started: set[int] = set()
        expected = first
        for start in range(first, last + 1, _CHUNK):
            rows: list[Row] = list(await self.db.execute_fetchall(_ROWS, (start, min(start + _CHUNK - 1, last))))  # type: ignore[arg-type]
            for row in rows:
                if row[Field.POSITION] != expected:
                    raise Broken(expected, f"event {expected} is missing (batch {seq} covers {first}..{last})")
                expected += 1
            self._decode(rows)
            hasher.update_rows(rows)
            if bound and rows:
                started.update(self._meaning(rows, used))
        if expected != last + 1:
            raise Broken(expected, f"event {expected} is missing (batch {seq} covers {first}..{last})")
        digest = hasher.digest(self._context(used, started) if bound else b"")
        if digest != stored:
            raise Broken(first, f"batch {seq} (positions {first}..{last}) does not match its hash: content was changed")
        self.events += last - first + 1
        return digest

    def _meaning(self, rows: list[Row], used: Numbers) -> list[int]:
        kinds = [row[Field.KIND] for row in rows]
        sessions = [row[Field.SESSION] for row in rows]
        chunk: Numbers = ({row[Field.STREAM] for row in rows}, set(kinds), set(sessions))
        for total, part in zip(used, chunk, strict=True):
            total.update(part)
        return started_sessions(kinds, sessions, chunk, self.catalog)

    def _context(self, used: Numbers, started: set[int]) -> bytes:
        missing = sorted(started - self.headers.keys())
        if missing:
            raise Broken(None, f"session number {missing[0]} started in the log has no session row")
        return context_for(used, self.catalog, [self.headers[n] for n in sorted(started)])

    def _decode(self, rows: list[Row]) -> None:
        try:
            rows_to_events(rows, self.catalog)
        except EventError as exc:
            raise Broken(getattr(exc, "position", None), str(exc)) from exc
        except KeyError as exc:
            position = next(row[Field.POSITION] for row in rows if exc.args[0] in _catalog_numbers(row))
            raise Broken(
                position, f"event {position} refers to an unknown stream, kind or session number {exc}"
            ) from exc

    def expected_head(self, expect_head: str | None) -> None:
        if expect_head is None:
            return
        wanted = expect_head.strip().lower()
        if wanted not in self.heads:
            raise Broken(
                None, f"the log does not contain head {wanted[:16]}...: it was truncated or rewritten since then"
            )

    async def sessions(self) -> None:
        """Each session row must agree with its lifecycle events (which the chain covers)."""
        for row in await self.db.execute_fetchall(_SESSIONS):
            await self._check_session(row)

    async def _check_session(self, row: Any) -> None:
        _, sid, name, source, symbols, channels, manifest, stored_hash, started_ns, ended_ns, status, reason = row
        lifecycle = self.catalog.stream_ids.get(f"system:{sid}:lifecycle")
        events = [] if lifecycle is None else await self.stream_events(lifecycle)
        if not events or not isinstance(events[0].payload, SessionStarted):
            raise Broken(None, f"session {sid} has no SessionStarted event in the log")
        started: SessionStarted = events[0].payload
        begun, last = events[0], events[-1]
        declared = json.loads(manifest)
        expected_header = (
            begun.session,
            started.name,
            started.source,
            list(started.symbols),
            list(started.channels),
            started.config_hash,
            begun.ts_event,
        )
        header = (sid, name, source, json.loads(symbols), json.loads(channels), stored_hash, started_ns)
        if header != expected_header or _manifest_hash(declared) != stored_hash:
            raise Broken(begun.position, f"session {sid}'s row differs from its SessionStarted event or manifest")
        if any(e.session != sid for e in events):
            raise Broken(begun.position, f"session {sid}'s lifecycle events name another session")
        if (status, ended_ns, reason) != _lifecycle_state(last):
            raise Broken(
                last.position,
                f"session {sid}'s row (status {status!r}, end time, end reason) contradicts its last lifecycle event",
            )

    async def stream_events(self, stream: int) -> list[Event]:
        """Every event of stream number ``stream``, in version order."""
        rows = await self.db.execute_fetchall(
            "SELECT position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"
            " FROM events WHERE stream = ? ORDER BY version",
            (stream,),
        )
        return rows_to_events(list(rows), self.catalog)  # type: ignore[arg-type]

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
                raise Broken(
                    None, f"stream {name!r} says version {version} but holds {count} event(s) up to version {top}"
                )
        recorded = await self.db.execute_fetchall("SELECT session, stream, events FROM session_streams")
        for session, stream, counted in recorded:
            count = actual.pop((session, stream), (0, 0))[0]
            if counted != count:
                name = self.catalog.stream_names.get(stream, stream)
                raise Broken(None, f"session #{session} stream {name!r} records {counted} event(s) but holds {count}")
        if actual:
            (session, stream), (count, _) = sorted(actual.items())[0]
            raise Broken(None, f"session #{session} stream #{stream} holds {count} event(s) no session records")


def _manifest_hash(manifest: Any) -> str | None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        return None
    declared = manifest.get("config_hash")
    return declared if declared == config_hash(manifest["config"]) else None


def _lifecycle_state(last: Any) -> tuple[str, int | None, str]:
    """(status, ended_ns, end_reason) that a session's row must show after its last lifecycle event."""
    payload = last.payload
    if isinstance(payload, SessionEnded):
        return payload.status, last.ts_event, payload.reason
    if isinstance(payload, SessionResumed | SessionStarted):
        return "open", None, ""
    return "", None, ""
