"""Random appends and reads of a columnar log, with the memory backend as the model.

Hypothesis draws batches over a few streams and two sessions (sizes from one event
to several hundred, ids repeated within a batch and across batches, causations),
appended one by one or atomically, then filters of every kind and chunk sizes;
the columnar log must return exactly what the memory store returns, and end with
the same verified head.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtuoso.events import Event, Note, Trade
from virtuoso.store import EventFilter, EventStore, MemoryEventStore, open_sqlite_store

STREAMS = ("v:BTC/USDT:trades", "v:ETH/USDT:trades", "v:notes")
SESSIONS = ("s-one", "s-two")

batch_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300),  # events
        st.integers(min_value=0, max_value=2**16),  # seed of stream, type and id choices
        st.booleans(),  # atomic, in two chunks
    ),
    min_size=1,
    max_size=8,
)

filters = st.builds(
    EventFilter,
    session=st.none() | st.sampled_from(SESSIONS),
    streams=st.none() | st.lists(st.sampled_from(STREAMS), min_size=1, max_size=2, unique=True).map(tuple),
    types=st.none() | st.sampled_from([("Trade",), ("Note",), ("Trade", "SessionStarted")]),
    start_ns=st.none() | st.integers(min_value=0, max_value=3_000),
    end_ns=st.none() | st.integers(min_value=0, max_value=3_000),
    after_position=st.integers(min_value=0, max_value=1_500),
    until_position=st.none() | st.integers(min_value=0, max_value=1_500),
)


def _batch(number: int, size: int, seed: int) -> list[Event]:
    events = []
    for n in range(size):
        mix = (seed * 31 + n * 17) % 97
        stream = STREAMS[mix % 3]
        event_id = f"id-{(seed + n) % 400}" if mix % 5 == 0 else f"b{number}-{n}"  # some ids come back
        payload = Note(f"n{n}") if stream == STREAMS[2] else Trade(100.0 + mix, 0.5, "buy", str(n))
        ts = (number * 300 + n * (1 + mix % 3)) % 3_000
        causation = n if mix % 11 == 0 and n else None
        events.append(Event(event_id, stream, ts, ts + mix, SESSIONS[(seed + n // 50) % 2], payload, causation))
    return events


async def _fill(store: EventStore, specs: list[tuple[int, int, bool]]) -> None:
    for session in SESSIONS:
        await store.begin_session(session, "hypothesis", started_ns=1, session_id=session)
    for number, (size, seed, atomic) in enumerate(specs):
        batch = _batch(number, size, seed)
        if atomic:
            await store.append_atomic([batch[: size // 2], batch[size // 2 :]])
        else:
            await store.append(batch)


async def _compare(specs: list[tuple[int, int, bool]], reads: list[tuple[EventFilter, int]], folder: Path) -> None:
    memory = MemoryEventStore()
    columnar = await open_sqlite_store(folder / "c.sqlite", layout="columnar")
    try:
        for store in (memory, columnar):
            await _fill(store, specs)
        for flt, size in reads:
            expected = [chunk async for chunk in memory.read_chunks(flt, chunk_size=size)]
            got = [chunk async for chunk in columnar.read_chunks(flt, chunk_size=size)]
            assert [e for c in got for e in c] == [e for c in expected for e in c], flt
            assert all(0 < len(c) <= size for c in got)
            assert await columnar.last_event(flt) == await memory.last_event(flt), flt
        assert await columnar.max_position() == await memory.max_position()
        for stream in STREAMS:
            assert await columnar.stream_version(stream) == await memory.stream_version(stream)
        assert await columnar.sessions() == await memory.sessions()
        model, report = await memory.verify(), await columnar.verify()
        assert report.ok, report.problem
        assert (report.head, report.events, report.batches) == (model.head, model.events, model.batches)
    finally:
        await memory.close()
        await columnar.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=batch_specs, reads=st.lists(st.tuples(filters, st.integers(min_value=1, max_value=400)), max_size=6))
def test_columnar_reads_match_the_memory_store(
    specs: list[tuple[int, int, bool]], reads: list[tuple[EventFilter, int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_compare(specs, reads, Path(folder)))
