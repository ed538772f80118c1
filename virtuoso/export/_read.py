"""A selection of the log as one DataFrame, read chunk by chunk (``to_frame``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from virtuoso.events import Payload
from virtuoso.export._columns import arrow_schema, payload_class
from virtuoso.export._frames import columns_batch, combined_frame, table_frame
from virtuoso.store import READ_CHUNK, EventFilter

if TYPE_CHECKING:
    from virtuoso.store import EventStore

TypeNames = str | type[Payload] | Sequence[str | type[Payload]]
"""One payload type (name or class) or several."""


def classes_of(types: TypeNames | None) -> tuple[type[Payload], ...] | None:
    """``types`` as payload classes (None for every type); unknown names are a UsageError."""
    if types is None:
        return None
    if isinstance(types, str | type):
        return (payload_class(types),)
    return tuple(dict.fromkeys(payload_class(t) for t in types))


async def selection(
    store: EventStore,
    *,
    session: str | None,
    classes: tuple[type[Payload], ...] | None,
    streams: Sequence[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> EventFilter:
    """The filter of a selection; ``session`` may be an id prefix (an unknown one is a SessionError)."""
    session_id = None if session is None else (await store.session(session)).id
    return EventFilter(
        session=session_id,
        streams=None if streams is None else tuple(streams),
        types=None if classes is None else tuple(cls.TYPE for cls in classes),
        start_ns=start_ns,
        end_ns=end_ns,
    )


async def to_frame(
    store: EventStore,
    *,
    session: str | None = None,
    types: TypeNames | None = None,
    streams: Sequence[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    chunk_size: int = READ_CHUNK,
) -> pd.DataFrame:
    """The events of ``store`` selected, as a pandas DataFrame, read ``chunk_size`` events at a time.

    One type (a name like ``"Trade"`` or the class) gives that type's frame: the
    envelope columns (``position``, ``id``, ``stream``, ``version``, ``session``,
    ``causation``, ``ts_event``, ``ts_recv`` as int64 ns, ``time_event`` and
    ``time_recv`` as UTC datetimes), then the payload's fields as typed columns.
    Several types, or none (every type), give one frame in position order with a
    ``type`` column and the union of the payload columns. ``session`` may be an
    id prefix. Columns and dtypes: ``docs/export.md``.
    """
    classes = classes_of(types)
    flt = await selection(store, session=session, classes=classes, streams=streams, start_ns=start_ns, end_ns=end_ns)
    batches: dict[type[Payload], list[pa.RecordBatch]] = {cls: [] for cls in classes or ()}
    firsts: dict[type[Payload], int] = {}
    async for chunk in store.read_columns(flt, chunk_size):
        batches.setdefault(chunk.cls, []).append(columns_batch(chunk.columns, chunk.cls))
        firsts.setdefault(chunk.cls, int(chunk.columns["position"][0]))
    if classes is None:  # types found: in order of their first event, whatever order a layout's chunks came in
        batches = dict(sorted(batches.items(), key=lambda item: firsts[item[0]]))
    frames = {cls: table_frame(pa.Table.from_batches(b, schema=arrow_schema(cls)), cls) for cls, b in batches.items()}
    if classes is not None and len(classes) == 1:
        return frames[classes[0]]
    return combined_frame(frames)
