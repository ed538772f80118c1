"""Events to columns: one Arrow record batch per chunk and type, one DataFrame at the end.

Columns are built from lists, one per field (never row by row), and a frame's
batches are concatenated once, when it is converted to pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import pandas as pd
import pyarrow as pa

from virtuoso.errors import UsageError
from virtuoso.events import Event, Payload
from virtuoso.export._columns import (
    ENVELOPE_SCHEMA,
    UTC_NS,
    PayloadColumn,
    arrow_schema,
    payload_class,
    payload_columns,
)

_JSON = msgspec.json.Encoder(order="deterministic")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NULLABLE = {"int64": "Int64", "bool": "boolean"}
_STR = pa.array([], type=pa.string()).to_pandas().dtype
"""pandas' dtype for Arrow strings (``str`` in pandas 3, ``object`` before)."""


def _json_text(values: Iterable[Any]) -> list[str | None]:
    return [None if v is None else _JSON.encode(v).decode() for v in values]


def _payload_array(events: Sequence[Event], payloads: Sequence[Payload], column: PayloadColumn) -> pa.Array:
    values = [getattr(p, column.field) for p in payloads]
    if column.kind == "json":
        return pa.array(_json_text(values), type=pa.string())
    try:
        return pa.array(values, type=column.arrow_type)
    except (OverflowError, pa.ArrowInvalid):
        raise _too_wide(events, column) from None


def _too_wide(events: Sequence[Event], column: PayloadColumn) -> UsageError:
    """The error for an integer an int64 column cannot hold (the log's JSON can)."""
    for event in events:
        value = getattr(event.payload, column.field)
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            where = f"{event.type}.{column.field} at position {event.position}"
            return UsageError(f"{where}: {value} does not fit a 64-bit integer column")
    return UsageError(f"{column.field}: values do not fit a {column.arrow_type} column")


def _envelope_arrays(events: Sequence[Event]) -> list[pa.Array]:
    ts_event = pa.array([e.ts_event for e in events], type=pa.int64())
    ts_recv = pa.array([e.ts_recv for e in events], type=pa.int64())
    return [
        pa.array([e.position for e in events], type=pa.int64()),
        pa.array([e.id for e in events], type=pa.string()),
        pa.array([e.stream for e in events], type=pa.string()),
        pa.array([e.version for e in events], type=pa.int64()),
        pa.array([e.session for e in events], type=pa.string()),
        pa.array([e.causation for e in events], type=pa.int64()),
        ts_event,
        ts_recv,
        ts_event.cast(UTC_NS),
        ts_recv.cast(UTC_NS),
    ]


def record_batch(events: Sequence[Event], cls: type[Payload]) -> pa.RecordBatch:
    """``events`` (all of payload type ``cls``) as one Arrow record batch of ``cls``'s schema."""
    payloads = [e.payload for e in events]
    arrays = _envelope_arrays(events) + [_payload_array(events, payloads, c) for c in payload_columns(cls)]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(cls))


def by_type(events: Iterable[Event]) -> dict[type[Payload], list[Event]]:
    """``events`` grouped by payload class, classes in order of first appearance, events in order."""
    groups: dict[type[Payload], list[Event]] = {}
    for event in events:
        groups.setdefault(type(event.payload), []).append(event)
    return groups


def table_frame(table: pa.Table, cls: type[Payload]) -> pd.DataFrame:
    """An Arrow table of ``cls``'s schema as a DataFrame; nullable int columns become ``Int64``."""
    frame = table.to_pandas()
    for name in _nullable_ints(cls):
        frame[name] = table.column(name).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return frame


def _nullable_ints(cls: type[Payload]) -> list[str]:
    payload = [c.name for c in payload_columns(cls) if c.kind == "int" and c.nullable]
    return ["causation", *payload]


def frame_of(events: Iterable[Event], type_: str | type[Payload]) -> pd.DataFrame:
    """The DataFrame of the events of one payload type among ``events`` (others are skipped).

    >>> from virtuoso.events import Event, Trade
    >>> e = Event("t1", "binance:BTC/USDT:trades", 1_723_161_255_000_000_000, 1_723_161_255_100_000_000,
    ...           "s1", Trade(58000.0, 0.01, "buy", "42"), position=7)
    >>> frame = frame_of([e], "Trade")
    >>> frame[["position", "time_event", "price", "side"]].to_dict("records")
    [{'position': 7, 'time_event': Timestamp('2024-08-08 23:54:15+0000', tz='UTC'), 'price': 58000.0, 'side': 'buy'}]
    """
    cls = payload_class(type_)
    chosen = [e for e in events if type(e.payload) is cls]
    return table_frame(pa.Table.from_batches([record_batch(chosen, cls)], schema=arrow_schema(cls)), cls)


def combined_frame(frames: dict[type[Payload], pd.DataFrame]) -> pd.DataFrame:
    """Frames of several types as one, in position order, with a ``type`` column.

    Columns are the envelope, ``type``, then the union of the payload columns of
    every type in ``frames`` in order of first appearance. Where a type has no such
    column the value is missing: NaN, or ``<NA>`` for ints and bools, which become
    nullable types to stay exact.
    """
    parts = [_with_type(frame, cls) for cls, frame in frames.items()]
    columns = list(dict.fromkeys(name for part in [_empty_combined(), *parts] for name in part.columns))
    filled = [part for part in parts if len(part)]
    if not filled:
        return _empty_combined().reindex(columns=columns)
    shared = set.intersection(*(set(part.columns) for part in filled))
    frame = pd.concat([_nullable_where_absent(part, shared) for part in filled], ignore_index=True, sort=False)
    return frame.sort_values("position", kind="stable", ignore_index=True).reindex(columns=columns)


def _with_type(frame: pd.DataFrame, cls: type[Payload]) -> pd.DataFrame:
    typed = frame.copy(deep=False)
    typed.insert(len(ENVELOPE_SCHEMA), "type", pd.Series([cls.TYPE] * len(frame), index=frame.index, dtype=_STR))
    return typed


def _nullable_where_absent(frame: pd.DataFrame, shared: set[str]) -> pd.DataFrame:
    casts = {
        name: _NULLABLE[str(dtype)]
        for name, dtype in frame.dtypes.items()
        if name not in shared and str(dtype) in _NULLABLE
    }
    return frame.astype(casts) if casts else frame


def _empty_combined() -> pd.DataFrame:
    frame = ENVELOPE_SCHEMA.empty_table().to_pandas()
    frame["causation"] = frame["causation"].astype("Int64")
    frame.insert(len(ENVELOPE_SCHEMA), "type", pd.Series([], dtype=_STR))
    return frame
