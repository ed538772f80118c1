"""The data the store benchmarks share: trade events, a log our store wrote, and the floor's rows.

The **floor** of the store cases is what SQLite does with the least a log needs:
a minimal table ``(seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, payload BLOB)``
holding the same JSON payloads our store wrote (read back from a log our store
recorded from the same events), appended with one ``executemany`` and read back
with one ``SELECT`` plus a ``msgspec`` decode per payload. Nothing of our layout
(ids, streams, versions, sessions, indexes, the hash chain) is in it: whatever the
store's format becomes, the floor stays put.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from benchmarks.harness import Scale
from virtuoso.events import Event, EventIdFactory, Side, Trade, stream_name
from virtuoso.store import READ_CHUNK, SQLiteEventStore, open_sqlite_store

Layout = Literal["rows", "columnar"]

SESSION_ID = "bench0000session"
STREAM = stream_name("binance", "BTC/USDT", "trades")
START_NS = 1_723_161_255_000_000_000
CHUNK = READ_CHUNK
"""Rows per fetch for the raw reads, the store's default ``chunk_size``."""

Row = tuple[Any, ...]

MINIMAL_TABLE = "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, payload BLOB)"
"""The floor's table: a position, a time, a type name and the payload, nothing else."""
MINIMAL_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?)"


@dataclass(frozen=True)
class TradeWorkload:
    """What the store cases share: the scale, the trade events, and a log our store recorded from them."""

    scale: Scale
    events: list[Event]
    log: Path


def trade_events(count: int) -> list[Event]:
    """``count`` small trades of one session on one stream, 1 ms apart, deterministic."""
    ids = EventIdFactory(SESSION_ID)
    events = []
    for i in range(count):
        ts = START_NS + i * 1_000_000
        side: Side = "buy" if i % 2 else "sell"
        trade = Trade(58_000.0 + (i % 1000) * 0.01, 0.001 * (1 + i % 50), side, str(3_735_683_259 + i))
        events.append(Event(ids(ts), STREAM, ts, ts + 250_000, SESSION_ID, trade))
    return events


async def fresh_store(path: Path, layout: Layout | None = None) -> SQLiteEventStore:
    """A new event log at ``path`` (in ``layout``, by default the store's) with the benchmark session begun."""
    store = await open_sqlite_store(path, layout=layout)
    try:
        await store.begin_session("bench", "benchmarks", started_ns=START_NS - 1, session_id=SESSION_ID)
    except BaseException:
        await store.close()
        raise
    return store


async def write_log(
    path: Path, events: list[Event], layout: Layout | None = None, *, commit_events: int = 5_000
) -> None:
    """Record ``events`` into a new log at ``path`` through the buffered writer, and end the session.

    The writer commits every ``commit_events`` events (a live recording commits
    fewer: a columnar log seals a session's runs of commits of fewer than 5,000
    events into segments when it ends). The write-ahead log is then folded into
    the main file (the log stays in WAL mode), so that copying the one file
    copies the whole log.
    """
    store = await fresh_store(path, layout)
    try:
        async with store.writer(max_events=commit_events) as writer:
            await writer.write_many(events)
        await store.end_session(SESSION_ID, ended_ns=events[-1].ts_event + 1 if events else START_NS)
    finally:
        await store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        ((busy, _, _),) = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    assert busy == 0, "the write-ahead log could not be folded into the log file"


def read_only(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that cannot write ``path`` (our store's reader opens it the same way)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def raw_writer(path: Path, ddl: list[str]) -> sqlite3.Connection:
    """A fresh sqlite3 database at ``path`` configured like our writer (WAL, synchronous=NORMAL)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for statement in ddl:
        db.execute(statement)
    return db


def minimal_rows(path: Path) -> list[Row]:
    """Every event of the log at ``path`` as a floor row ``(seq, ts, type, payload)``, in position order.

    Read through the store, so a log of either layout serves. The payload is the JSON
    our store writes for it, byte for byte; ``type`` is the payload's type name.
    """
    return asyncio.run(_stored_rows(path))


_PAYLOAD_JSON = msgspec.json.Encoder(order="deterministic")
"""The store's payload encoding (compact JSON, keys sorted): the very bytes it hashes and stores."""


async def _stored_rows(path: Path) -> list[Row]:
    store = await open_sqlite_store(path, readonly=True)
    try:
        return [(e.position, e.ts_event, e.type, _PAYLOAD_JSON.encode(e.payload)) async for e in store.read()]
    finally:
        await store.close()


def minimal_log(path: Path, rows: list[Row]) -> Path:
    """A file at ``path`` holding the floor's table with ``rows`` (WAL folded in), for the read floors."""
    with closing(raw_writer(path, [MINIMAL_TABLE])) as db:
        db.execute("BEGIN")
        db.executemany(MINIMAL_INSERT, rows)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path
