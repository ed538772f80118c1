"""Paged reads of the row layout must never make SQLite sort: every chunk would then cost the whole filter."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import pytest_asyncio

from virtuoso.events import Event, Note, Trade
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.store._pages import build_query

A, B = "binance:BTC/USDT:trades", "binance:ETH/USDT:trades"


@pytest_asyncio.fixture
async def log(tmp_path: Path) -> Path:
    path = tmp_path / "pages.sqlite"
    store = await open_sqlite_store(path, layout="rows")  # the paged queries are the events table's
    try:
        await store.begin_session("pages", "tests", started_ns=1, session_id="s")
        events = [
            Event(f"{stream}/{n}", stream, n, n, "s", Trade(1.0, 1.0, "buy", str(n)) if n % 3 else Note("n"))
            for n in range(1, 301)
            for stream in (A, B)
        ]
        await store.append(events)
    finally:
        await store.close()
    return path


FILTERS = {
    "everything": EventFilter(),
    "one stream": EventFilter(streams=(A,)),
    "one stream from a position": EventFilter(streams=(A,), after_position=200),
    "two streams": EventFilter(streams=(A, B)),
    "session and types": EventFilter(session="s", types=("Trade",)),
    "time range": EventFilter(start_ns=10, end_ns=20, until_position=500),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", FILTERS)
async def test_no_chunk_query_sorts(log: Path, name: str) -> None:
    store = await open_sqlite_store(log, readonly=True)
    try:
        await store.read_chunks().__anext__()  # loads the catalog
        query = build_query(FILTERS[name], store._catalog)
    finally:
        await store.close()
    assert query is not None
    with closing(sqlite3.connect(log)) as db:
        plan = db.execute(f"EXPLAIN QUERY PLAN {query.sql}", (query.start, *query.params, 100)).fetchall()
    assert not any("TEMP B-TREE" in row[-1] for row in plan), plan


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk_size", [1, 7, 100, 1000])
async def test_single_stream_pages_join_up_in_position_order(log: Path, chunk_size: int) -> None:
    store = await open_sqlite_store(log, readonly=True)
    try:
        flt = EventFilter(streams=(A,), after_position=100)
        chunks = [chunk async for chunk in store.read_chunks(flt, chunk_size=chunk_size)]
        everything = [e async for e in store.read(EventFilter())]
    finally:
        await store.close()
    got = [e.position for chunk in chunks for e in chunk]
    assert got == [e.position for e in everything if e.stream == A and e.position > 100]
    assert all(len(chunk) <= chunk_size for chunk in chunks)
