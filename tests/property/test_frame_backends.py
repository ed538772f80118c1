"""``to_frame`` gives the same frame on the memory store, the row layout and the columnar layout.

Hypothesis draws logs whose text takes every form the batch format stores
differently: ids of 32 hex digits, decimal ids and arbitrary unicode ids; trade ids,
sources and messages that repeat (a dictionary, one value or a few, the empty
string among them), that are all distinct, or that are canonical decimal
integers; sessions and streams with unicode names. Several payload kinds are
mixed: trades (a ``Literal`` side), signals (two ``Literal`` fields), notes (a
JSON block), quotes (an ``int | None``) and gaps (a field named like an envelope
column, read through events). The columnar log is sealed at the end, so its
segments are read too. Every frame is also checked against the events read back,
so the three cannot agree on a wrong value.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from virtuoso.events import Event, Gap, Note, Payload, Quote, Signal, Trade
from virtuoso.export import TypeNames, to_frame
from virtuoso.store import EventFilter, EventStore, MemoryEventStore, open_sqlite_store

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)
"""Any text UTF-8 can hold, empty included."""
NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
KINDS = ("Trade", "Trade", "Signal", "Note", "Quote", "Gap")
STANCES = ("long", "short", "neutral")


@dataclass(frozen=True)
class BatchSpec:
    size: int
    ids: str
    """``hex``, ``decimal`` or ``text``."""
    texts: str
    """``few`` (from the pool), ``many`` (all distinct) or ``ints`` (canonical decimal integers)."""
    pool: tuple[str, ...]
    seed: int
    mixed: bool


batch_specs = st.builds(
    BatchSpec,
    size=st.integers(min_value=1, max_value=120),
    ids=st.sampled_from(["hex", "decimal", "text"]),
    texts=st.sampled_from(["few", "many", "ints"]),
    pool=st.lists(TEXT, min_size=1, max_size=3).map(tuple),
    seed=st.integers(min_value=0, max_value=2**16),
    mixed=st.booleans(),
)


@dataclass(frozen=True)
class LogSpec:
    sessions: tuple[str, ...]
    streams: tuple[str, ...]
    batches: tuple[BatchSpec, ...]


logs = st.builds(
    LogSpec,
    sessions=st.lists(NAMES, min_size=1, max_size=2, unique=True).map(tuple),
    streams=st.lists(NAMES, min_size=1, max_size=3, unique=True).map(tuple),
    batches=st.lists(batch_specs, min_size=1, max_size=4).map(tuple),
)


def _text(spec: BatchSpec, i: int) -> str:
    if spec.texts == "few":
        return spec.pool[i % len(spec.pool)]
    if spec.texts == "ints":
        return str(i * 37 + spec.seed)
    return f"{spec.pool[0]}{i}"


def _event_id(number: int, spec: BatchSpec, i: int) -> str:
    if spec.ids == "hex":
        return f"{(number << 24) + i:032x}"
    if spec.ids == "decimal":
        return str(1_000_000 * (number + 1) + i)
    return f"{spec.pool[-1]}/{number}/{i}"


def _payload(spec: BatchSpec, i: int) -> Payload:
    kind = KINDS[(spec.seed + 7 * i) % len(KINDS)] if spec.mixed else "Trade"
    text = _text(spec, i)
    if kind == "Trade":
        return Trade(1.0 + i % 5 * 0.25, 0.5, "buy" if (i + spec.seed) % 3 else "sell", text or "t")
    if kind == "Signal":
        return Signal(text, STANCES[i % 3], STANCES[(i + spec.seed) % 3], i / 7)
    if kind == "Note":
        return Note(text, "warning" if i % 2 else "info", {text: spec.pool[0]})
    if kind == "Quote":
        return Quote(2.0, 1.0, 2.5, 0.0, None if i % 3 == 0 else i)
    return Gap(text, i, i + 1, spec.pool[0])


def _events(log: LogSpec, number: int, spec: BatchSpec) -> list[Event]:
    events = []
    for i in range(spec.size):
        ts = 1_000_000 * (number + 1) + 3 * i
        events.append(
            Event(
                _event_id(number, spec, i),
                log.streams[(i + spec.seed) % len(log.streams)],
                ts,
                ts + i % 4,
                log.sessions[(number + i // 40) % len(log.sessions)],
                _payload(spec, i),
                causation=i if i % 9 == 4 else None,
            )
        )
    return events


async def _fill(store: EventStore, log: LogSpec) -> None:
    for session in log.sessions:
        await store.begin_session("frames", "hypothesis", started_ns=1, session_id=session)
    for number, spec in enumerate(log.batches):
        await store.append(_events(log, number, spec))
    for session in log.sessions:  # the columnar layout seals a session when it ends
        await store.end_session(session, ended_ns=10**9)


SELECTIONS: list[tuple[TypeNames | None, str | None]] = [
    ("Trade", None),
    (("Trade", "Note"), None),
    (None, None),
    ("Signal", "first"),
    ("Gap", None),
    ("Quote", "first"),
]


def _check_against_events(frame: Any, events: list[Event]) -> None:
    """The frame holds exactly these events' ids, sessions, streams and text fields."""
    assert frame["id"].tolist() == [e.id for e in events]
    assert frame["session"].tolist() == [e.session for e in events]
    assert frame["stream"].tolist() == [e.stream for e in events]
    for name in ("trade_id", "side", "source", "state", "message", "level"):
        if name in frame.columns:
            expected = [getattr(e.payload, name, None) for e in events]
            got = [None if pd.isna(value) else value for value in frame[name].tolist()]  # NaN where absent
            assert got == expected, name


async def _compare(log: LogSpec, chunk_size: int, folder: Path) -> None:
    stores: list[EventStore] = [
        MemoryEventStore(),
        await open_sqlite_store(folder / "rows.sqlite"),
        await open_sqlite_store(folder / "columnar.sqlite", layout="columnar"),
    ]
    try:
        for store in stores:
            await _fill(store, log)
        for types, session in SELECTIONS:
            chosen = log.sessions[0] if session == "first" else None
            frames = [await to_frame(s, types=types, session=chosen, chunk_size=chunk_size) for s in stores]
            for frame in frames[1:]:
                assert_frame_equal(frame, frames[0])
            names = None if types is None else ((types,) if isinstance(types, str) else tuple(types))
            events = [e async for e in stores[0].read(EventFilter(session=chosen, types=names))]  # type: ignore[arg-type]
            _check_against_events(frames[0], events)
    finally:
        for store in stores:
            await store.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs, chunk_size=st.sampled_from([1, 7, 5_000]))
def test_to_frame_is_the_same_frame_on_every_backend(log: LogSpec, chunk_size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_compare(log, chunk_size, Path(folder)))
