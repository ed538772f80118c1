"""``EventStore.read_columns``: the events ``read_chunks`` gives, as columns, on every backend.

The expectations are written out event by event from ``read_chunks`` here, not
with the store's own transposition, so a layout that decodes columns its own way
is held to the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.contract.test_event_store_contract import SID, A, B, note, read_all, trade
from virtuoso.events import BookSnapshot, Event, Gap, Note, Trade
from virtuoso.store import ENVELOPE_COLUMNS, ColumnChunk, EventFilter, EventStore, SessionInfo, payload_key

pytestmark = pytest.mark.asyncio

BOOK = "binance:BTC/USDT:book"


def book(n: int) -> Event:
    ts = 2_070 + 100 * n
    levels = ((60_000.0 - n, 0.5 + n), (59_999.5, 1.25))
    return Event(f"book/{n}", BOOK, ts, ts + 3, SID, BookSnapshot(levels, ((60_001.0, 2.0),), 10 + n))


async def mixed(store: EventStore) -> None:
    """Trades of two streams, notes (a dict field), book snapshots (levels), and a derived event (causation)."""
    await store.begin_session("other", "tests", started_ns=1, session_id="s-other")
    for block in range(4):
        await store.append([trade(n, A) for n in range(10 * block, 10 * block + 5)] + [note(block), book(block)])
        await store.append([trade(n, B, session="s-other") for n in range(10 * block, 10 * block + 3)])
    derived = Event("derived", A, 9_000, 9_001, SID, Trade(1.5, 2.5, "buy", "x-1"), causation=2)
    await store.append([derived])


async def chunks_of(store: EventStore, flt: EventFilter | None, chunk_size: int) -> list[ColumnChunk]:
    return [chunk async for chunk in store.read_columns(flt, chunk_size)]


def value(column: Any, i: int) -> Any:
    if isinstance(column, pa.Array):
        return column[i].as_py()
    if isinstance(column, np.ma.MaskedArray) and column.mask[i]:
        return None
    item = column[i]
    return item.item() if isinstance(item, np.generic) else item


def assert_columns_hold(chunks: list[ColumnChunk], events: list[Event]) -> None:
    """Per type, the chunks' rows are exactly that type's events, in position order, field for field."""
    classes = list(dict.fromkeys(type(e.payload) for e in events))
    assert {chunk.cls for chunk in chunks} == set(classes)
    for cls in classes:
        expected = [e for e in events if type(e.payload) is cls]
        rows = [(chunk, i) for chunk in chunks if chunk.cls is cls for i in range(len(chunk))]
        assert len(rows) == len(expected)
        for (chunk, i), event in zip(rows, expected, strict=True):
            for name in ENVELOPE_COLUMNS:
                assert value(chunk.columns[name], i) == getattr(event, name), (cls, name, event.position)
            for field in cls.__struct_fields__:
                assert value(chunk.columns[payload_key(field)], i) == getattr(event.payload, field), (cls, field)


@pytest.mark.parametrize("chunk_size", [1, 4, 10_000])
async def test_columns_are_the_events_of_read_chunks_by_type(
    store: EventStore, session: SessionInfo, chunk_size: int
) -> None:
    await mixed(store)

    chunks = await chunks_of(store, None, chunk_size)

    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert all(len(c) == len(chunk) for chunk in chunks for c in chunk.columns.values())
    assert_columns_hold(chunks, await read_all(store))
    trades = next(chunk for chunk in chunks if chunk.cls is Trade)
    assert trades.columns["position"].dtype == np.int64
    assert trades.columns["price"].dtype == np.float64
    assert isinstance(trades.columns["causation"], np.ma.MaskedArray)
    for text in ("id", "stream", "session", "side", "trade_id"):  # text is Arrow: a frame's own form
        assert isinstance(trades.columns[text], pa.StringArray), text


@pytest.mark.parametrize(
    "flt",
    [
        EventFilter(session=SID),
        EventFilter(types=("Note", "BookSnapshot")),
        EventFilter(streams=(B,), start_ns=2_200, end_ns=3_300),
        EventFilter(session=SID, types=("Trade",), after_position=12),
    ],
    ids=["session", "types", "stream-and-time", "after-position"],
)
async def test_filters_select_the_same_events_as_read_chunks(
    store: EventStore, session: SessionInfo, flt: EventFilter
) -> None:
    await mixed(store)

    assert_columns_hold(await chunks_of(store, flt, 3), await read_all(store, flt))


async def test_a_field_named_like_an_envelope_column_keeps_both(store: EventStore, session: SessionInfo) -> None:
    await store.append([Event("g", "system:s-main:gaps", 30, 31, SID, Gap(A, 10, 20, "reconnect"))])

    [chunk] = await chunks_of(store, EventFilter(types=("Gap",)), 100)

    assert chunk.columns["stream"].to_pylist() == ["system:s-main:gaps"]
    assert chunk.columns["payload_stream"].to_pylist() == [A]


async def test_an_empty_selection_gives_no_chunk_and_a_reader_may_stop_early(
    store: EventStore, session: SessionInfo
) -> None:
    await mixed(store)
    assert await chunks_of(store, EventFilter(types=("Bar",)), 10) == []

    async for _chunk in store.read_columns(None, 2):
        break
    await store.append([note(99)])  # nothing of the abandoned read is left holding the log

    notes = [c for c in await chunks_of(store, EventFilter(types=("Note",)), 100) if c.cls is Note]
    assert value(notes[-1].columns["message"], len(notes[-1]) - 1) == "note 99"
