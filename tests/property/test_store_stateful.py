"""Random append/read sequences against both stores, checked against a plain Python model.

The model is what the EventStore contract promises: events in append order, a
version per stream, ids written once, and an append either fully applied or not
at all. Each machine instance drives its store from its own event loop.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from virtuoso.errors import ConcurrencyError, UsageError
from virtuoso.events import Event, Note, Trade
from virtuoso.store import AppendResult, EventFilter, EventStore, MemoryEventStore, lifecycle_stream, open_sqlite_store

T = TypeVar("T")
SESSION = "stateful"
STREAMS = ("venue:BTC/USDT:trades", "venue:ETH/USDT:trades", "venue:notes")
LIFECYCLE = lifecycle_stream(SESSION)
Entry = tuple[str, str, str]
"""What the model keeps of an event: (id, stream, type)."""


class StoreMachine(RuleBasedStateMachine):
    """Appends with and without expected versions, duplicate ids, and reads of every kind."""

    backend: ClassVar[str] = "memory"
    """The store the machine drives: ``memory``, ``sqlite`` (rows) or ``columnar``."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.store: EventStore | None = None
        self.log: list[Entry] = []
        self.versions: dict[str, int] = {}
        self.ids: set[str] = set()
        self.batches = 0
        self.counter = 0
        self.store = self.run(self._open())
        self.run(self.store.begin_session("stateful", "hypothesis", started_ns=0, session_id=SESSION))
        started = self.run(self._read(EventFilter()))
        self._apply([(started[0].id, LIFECYCLE, "SessionStarted")])

    async def _open(self) -> EventStore:
        if self.backend == "memory":
            return MemoryEventStore()
        layout = "rows" if self.backend == "rows" else "columnar"
        return await open_sqlite_store(Path(self.tmp.name) / "x.sqlite", layout=layout)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            if self.store is not None:
                self.run(self.store.close())
        finally:
            self.loop.close()
            self.tmp.cleanup()

    # -- building batches ---------------------------------------------------------

    def _fresh_id(self) -> str:
        self.counter += 1
        return f"e{self.counter:05d}"

    def _event(self, event_id: str, stream: str, kind: str) -> Event:
        self.counter += 1
        ts = 1_000 * self.counter
        payload = Trade(100.0, 1.0, "buy", event_id) if kind == "Trade" else Note(event_id)
        return Event(event_id, stream, ts, ts + 1, SESSION, payload)

    def _draw_batch(self, data: st.DataObject) -> list[Event]:
        sources = ["new", "stored", "repeat"]
        batch: list[Event] = []
        for _ in range(data.draw(st.integers(min_value=1, max_value=5), label="size")):
            source = data.draw(st.sampled_from(sources), label="id source")
            stored = sorted(self.ids - {e.id for e in batch})
            if source == "stored" and stored:
                event_id = data.draw(st.sampled_from(stored), label="stored id")
            elif source == "repeat" and batch:
                event_id = data.draw(st.sampled_from([e.id for e in batch]), label="repeated id")
            else:
                event_id = self._fresh_id()
            stream = data.draw(st.sampled_from(STREAMS), label="stream")
            kind = data.draw(st.sampled_from(["Trade", "Note"]), label="type")
            batch.append(self._event(event_id, stream, kind))
        return batch

    def _draw_expected(self, data: st.DataObject, batch: list[Event]) -> int | dict[str, int]:
        streams = list(dict.fromkeys(e.stream for e in batch))
        guarded = list(streams)
        guarded += data.draw(st.lists(st.sampled_from(STREAMS), max_size=2, unique=True), label="outside")
        expected: dict[str, int] = {}
        for stream in dict.fromkeys(guarded):
            actual = self.versions.get(stream, 0)
            wrong = data.draw(st.booleans(), label=f"wrong {stream}")
            expected[stream] = actual + data.draw(st.sampled_from([1, 2, 5]), label="off by") if wrong else actual
        if data.draw(st.booleans(), label="as int"):
            return expected[streams[0]]
        return expected

    # -- the model ----------------------------------------------------------------

    def _apply(self, entries: list[Entry]) -> None:
        for event_id, stream, _ in entries:
            self.versions[stream] = self.versions.get(stream, 0) + 1
            self.ids.add(event_id)
        self.log.extend(entries)

    def _predict(self, batch: list[Event], expected: int | Mapping[str, int] | None) -> AppendResult | type[Exception]:
        streams = list(dict.fromkeys(e.stream for e in batch))
        if isinstance(expected, int):
            if len(streams) != 1:
                return UsageError
            expected = {streams[0]: expected}
        conflict = any(self.versions.get(s, 0) != v for s, v in (expected or {}).items())
        if conflict:
            return AppendResult(0, len(batch)) if all(e.id in self.ids for e in batch) else ConcurrencyError
        fresh = {e.id: e for e in reversed(batch) if e.id not in self.ids}
        if not fresh:
            return AppendResult(0, len(batch))
        first = len(self.log) + 1
        return AppendResult(len(fresh), len(batch) - len(fresh), first, first + len(fresh) - 1)

    def _check_append(self, batch: list[Event], expected: int | Mapping[str, int] | None) -> None:
        assert self.store is not None
        predicted = self._predict(batch, expected)
        if isinstance(predicted, type):
            try:
                self.run(self.store.append(batch, expected_version=expected))
            except predicted:
                return
            raise AssertionError(f"expected {predicted.__name__}")
        assert self.run(self.store.append(batch, expected_version=expected)) == predicted
        seen = set(self.ids)
        fresh = []
        for event in batch:
            if event.id not in seen:
                seen.add(event.id)
                fresh.append((event.id, event.stream, event.type))
        if fresh:
            self.batches += 1
            self._apply(fresh)

    # -- rules --------------------------------------------------------------------

    @rule(data=st.data())
    def append(self, data: st.DataObject) -> None:
        self._check_append(self._draw_batch(data), None)

    @rule(data=st.data())
    def append_expecting_versions(self, data: st.DataObject) -> None:
        batch = self._draw_batch(data)
        self._check_append(batch, self._draw_expected(data, batch))

    @rule()
    def read_all(self) -> None:
        assert self._as_entries(self.run(self._read(EventFilter()))) == self._expected()

    @rule(stream=st.sampled_from((*STREAMS, LIFECYCLE, "venue:never")))
    def read_stream(self, stream: str) -> None:
        events = self.run(self._read(EventFilter(streams=(stream,))))
        assert self._as_entries(events) == [e for e in self._expected() if e[1] == stream]

    @rule(kind=st.sampled_from(["Trade", "Note", "SessionStarted"]))
    def read_type(self, kind: str) -> None:
        events = self.run(self._read(EventFilter(types=(kind,))))
        assert self._as_entries(events) == [e for e in self._expected() if e[2] == kind]

    @rule(data=st.data())
    def read_from_position(self, data: st.DataObject) -> None:
        after = data.draw(st.integers(min_value=0, max_value=len(self.log) + 1), label="after")
        until = data.draw(st.none() | st.integers(min_value=after, max_value=len(self.log) + 2), label="until")
        size = data.draw(st.integers(min_value=1, max_value=7), label="chunk size")
        chunks = self.run(self._chunks(EventFilter(after_position=after, until_position=until), size))
        assert all(0 < len(chunk) <= size for chunk in chunks)
        events = [e for chunk in chunks for e in chunk]
        assert self._as_entries(events) == self._expected()[after:until]

    @rule()
    def verify(self) -> None:
        assert self.store is not None
        report = self.run(self.store.verify())
        assert report.ok, report.problem
        assert (report.events, report.batches) == (len(self.log), self.batches + 1)

    @invariant()
    def positions_and_versions_match_the_model(self) -> None:
        assert self.store is not None
        assert self.run(self.store.max_position()) == len(self.log)
        for stream in (*STREAMS, LIFECYCLE):
            assert self.run(self.store.stream_version(stream)) == self.versions.get(stream, 0), stream

    # -- helpers ------------------------------------------------------------------

    async def _read(self, flt: EventFilter) -> list[Event]:
        assert self.store is not None
        return [e async for e in self.store.read(flt, chunk_size=3)]

    async def _chunks(self, flt: EventFilter, size: int) -> list[list[Event]]:
        assert self.store is not None
        return [chunk async for chunk in self.store.read_chunks(flt, chunk_size=size)]

    def _expected(self) -> list[tuple[str, str, str, int, int]]:
        versions: dict[str, int] = {}
        out = []
        for position, (event_id, stream, kind) in enumerate(self.log, start=1):
            versions[stream] = versions.get(stream, 0) + 1
            out.append((event_id, stream, kind, versions[stream], position))
        return out

    @staticmethod
    def _as_entries(events: list[Event]) -> list[tuple[str, str, str, int, int]]:
        return [(e.id, e.stream, e.type, e.version, e.position) for e in events]


class MemoryStoreMachine(StoreMachine):
    backend = "memory"


class SQLiteStoreMachine(StoreMachine):
    backend = "rows"


class ColumnarStoreMachine(StoreMachine):
    backend = "columnar"


SETTINGS = settings(
    max_examples=50, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_memory_store_matches_the_model() -> None:
    run_state_machine_as_test(MemoryStoreMachine, settings=SETTINGS)


def test_sqlite_store_matches_the_model() -> None:
    run_state_machine_as_test(SQLiteStoreMachine, settings=SETTINGS)


def test_columnar_store_matches_the_model() -> None:
    run_state_machine_as_test(ColumnarStoreMachine, settings=SETTINGS)
