"""Events to stored rows and back, shared by every store backend.

A row is ``(position, id, stream, version, kind, ts_event, ts_recv, session,
causation, payload)`` where stream, kind and session are small integers from the
:class:`Catalog`, so the events table stays narrow and appends stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from virtuoso.errors import ConcurrencyError, SessionError, UsageError
from virtuoso.events import REGISTRY, Event, Kind, Payload, TypeRegistry, encode_payload
from virtuoso.store._chain import Row
from virtuoso.store._models import EventFilter

ExpectedVersion = int | Mapping[str, int] | None


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

    def add_session(self, seq: int, session_id: str) -> None:
        """Learn that session ``session_id`` is number ``seq``."""
        self.session_ids[session_id] = seq
        self.session_names[seq] = session_id

    def kind_of(self, payload_class: type[Payload]) -> int:
        """The kind number of a payload class (it must be known to the catalog)."""
        seq = self._class_kinds.get(payload_class)
        if seq is None:
            seq = self.kind_ids[(payload_class.TYPE, payload_class.SCHEMA)]
            self._class_kinds[payload_class] = seq
        return seq

    def decoder(self, kind_seq: int, position: int) -> Kind:
        """The decoding recipe for stored kind number ``kind_seq``."""
        kind = self.kinds.get(kind_seq)
        if kind is None:
            type_name, schema = self.kind_names[kind_seq]
            kind = self.registry.kind(type_name, schema, position)
            self.kinds[kind_seq] = kind
        return kind

    def missing(self, events: Sequence[Event]) -> tuple[list[str], list[tuple[str, int]], list[str]]:
        """Streams, kinds and sessions used by ``events`` that have no number yet."""
        streams = {e.stream for e in events} - self.stream_ids.keys()
        classes = {type(e.payload) for e in events} - self._class_kinds.keys()
        kinds = {(c.TYPE, c.SCHEMA) for c in classes} - self.kind_ids.keys()
        sessions = {e.session for e in events} - self.session_ids.keys()
        return sorted(streams), sorted(kinds), sorted(sessions)

    def check_registered(self, events: Iterable[Event]) -> None:
        """Refuse payload classes the registry does not know under their name."""
        for cls in {type(e.payload) for e in events}:
            if self.registry.class_for(cls.TYPE) is not cls:
                raise UsageError(f"{cls.__qualname__} is not the registered class for {cls.TYPE!r}")


def unknown_session_error(sessions: Sequence[str]) -> SessionError:
    """The error for events that name sessions the store does not hold."""
    return SessionError(f"unknown session(s) {', '.join(sessions)}: begin_session() first")


def streams_of(events: Sequence[Event]) -> list[str]:
    """Distinct stream names of ``events`` in first-seen order."""
    return list(dict.fromkeys(e.stream for e in events))


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


def build_rows(events: Sequence[Event], next_position: int, heads: dict[str, int], catalog: Catalog) -> list[Row]:
    """Rows for ``events`` taking positions from ``next_position``; advances ``heads``."""
    rows: list[Row] = []
    append = rows.append
    stream_ids = catalog.stream_ids
    session_ids = catalog.session_ids
    kind_of = catalog.kind_of
    encode = encode_payload
    position = next_position
    for event in events:
        stream = event.stream
        version = heads.get(stream, 0) + 1
        heads[stream] = version
        payload = event.payload
        append(
            (
                position,
                event.id,
                stream_ids[stream],
                version,
                kind_of(type(payload)),
                event.ts_event,
                event.ts_recv,
                session_ids[event.session],
                event.causation,
                encode(payload),
            )
        )
        position += 1
    return rows


def rows_to_events(rows: Iterable[Row], catalog: Catalog) -> list[Event]:
    """Decode stored rows into events (upcasting old schemas)."""
    streams = catalog.stream_names
    sessions = catalog.session_names
    kinds = catalog.kinds
    decoder = catalog.decoder
    out: list[Event] = []
    append = out.append
    for position, event_id, stream, version, kind_seq, ts_event, ts_recv, session, causation, payload in rows:
        kind = kinds.get(kind_seq) or decoder(kind_seq, position)
        append(
            Event(
                event_id,
                streams[stream],
                ts_event,
                ts_recv,
                sessions[session],
                kind.decode(payload, position),
                causation,
                version,
                position,
            )
        )
    return out


def stream_stats_updates(rows: Sequence[Row]) -> dict[tuple[int, int], list[int]]:
    """Per (session, stream): [count, min ts, max ts, first position, last position]."""
    stats: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        key = (row[7], row[2])
        ts = row[5]
        entry = stats.get(key)
        if entry is None:
            stats[key] = [1, ts, ts, row[0], row[0]]
        else:
            entry[0] += 1
            if ts < entry[1]:
                entry[1] = ts
            if ts > entry[2]:
                entry[2] = ts
            entry[4] = row[0]
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
