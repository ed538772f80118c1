"""The row codec: events to stored rows and back, shared by the row backends (SQLite, memory).

A row is ``(position, id, stream, version, kind, ts_event, ts_recv, session,
causation, payload)`` where stream, kind and session are small integers from the
:class:`Catalog`, so the events table stays narrow and appends stay fast. A
batch's rows transposed are its :class:`StoredColumns`; :class:`Field` names a
column's place in a row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, count, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import msgspec

from virtuoso.errors import ConcurrencyError, InvalidEventError, SessionError, UsageError
from virtuoso.events import (
    REGISTRY,
    CheckedEvents,
    Event,
    EventRun,
    FieldColumn,
    Kind,
    Payload,
    TypeRegistry,
    first_problem,
)
from virtuoso.events._envelope import PAYLOAD_ENCODER
from virtuoso.store._chain import Row, SessionHeader, batch_context
from virtuoso.store._models import AppendResult, EventFilter, SessionInfo

ExpectedVersion = int | Mapping[str, int] | None

_ENCODE = PAYLOAD_ENCODER.encode
_EVENT_ID = attrgetter("id")
_EVENT_STREAM = attrgetter("stream")
_EVENT_TS_EVENT = attrgetter("ts_event")
_EVENT_TS_RECV = attrgetter("ts_recv")
_EVENT_SESSION = attrgetter("session")
_EVENT_CAUSATION = attrgetter("causation")
_EVENT_PAYLOAD = attrgetter("payload")


class Field:
    """Where each stored column sits in a row: the events table's column order (and the hash chain's)."""

    POSITION = 0
    ID = 1
    STREAM = 2
    VERSION = 3
    KIND = 4
    TS_EVENT = 5
    TS_RECV = 6
    SESSION = 7
    CAUSATION = 8
    PAYLOAD = 9


class StoredColumns(NamedTuple):
    """A batch's stored rows as ten columns, in :class:`Field` order (a sequence, so the chain hashes it as is)."""

    position: list[int]
    id: list[str]
    stream: list[int]
    version: list[int]
    kind: list[int]
    ts_event: list[int]
    ts_recv: list[int]
    session: list[int]
    causation: list[int | None]
    payload: list[bytes]

    @classmethod
    def of_rows(cls, rows: Sequence[Row]) -> StoredColumns:
        """``rows`` transposed (at least one row)."""
        return cls(*map(list, zip(*rows, strict=True)))


@dataclass(slots=True)
class Columns:
    """The per-event fields of a batch that appends look at, each extracted once."""

    events: Sequence[Event]
    streams: list[str]
    sessions: list[str]
    payloads: list[Payload]
    classes: list[type[Payload]]
    ts_events: list[int]
    run: EventRun | None = None
    """The columns a bulk constructor made the events from (then ids and receive times need no extraction,
    and there are no causations), else ``None``."""
    payload_fields: dict[str, FieldColumn] | None = None
    """The payloads' fields as the value rules gathered them (see :func:`~virtuoso.events.first_problem`),
    for the encoder, else ``None``."""

    @classmethod
    def of(cls, events: Sequence[Event]) -> Columns:
        """Extract the columns of ``events`` (C-level maps: this is the append hot path).

        :class:`~virtuoso.events.CheckedEvents` made in bulk bring their columns along: none is extracted.
        """
        run = events.run if type(events) is CheckedEvents else None
        if run is not None:
            count = len(events)
            one = [run.stream] * count, [run.session] * count, run.payloads, [run.payload_class] * count
            return cls(events, *one, run.ts_events, run)
        payloads = list(map(_EVENT_PAYLOAD, events))
        return cls(
            events,
            list(map(_EVENT_STREAM, events)),
            list(map(_EVENT_SESSION, events)),
            payloads,
            list(map(type, payloads)),
            list(map(_EVENT_TS_EVENT, events)),
        )

    def distinct_streams(self) -> list[str]:
        """Stream names in first-seen order."""
        if self.run is not None:
            return [self.run.stream]
        return list(dict.fromkeys(self.streams))

    def used(self) -> tuple[set[str], set[type[Payload]], set[str]]:
        """The distinct streams, payload classes and sessions of the batch."""
        if self.run is not None:
            return {self.run.stream}, {self.run.payload_class}, {self.run.session}
        return set(self.streams), set(self.classes), set(self.sessions)

    def single(self, column: list[Any]) -> bool:
        """Whether every value of ``column`` is the same."""
        return column.count(column[0]) == len(column)


@dataclass
class Catalog:
    """Numbers for stream names, event kinds and sessions, in both directions."""

    registry: TypeRegistry = field(default_factory=lambda: REGISTRY)
    stream_ids: dict[str, int] = field(default_factory=dict)
    stream_names: dict[int, str] = field(default_factory=dict)
    kind_ids: dict[tuple[str, int], int] = field(default_factory=dict)
    kinds: dict[int, Kind] = field(default_factory=dict)
    kind_names: dict[int, tuple[str, int]] = field(default_factory=dict)
    session_ids: dict[str, int] = field(default_factory=dict)
    session_names: dict[int, str] = field(default_factory=dict)
    _class_kinds: dict[type[Payload], int] = field(default_factory=dict)

    def add_stream(self, seq: int, name: str) -> None:
        """Learn that stream ``name`` is number ``seq``."""
        self.stream_ids[name] = seq
        self.stream_names[seq] = name

    def add_kind(self, seq: int, type_name: str, schema: int) -> None:
        """Learn that ``(type_name, schema)`` is kind number ``seq``."""
        self.kind_ids[(type_name, schema)] = seq
        self.kind_names[seq] = (type_name, schema)

    def truncate(self, streams: int, kinds: int) -> None:
        """Forget streams and kinds numbered above ``streams`` and ``kinds`` (an undone memory append)."""
        for name, seq in list(self.stream_ids.items()):
            if seq > streams:
                del self.stream_ids[name], self.stream_names[seq]
        for key, seq in list(self.kind_ids.items()):
            if seq > kinds:
                del self.kind_ids[key], self.kind_names[seq]
                self.kinds.pop(seq, None)
        self._class_kinds = {cls: seq for cls, seq in self._class_kinds.items() if seq <= kinds}

    def forget_uncommitted(self) -> None:
        """Drop every number (a rolled-back transaction may have made some); reload them from the log."""
        self.session_ids.clear()
        self.session_names.clear()
        self.stream_ids.clear()
        self.stream_names.clear()
        self.kind_ids.clear()
        self.kind_names.clear()
        self.kinds.clear()
        self._class_kinds.clear()

    def add_session(self, seq: int, session_id: str) -> None:
        """Learn that session ``session_id`` is number ``seq``."""
        self.session_ids[session_id] = seq
        self.session_names[seq] = session_id

    def forget_session(self, session_id: str) -> None:
        """Forget a session whose creation was undone."""
        seq = self.session_ids.pop(session_id, None)
        if seq is not None:
            self.session_names.pop(seq, None)

    def names(self) -> tuple[Mapping[int, str], Mapping[int, tuple[str, int]], Mapping[int, str]]:
        """Number to stream name, to (type, schema) and to session id."""
        return self.stream_names, self.kind_names, self.session_names

    def class_kind_ids(self) -> Mapping[type[Payload], int]:
        """Kind numbers by payload class, for every class whose kind is known."""
        if len(self._class_kinds) != len(self.kind_ids):
            for type_name, schema in self.kind_ids:
                cls = self.registry.current(type_name)
                if cls is not None and schema == cls.SCHEMA:
                    self._class_kinds[cls] = self.kind_ids[(type_name, schema)]
        return self._class_kinds

    def decoder(self, kind_seq: int, position: int) -> Kind:
        """The decoding recipe for stored kind number ``kind_seq``."""
        kind = self.kinds.get(kind_seq)
        if kind is None:
            type_name, schema = self.kind_names[kind_seq]
            kind = self.registry.kind(type_name, schema, position)
            self.kinds[kind_seq] = kind
        return kind

    def missing(self, columns: Columns) -> tuple[list[str], list[tuple[str, int]], list[str]]:
        """Streams, kinds and sessions used by a batch that have no number yet."""
        streams, classes, sessions = columns.used()
        classes -= self._class_kinds.keys()
        kinds = {(c.TYPE, c.SCHEMA) for c in classes} - self.kind_ids.keys()
        return sorted(streams - self.stream_ids.keys()), sorted(kinds), sorted(sessions - self.session_ids.keys())

    def check_batch(self, columns: Columns) -> None:
        """Refuse payload classes the registry does not know under their name, and events breaking the value rules.

        The value rules run on the batch's columns (:func:`~virtuoso.events.first_problem`), unless the
        events came as :class:`~virtuoso.events.CheckedEvents`, which passed those very rules already.
        """
        for cls in columns.used()[1] - self._class_kinds.keys():
            if self.registry.class_for(cls.TYPE) is not cls:
                raise UsageError(f"{cls.__qualname__} is not the registered class for {cls.TYPE!r}")
        if type(columns.events) is CheckedEvents:
            return
        fields: dict[str, FieldColumn] = {}
        problem = first_problem(columns.events, fields)
        columns.payload_fields = fields or None
        if problem is not None:
            event = columns.events[problem.index]
            where = f"event {problem.index + 1} of the batch, id {event.id}"
            raise InvalidEventError(event.stream, event.type, problem.text, where)


class AppendTotals:
    """The AppendResult of several appends taken together."""

    def __init__(self) -> None:
        self.written = self.duplicates = self.first = self.last = 0

    def add(self, result: AppendResult) -> None:
        """Count one more append."""
        self.written += result.written
        self.duplicates += result.duplicates
        if result.written:
            self.first = self.first or result.first_position
            self.last = result.last_position

    def result(self) -> AppendResult:
        """The appends so far as one result (positions: first and last written)."""
        return AppendResult(self.written, self.duplicates, self.first, self.last)


def unknown_session_error(sessions: Sequence[str]) -> SessionError:
    """The error for events that name sessions the store does not hold."""
    return SessionError(f"unknown session(s) {', '.join(sessions)}: begin_session() first")


def check_expected(expected: ExpectedVersion, streams: Sequence[str], heads: Mapping[str, int]) -> None:
    """Raise ConcurrencyError unless every stated stream is at its expected version."""
    if expected is None:
        return
    if isinstance(expected, int):
        if len(streams) != 1:
            raise UsageError("an integer expected_version needs events of exactly one stream")
        expected = {streams[0]: expected}
    for stream, version in expected.items():
        actual = heads.get(stream, 0)
        if actual != version:
            raise ConcurrencyError(stream, version, actual)


def unique_by_id(events: Sequence[Event], known: set[str]) -> list[Event]:
    """``events`` without those whose id is in ``known`` or repeats an earlier one."""
    seen = set(known)
    fresh = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            fresh.append(event)
    return fresh


GROUP_ROWS = 500
"""Rows per multi-row INSERT statement (at most 10 values a row: far below SQLite's 32,766 parameters)."""


@dataclass(slots=True)
class Batch:
    """A batch ready to insert, held as its ten stored columns.

    ``run`` is ``(stream, kind, session)`` when every event shares them (the
    usual recorder batch); then the insert binds six values a row instead of ten
    and SQLite derives the version from the position. ``session`` is the session
    number of a mixed batch of one session without causations (an importer's
    batch): then the insert binds seven values and SQLite numbers the positions,
    as rowids (the largest so far plus one: the positions computed here, since the
    writer holds the transaction).
    """

    columns: StoredColumns
    run: tuple[int, int, int] | None
    version_offset: int
    session: int | None = None

    @property
    def first_position(self) -> int:
        """Position of the batch's first event."""
        return self.columns.position[0]

    @property
    def last_position(self) -> int:
        """Position of the batch's last event."""
        return self.columns.position[-1]

    def __len__(self) -> int:
        return len(self.columns.position)

    def inserts(self) -> list[tuple[str, list[Sequence[Any]]]]:
        """The ``executemany`` calls that insert the batch: ``(sql, parameter sequences)``.

        Rows go in groups of :data:`GROUP_ROWS` per statement (a multi-row
        ``VALUES``), which halves SQLite's per-row overhead in Python's ``sqlite3``;
        the rows that do not fill a group use the one-row statement.
        """
        bound = self._bound_columns()
        count = len(bound[0])
        full = count - count % GROUP_ROWS
        calls: list[tuple[str, list[Sequence[Any]]]] = []
        if full:
            width = len(bound) * GROUP_ROWS
            flat: list[Any] = [None] * (len(bound) * full)
            for offset, column in enumerate(bound):
                flat[offset :: len(bound)] = column[:full]  # interleaved by C-level slice assignment
            calls.append((self._insert_sql(GROUP_ROWS), [flat[i : i + width] for i in range(0, len(flat), width)]))
        if full < count:
            calls.append((self._insert_sql(1), list(zip(*(column[full:] for column in bound), strict=True))))
        return calls

    def _bound_columns(self) -> Sequence[list[Any]]:
        """The columns the INSERT binds, in parameter order (the others are inlined or derived)."""
        c = self.columns
        if self.run is None:
            if self.session is None:
                return c
            return [c.id, c.stream, c.version, c.kind, c.ts_event, c.ts_recv, c.payload]
        return [c.position, c.id, c.ts_event, c.ts_recv, c.causation, c.payload]

    def _insert_sql(self, rows: int) -> str:
        """The INSERT of ``rows`` rows (numbers only are inlined)."""
        if self.run is None:
            value = "(?,?,?,?,?,?,?,?,?,?)" if self.session is None else f"(NULL,?,?,?,?,?,?,{self.session:d},NULL,?)"
            return "INSERT INTO events VALUES " + ",".join(repeat(value, rows))
        return _run_insert_sql(rows, *self.run, self.version_offset)

    def rows(self) -> list[Row]:
        """The stored rows."""
        return list(zip(*self.columns, strict=True))


@lru_cache(maxsize=64)
def _run_insert_sql(rows: int, stream: int, kind: int, session: int, offset: int) -> str:
    """The INSERT of ``rows`` rows of one run (kept: a run's batches share it while no other stream interleaves)."""
    # Numbered parameters: the position is bound once and also gives the version.
    values = (
        f"(?{b + 1},?{b + 2},{stream:d},?{b + 1}-{offset:d},{kind:d},?{b + 3},?{b + 4},{session:d},?{b + 5},?{b + 6})"
        for b in range(0, 6 * rows, 6)
    )
    return "INSERT INTO events VALUES " + ",".join(values)


def build_batch(columns: Columns, next_position: int, heads: dict[str, int], catalog: Catalog) -> Batch:
    """The batch for ``columns`` taking positions from ``next_position``; advances ``heads``.

    Built column by column with C-level ``map``: this is the hot path of every
    append, and a per-event Python loop costs twice as much.
    """
    events = columns.events
    count = len(events)
    head = heads.get(columns.streams[0], 0)
    stored = StoredColumns(
        position=list(range(next_position, next_position + count)),
        id=list(map(_EVENT_ID, events)) if columns.run is None else columns.run.ids,
        stream=_numbers(columns, columns.streams, catalog.stream_ids),
        version=_versions(columns, heads),
        kind=_numbers(columns, columns.classes, catalog.class_kind_ids()),
        ts_event=columns.ts_events,
        ts_recv=list(map(_EVENT_TS_RECV, events)) if columns.run is None else columns.run.ts_recvs,
        session=_numbers(columns, columns.sessions, catalog.session_ids),
        causation=list(map(_EVENT_CAUSATION, events)) if columns.run is None else [None] * count,
        payload=list(map(_ENCODE, columns.payloads)),
    )
    single = all(columns.single(c) for c in (stored.stream, stored.kind, stored.session))
    run = (stored.stream[0], stored.kind[0], stored.session[0]) if single else None
    causations = stored.causation
    plain = run is None and columns.single(stored.session) and causations.count(None) == len(causations)
    return Batch(stored, run, next_position - head - 1, stored.session[0] if plain else None)


def _numbers(columns: Columns, keys: list[Any], numbers: Mapping[Any, int]) -> list[int]:
    if columns.single(keys):
        return [numbers[keys[0]]] * len(keys)
    return list(map(numbers.__getitem__, keys))


def _versions(columns: Columns, heads: dict[str, int]) -> list[int]:
    streams = columns.streams
    if columns.single(streams):
        head = heads.get(streams[0], 0)
        heads[streams[0]] = head + len(streams)
        return list(range(head + 1, head + len(streams) + 1))
    # Mixed streams: one counter per stream, advanced in batch order by C-level maps.
    distinct = dict.fromkeys(streams)
    counters = {stream: count(heads.get(stream, 0) + 1) for stream in distinct}
    versions = list(map(next, map(counters.__getitem__, streams)))
    for stream in distinct:
        heads[stream] = heads.get(stream, 0) + streams.count(stream)
    return versions


_ROW_POSITION = itemgetter(Field.POSITION)
_ROW_ID = itemgetter(Field.ID)
_ROW_STREAM = itemgetter(Field.STREAM)
_ROW_VERSION = itemgetter(Field.VERSION)
_ROW_KIND = itemgetter(Field.KIND)
_ROW_TS_EVENT = itemgetter(Field.TS_EVENT)
_ROW_TS_RECV = itemgetter(Field.TS_RECV)
_ROW_SESSION = itemgetter(Field.SESSION)
_ROW_CAUSATION = itemgetter(Field.CAUSATION)
_ROW_PAYLOAD = itemgetter(Field.PAYLOAD)


def rows_to_events(rows: Sequence[Row], catalog: Catalog) -> list[Event]:
    """Decode stored rows into events (upcasting old schemas).

    Column by column with C-level ``map``: this is the hot path of every read.
    """
    if not rows:
        return []
    positions = list(map(_ROW_POSITION, rows))
    return list(
        map(
            Event,
            map(_ROW_ID, rows),
            _names(list(map(_ROW_STREAM, rows)), catalog.stream_names),
            map(_ROW_TS_EVENT, rows),
            map(_ROW_TS_RECV, rows),
            _names(list(map(_ROW_SESSION, rows)), catalog.session_names),
            _decode_payloads(positions, list(map(_ROW_KIND, rows)), list(map(_ROW_PAYLOAD, rows)), catalog),
            map(_ROW_CAUSATION, rows),
            map(_ROW_VERSION, rows),
            positions,
        )
    )


def _names(numbers: list[int], names: Mapping[int, str]) -> Iterable[str]:
    if numbers.count(numbers[0]) == len(numbers):
        return repeat(names[numbers[0]], len(numbers))
    return map(names.__getitem__, numbers)


def _decode_payloads(
    positions: Sequence[int], kinds: Sequence[int], payloads: Sequence[bytes], catalog: Catalog
) -> list[Payload]:
    if kinds.count(kinds[0]) == len(kinds):
        return _decode_kind(kinds[0], positions, payloads, catalog)
    # Mixed chunks (trades, quotes, book deltas interleaved): decode each kind in one go.
    by_kind: dict[int, list[int]] = {}
    for index, kind in enumerate(kinds):
        by_kind.setdefault(kind, []).append(index)
    decoded: list[Any] = [None] * len(kinds)
    for kind, indexes in by_kind.items():
        group = _decode_kind(kind, [positions[i] for i in indexes], [payloads[i] for i in indexes], catalog)
        for index, payload in zip(indexes, group, strict=True):
            decoded[index] = payload
    return decoded


def _decode_kind(kind_seq: int, positions: Sequence[int], payloads: Sequence[bytes], catalog: Catalog) -> list[Payload]:
    kind = catalog.decoder(kind_seq, positions[0])
    if not kind.upcasters:
        try:
            return list(map(kind.decoder.decode, payloads))
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass  # decode one by one below to name the position at fault
    return [kind.decode(payload, position) for position, payload in zip(positions, payloads, strict=True)]


StatsUpdate = dict[tuple[int, int], list[int]]
"""Per (session number, stream number): [count, min ts_event, max ts_event, first position, last position]."""


def stream_stats_updates(batch: Batch, columns: Columns) -> StatsUpdate:
    """What a batch adds to the per-session, per-stream counts."""
    stored = batch.columns
    positions = stored.position
    if batch.run is not None:
        ts = columns.ts_events
        stream, _, session = batch.run
        return {(session, stream): [len(positions), min(ts), max(ts), positions[0], positions[-1]]}
    sessions = stored.session
    if columns.single(sessions):
        return _one_session_stats(sessions[0], positions, stored.stream, stored.ts_event)
    stats: StatsUpdate = {}
    for position, stream, ts_event, session in zip(positions, stored.stream, stored.ts_event, sessions, strict=True):
        entry = stats.get((session, stream))
        if entry is None:
            stats[(session, stream)] = [1, ts_event, ts_event, position, position]
        else:
            entry[0] += 1
            entry[1] = min(entry[1], ts_event)
            entry[2] = max(entry[2], ts_event)
            entry[4] = position
    return stats


def _one_session_stats(session: int, positions: list[int], streams: list[int], ts: list[int]) -> StatsUpdate:
    # Mixed streams of one session (an importer's batch): per stream, C-level passes over the columns.
    stats: StatsUpdate = {}
    last = len(streams) - 1
    backwards = streams[::-1]
    for stream in dict.fromkeys(streams):
        times = list(compress(ts, map(stream.__eq__, streams)))
        first, final = streams.index(stream), last - backwards.index(stream)
        stats[(session, stream)] = [len(times), min(times), max(times), positions[first], positions[final]]
    return stats


def matches(event: Event, flt: EventFilter) -> bool:
    """Whether ``event`` passes ``flt`` (the in-memory form of the SQL filter)."""
    return (
        event.position > flt.after_position
        and (flt.until_position is None or event.position <= flt.until_position)
        and (flt.session is None or event.session == flt.session)
        and (flt.streams is None or event.stream in flt.streams)
        and (flt.types is None or event.type in flt.types)
        and (flt.start_ns is None or event.ts_event >= flt.start_ns)
        and (flt.end_ns is None or event.ts_event < flt.end_ns)
    )


STARTED_TYPE = "SessionStarted"


def canonical_json(value: Any) -> str:
    """The stored text of a JSON field of a session (keys sorted, compact)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def header_values(info: SessionInfo) -> tuple[Any, ...]:
    """A session's header as stored: (id, name, source, symbols, channels, manifest, config_hash, started_ns)."""
    return (
        info.id,
        info.name,
        info.source,
        canonical_json(list(info.symbols)),
        canonical_json(list(info.channels)),
        canonical_json(info.manifest),
        info.config_hash,
        info.started_ns,
    )


Numbers = tuple[set[int], set[int], set[int]]
"""Distinct stream, kind and session numbers used by some events."""


def batch_numbers(batch: Batch) -> Numbers:
    """The distinct stream, kind and session numbers of a batch (constant time for a one-run batch)."""
    if batch.run is not None:
        stream, kind, session = batch.run
        return {stream}, {kind}, {session}
    c = batch.columns
    return set(c.stream), set(c.kind), set(c.session)


def started_sessions(kinds: Sequence[int], sessions: Sequence[int], used: Numbers, catalog: Catalog) -> list[int]:
    """Session numbers of the ``SessionStarted`` events among these events (kinds and sessions columns)."""
    started = {k for k in used[1] if catalog.kind_names[k][0] == STARTED_TYPE}
    if not started:
        return []
    return sorted({s for k, s in zip(kinds, sessions, strict=True) if k in started})


def context_for(used: Numbers, catalog: Catalog, headers: Sequence[SessionHeader]) -> bytes:
    """The chain context of a batch using ``used`` numbers and starting sessions with ``headers``."""
    return batch_context(used, catalog.names(), headers)
