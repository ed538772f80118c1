"""The store's port: one EventStore over a narrow backend, named stored columns, no pandas in the store."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest

from virtuoso.events import Event, Trade
from virtuoso.store import EventStore, MemoryBackend, MemoryEventStore, SQLiteBackend, SQLiteEventStore, StorageBackend
from virtuoso.store._chain import GENESIS, batch_hash
from virtuoso.store._rows import Catalog, Columns, Field, StoredColumns, build_batch
from virtuoso.store._schema import MIGRATIONS

PUBLIC_API = {
    "append",
    "append_atomic",
    "begin_session",
    "checkpoint",
    "close",
    "end_session",
    "last_event",
    "max_position",
    "read",
    "read_chunks",
    "read_columns",
    "recovered",
    "resume_session",
    "fail_session",
    "session",
    "sessions",
    "stream_version",
    "verify",
    "writer",
}
"""What callers across the package and its tests use; a change here is a change of the public API."""


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _protocol_members() -> set[str]:
    return {name for name in vars(StorageBackend) if not name.startswith("_")}


def test_the_event_store_keeps_its_public_api_and_no_frames() -> None:
    store = MemoryEventStore()
    assert _public(EventStore) | {"recovered"} == PUBLIC_API
    assert _public(type(store)) | {"recovered"} == PUBLIC_API
    assert _public(SQLiteEventStore) == PUBLIC_API - {"recovered"} | {"head", "layout", "path", "wait_sealed"}


@pytest.mark.parametrize("backend", [MemoryBackend, SQLiteBackend])
def test_each_backend_implements_every_operation_of_the_port(backend: type) -> None:
    members = _protocol_members()
    assert members <= _public(backend), members - _public(backend)
    assert len(members) <= 15, "the port is meant to stay narrow"


def test_an_event_store_runs_on_a_backend_it_is_given() -> None:
    async def scenario() -> list[str]:
        store = EventStore(MemoryBackend())
        session = await store.begin_session("port", "tests", started_ns=1, session_id="s-port")
        await store.append([Event("t1", "x:BTC/USDT:trades", 2, 3, session.id, Trade(1.0, 1.0, "buy", "1"))])
        await store.end_session(session.id, ended_ns=4)
        assert (await store.verify()).ok
        return [event.type async for event in store.read()]

    assert asyncio.run(scenario()) == ["SessionStarted", "Trade", "SessionEnded"]


def _events_table_columns() -> list[str]:
    with closing(sqlite3.connect(":memory:")) as db:
        for statement in MIGRATIONS[1]:
            db.execute(statement)
        return [row[1] for row in db.execute("PRAGMA table_info(events)")]


def test_named_columns_follow_the_events_table() -> None:
    names = _events_table_columns()
    assert list(StoredColumns._fields) == names
    assert [getattr(Field, name.upper()) for name in names] == list(range(len(names)))


@pytest.fixture
def batch_columns() -> StoredColumns:
    catalog = Catalog()
    catalog.add_stream(1, "x:BTC/USDT:trades")
    catalog.add_session(1, "s")
    catalog.add_kind(1, "Trade", Trade.SCHEMA)
    events = [Event(f"t{n}", "x:BTC/USDT:trades", n, n + 1, "s", Trade(1.0 + n, 1.0, "sell", str(n))) for n in range(3)]
    return build_batch(Columns.of(events), 7, {}, catalog).columns


def test_a_batch_hashes_as_the_ten_plain_columns_it_names(batch_columns: StoredColumns) -> None:
    plain = [list(column) for column in batch_columns]
    assert batch_hash(GENESIS, batch_columns) == batch_hash(GENESIS, plain)
    assert batch_columns.position == [7, 8, 9]
    assert batch_columns.version == [1, 2, 3]
    assert batch_columns.ts_recv == [1, 2, 3]
    rows = list(zip(*batch_columns, strict=True))
    assert StoredColumns.of_rows(rows) == batch_columns
    assert rows[2][Field.ID] == "t2"


def test_the_store_package_loads_neither_pandas_nor_export() -> None:
    heavy = "('pandas', 'pyarrow', 'virtuoso.export')"
    probe = f"import sys, virtuoso.store; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
