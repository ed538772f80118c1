"""Events checked in bulk enter the log as the same events do one by one: same rows, same chain; bad ones never."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from virtuoso.errors import InvalidEventError
from virtuoso.events import CheckedEvents, Event, EventIdFactory, Trade, TradeColumns, checked_trades
from virtuoso.store import EventStore, MemoryEventStore, open_sqlite_store
from virtuoso.store._batch_codec import encode_batch

STREAM = "binance:BTC/USDT:trades"


def _columns(count: int, seed: int, *, numbered: bool = False) -> TradeColumns:
    rng = np.random.default_rng(seed)
    times = 1_723_161_600_000_000_000 + np.cumsum(rng.integers(0, 5_000_000, count))
    ids = EventIdFactory("s:trades").many(times)
    prices = np.round(60_000 + rng.normal(0, 50, count), 2)
    amounts = rng.integers(1, 100_000, count) / 100_000
    sells = rng.random(count) < 0.5
    if numbered:  # trade ids made from their numbers, which go to the encoder along with them
        return TradeColumns.numbered(ids, times, prices, amounts, sells, numbers=np.arange(count) + 10 * seed)
    return TradeColumns(ids, times, prices, amounts, sells, [str(i) for i in range(count)])


async def _stored(store: EventStore, chunks: Sequence[Sequence[Event]]) -> tuple[list[Event], str]:
    async with store:
        session = await store.begin_session("s", "test", started_ns=1, session_id="s")
        assert session.id == "s"
        await store.append_atomic(chunks)
        await store.append(chunks[0][:1])  # ids already stored: duplicates, nothing written
        report = await store.verify()
        assert report.ok, report
        events = [e async for e in store.read()]
        head = await store.head() if hasattr(store, "head") else (0, 0, "")
    return events, str(head)


async def _read_all(path: Path) -> list[Event]:
    async with await open_sqlite_store(path, readonly=True) as store:
        return [e async for e in store.read()]


@pytest.mark.parametrize("backend", ["memory", "rows", "columnar"])
def test_bulk_checked_trades_are_stored_as_the_same_events_one_by_one(backend: str, tmp_path: Path) -> None:
    bulk = [checked_trades(_columns(1_200, seed), stream=STREAM, session="s") for seed in (1, 2)]
    assert all(isinstance(chunk, CheckedEvents) and chunk.run is not None for chunk in bulk)
    plain = [[Event(e.id, e.stream, e.ts_event, e.ts_recv, e.session, e.payload) for e in chunk] for chunk in bulk]

    def store(name: str) -> EventStore:
        if backend == "memory":
            return MemoryEventStore()
        return asyncio.run(open_sqlite_store(tmp_path / f"{name}.sqlite", layout=backend))  # type: ignore[arg-type]

    assert asyncio.run(_stored(store("bulk"), bulk)) == asyncio.run(_stored(store("plain"), plain))  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [3, 4])
def test_a_columnar_log_stores_the_same_blob_bytes_from_bulk_columns_as_from_events(seed: int, tmp_path: Path) -> None:
    # The bulk constructor hands its columns over (EventRun.fields): the codec must not make other bytes of them.
    made = [_columns(700 + 300 * n, seed + 10 * n, numbered=n == 1) for n in range(3)]
    bulk = [checked_trades(columns, stream=STREAM, session="s") for columns in made]
    assert all(isinstance(chunk, CheckedEvents) and chunk.run and chunk.run.fields for chunk in bulk)
    plain = [[Event(e.id, e.stream, e.ts_event, e.ts_recv, e.session, e.payload) for e in chunk] for chunk in bulk]
    blobs = []
    for name, chunks in (("bulk", bulk), ("plain", plain)):
        asyncio.run(_stored(asyncio.run(open_sqlite_store(tmp_path / f"{name}.sqlite")), chunks))
        with closing(sqlite3.connect(tmp_path / f"{name}.sqlite")) as db:
            blobs.append(db.execute("SELECT stream, first_position, count, data FROM blobs ORDER BY seq").fetchall())
    assert len(blobs[0]) == 4  # the session's start, then one blob a chunk
    assert blobs[0] == blobs[1]
    # Both are the codec's reference bytes: every field gathered from the stored events themselves.
    stored = {e.position: e for e in asyncio.run(_read_all(tmp_path / "plain.sqlite"))}
    for _, first, count, data in blobs[0]:
        assert data == encode_batch([stored[p] for p in range(first, first + count)])


def test_a_bad_value_in_a_plain_batch_is_refused_naming_the_event() -> None:
    good = [Event(f"e{i}", STREAM, 5, 5, "s", Trade(1.0, 1.0, "buy", str(i))) for i in range(3)]
    bad = Event("e9", STREAM, 5, 5, "s", Trade(1.0, float("inf"), "buy", "9"))

    async def scenario() -> int:
        async with MemoryEventStore() as store:
            await store.begin_session("s", "test", started_ns=1, session_id="s")
            with pytest.raises(InvalidEventError, match=r"amount inf is not a finite number > 0.*event 3 of the batch"):
                await store.append_atomic([good[:1], [*good[1:], bad]])
            return await store.max_position()

    assert asyncio.run(scenario()) == 1  # the SessionStarted event only: nothing of the refused transaction


def test_a_writer_checks_the_next_batch_while_one_commits_and_reports_a_bad_one_in_order(tmp_path: Path) -> None:
    events = [Event(f"e{i:02d}", STREAM, 5, 5, "s", Trade(1.0, 1.0, "buy", str(i))) for i in range(35)]
    events[25] = Event("e25", STREAM, 5, 5, "s", Trade(-1.0, 1.0, "buy", "25"))

    async def scenario() -> tuple[int, list[str], str, list[str]]:
        store = await open_sqlite_store(tmp_path / "w.sqlite")
        async with store:
            await store.begin_session("s", "test", started_ns=1, session_id="s")
            writer = store.writer(max_events=10, max_delay_s=60)
            error = ""
            try:
                await writer.write_many(events)
                await writer.close()
            except InvalidEventError as exc:
                error = str(exc)
                await writer.close()
            stored = [e.id async for e in store.read() if e.stream == STREAM]
            return writer.written, [e.id for e in writer.failed], error, stored

    written, failed, error, stored = asyncio.run(scenario())
    assert "price -1.0 is not a finite number > 0" in error
    assert "event 6 of the batch, id e25" in error
    assert failed == [f"e{i}" for i in range(20, 30)]
    assert written == 25
    assert stored == [f"e{i:02d}" for i in (*range(20), *range(30, 35))]
