"""Reads of the columnar layout decode only the blobs a read can use."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, _columnar_columns, _columnar_read, open_sqlite_store

STREAMS = ("x:BTC/USDT:trades", "x:ETH/USDT:trades", "x:SOL/USDT:trades")


def _batch(number: int) -> list[Event]:
    return [
        Event(
            f"b{number}-{n}",
            STREAMS[n % 3],
            number * 100 + n,
            number * 100 + n,
            "s-read",
            Trade(100.0 + n, 0.5, "buy", str(n)),
        )
        for n in range(30)
    ]


@pytest.mark.asyncio
async def test_a_window_decodes_only_the_blobs_it_overlaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        await store.begin_session("read", "tests", started_ns=0, session_id="s-read")
        for number in range(1, 41):  # 40 commits of 30 events over 3 streams: 120 blobs
            await store.append(_batch(number))
        decoded: list[int] = []
        original = _columnar_read.decode_batch

        def counting(blob: bytes, *args: Any) -> list[Event]:
            events = original(blob, *args)
            decoded.append(len(events))
            return events

        class CountingReader(_columnar_read.ColumnReader):  # a blob read with a mask decodes its events here
            def events(self) -> list[Event]:
                events = super().events()
                decoded.append(len(events))
                return events

        monkeypatch.setattr(_columnar_read, "decode_batch", counting)
        monkeypatch.setattr(_columnar_read, "ColumnReader", CountingReader)
        window = [e async for e in store.read(EventFilter(after_position=600, until_position=615))]
        assert [e.position for e in window] == list(range(601, 616))
        assert len(decoded) <= 6  # the commit holding 601..615, a blob per stream, and maybe the next
        decoded.clear()
        one = [e async for e in store.read(EventFilter(streams=(STREAMS[1],), start_ns=2_000, end_ns=2_010))]
        assert [e.ts_event for e in one] == [2_001, 2_004, 2_007]
        assert len(decoded) == 1  # the time range of the other blobs of the stream is outside
        decoded.clear()
        newest = await store.last_event(EventFilter(streams=(STREAMS[0],), end_ns=1_000))
        assert newest is not None
        assert newest.ts_event == 927
        assert len(decoded) == 1
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_columns_come_from_the_blobs_without_an_event_in_position_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        await store.begin_session("read", "tests", started_ns=0, session_id="s-read")
        for number in range(1, 41):
            await store.append(_batch(number))

        def no_events(*args: Any) -> list[Event]:
            raise AssertionError("a column read decoded events")

        monkeypatch.setattr(_columnar_columns, "decode_batch", no_events)
        flt = EventFilter(types=("Trade",), after_position=17, start_ns=300, end_ns=3_900)
        chunks = [c async for c in store.read_columns(flt, 64)]
        positions = [p for c in chunks for p in c.columns["position"].tolist()]
        expected = [e.position async for e in store.read(flt)]
        assert positions == expected  # three streams' blobs merged: one type, in position order
        assert [len(c) for c in chunks[:-1]] == [64] * (len(chunks) - 1)
        assert [p for c in chunks for p in c.columns["price"].tolist()] == [
            e.payload.price
            async for e in store.read(flt)  # type: ignore[attr-defined]
        ]
    finally:
        await store.close()


class _Blobs:
    """The blobs table as BlobPages queries it: index pages by first position, and blobs by seq."""

    def __init__(self, count: int, size: int) -> None:
        self.rows = {seq: (seq, 1, 1 + (seq - 1) * size, seq * size, 0, 0, "1", b"") for seq in range(1, count + 1)}
        self.size = size

    async def execute_fetchall(self, sql: str, params: list[int]) -> list[tuple[Any, ...]]:
        if sql.startswith("SELECT seq, count, first_position"):
            limit = int(sql.rsplit("LIMIT ", 1)[1])
            later = sorted(row for row in self.rows.values() if row[2] > params[0])[:limit]
            return [(row[0], self.size, row[2]) for row in later]
        return [self.rows[seq] for seq in params if seq in self.rows]


@pytest.mark.asyncio
async def test_blob_pages_know_the_next_blob_across_pages_and_read_a_page_again_when_its_blobs_went(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_columnar_read, "_META_PAGE", 4)
    blobs = _Blobs(count=9, size=10)
    plan = _columnar_read.BlobPlan(None, 0, None, None, None, None, None, None)
    pages = _columnar_read.BlobPages(blobs, Path("fake.sqlite"), plan, chunk_size=10)  # type: ignore[arg-type]
    seen = []
    for _ in range(2):
        rows, known = await pages.next()
        seen.append(([row.seq for row in rows], known))
    del blobs.rows[3]  # replaced while its page was kept (a read outside a snapshot)
    while True:
        rows, known = await pages.next()
        seen.append(([row.seq for row in rows], known))
        if known is None:
            break
    assert seen == [([1], 10), ([2], 20), ([4], 40), ([5], 50), ([6], 60), ([7], 70), ([8], 80), ([9], None)]


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk_size", [1, 7, 30, 1_000])
async def test_three_streams_merge_in_position_order_across_index_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    monkeypatch.setattr(_columnar_read, "_META_PAGE", 4)
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        await store.begin_session("read", "tests", started_ns=0, session_id="s-read")
        for number in range(1, 11):  # 30 blobs of 10 events, the streams interleaved
            await store.append(_batch(number))
        chunks = [c async for c in store.read_chunks(EventFilter(after_position=5), chunk_size)]
        assert [e.position for c in chunks for e in c] == list(range(6, 302))
        assert all(len(c) == chunk_size for c in chunks[:-1])
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("columns", [True, False], ids=["read_columns", "read_chunks"])
async def test_a_read_given_up_on_and_the_store_closing_at_the_same_time_both_finish(
    tmp_path: Path, columns: bool
) -> None:
    """Both close the read's own connection: once each, at the same moment, aiosqlite waited forever
    (an export interrupted by its progress callback, then its store closed, hung the test that does so)."""
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    await store.begin_session("read", "tests", started_ns=0, session_id="s-read")
    for number in range(1, 4):
        await store.append(_batch(number))
    reads = store.read_columns(EventFilter(), 10) if columns else store.read_chunks(EventFilter(), 10)
    assert await anext(reads)  # the read holds its snapshot connection now
    await asyncio.wait_for(asyncio.gather(reads.aclose(), store.close()), timeout=30)
