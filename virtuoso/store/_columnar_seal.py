"""Sealing: a finished session's small live blobs re-encoded into large segments.

A live recording commits tens to hundreds of events a stream at a time, and a blob
compresses as well as it is long (~9 bytes a trade at 100 events, ~5 at 50,000).
When a session ends (or is marked crashed), each of its streams' runs of small
blobs is decoded, joined and encoded again at a high zstd level as segments of up
to :data:`SEGMENT_EVENTS` events. The encoding runs in a worker thread, outside any
transaction; a short write transaction then inserts each segment and deletes the
blobs it replaces (the only deletion the triggers let through: a longer blob of the
same stream covers the positions). A segment is checked before it is stored: it
must decode to exactly the events, and the exact payload bytes, of the blobs it
replaces, so the chain links, which never move, still verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from virtuoso.errors import StoreError
from virtuoso.events import Event, TypeRegistry
from virtuoso.store._batch_codec import decode_batch, encode_batch, stored_payloads
from virtuoso.store._rows import Catalog

SEGMENT_EVENTS = 50_000
"""The most events a segment holds."""

LIVE_EVENTS = 5_000
"""Runs of blobs averaging fewer events than this are sealed; larger ones (an import's) gain too little."""

SEAL_LEVEL = 19
"""zstd level of segments: about 8 % smaller than level 3 on trades, at several times the encoding time."""


@dataclass(frozen=True, slots=True)
class Live:
    """A blob that sealing may replace."""

    seq: int
    count: int
    kinds: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Segment:
    """A sealed blob and the index row it goes in with."""

    replaces: tuple[int, ...]
    row: tuple[object, ...]


def runs_to_seal(blobs: Sequence[Live], catalog: Catalog) -> list[list[Live]]:
    """Consecutive blobs of one stream grouped into future segments; only groups worth sealing.

    A blob holding a payload of an older schema is left alone: decoding upcasts it,
    and its stored bytes could not be re-encoded.
    """
    groups: list[list[Live]] = []
    current: list[Live] = []
    for blob in blobs:
        if not _current_kinds(blob, catalog) or blob.count >= LIVE_EVENTS:
            groups.append(current)
            current = []
            continue
        if current and sum(b.count for b in current) + blob.count > SEGMENT_EVENTS:
            groups.append(current)
            current = []
        current.append(blob)
    groups.append(current)
    return [g for g in groups if len(g) > 1]


def _current_kinds(blob: Live, catalog: Catalog) -> bool:
    for number in (int(k) for k in blob.kinds.split(",") if k):
        type_name, schema = catalog.kind_names.get(number, ("", -1))
        cls = catalog.registry.current(type_name)
        if cls is None or schema != cls.SCHEMA:
            return False
    return True


def build_segment(stream: int, group: Sequence[Live], registry: TypeRegistry) -> Segment:
    """The segment replacing ``group`` (runs in a worker thread); ``StoreError`` if it would change anything."""
    events: list[Event] = []
    payloads: list[bytes] = []
    for blob in group:
        events.extend(decode_batch(blob.data, registry))
        payloads.extend(stored_payloads(blob.data, registry))
    data = encode_batch(events, level=SEAL_LEVEL)
    if decode_batch(data, registry) != events or stored_payloads(data, registry) != payloads:
        raise StoreError(
            f"sealing positions {events[0].position}..{events[-1].position} would change them; left as they are"
        )
    kinds = sorted({int(k) for blob in group for k in blob.kinds.split(",") if k})
    times = [e.ts_event for e in events]
    row = (
        stream,
        events[0].position,
        events[-1].position,
        events[0].version,
        events[-1].version,
        min(times),
        max(times),
        len(events),
        ",".join(map(str, kinds)),
        data,
    )
    return Segment(tuple(blob.seq for blob in group), row)
