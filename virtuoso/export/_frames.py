"""Events to columns: one Arrow record batch per chunk and type, one DataFrame at the end.

Columns come from the log as arrays (``EventStore.read_columns``): numbers as
numpy arrays, wrapped by Arrow without a copy, text as Arrow string arrays
already (from a columnar log, made without a Python ``str`` per value); a
frame's batches are concatenated once, when it is converted to pandas, whose
text columns keep the Arrow data (pandas' Arrow-backed ``str`` dtype, on pandas 2.3
as on pandas 3: converting a million ids to Python strings cost more than reading them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from virtuoso.errors import UsageError
from virtuoso.events import Event, Payload
from virtuoso.export._columns import (
    ENVELOPE,
    ENVELOPE_SCHEMA,
    UTC_NS,
    PayloadColumn,
    arrow_schema,
    payload_class,
    payload_columns,
)
from virtuoso.store import events_as_columns, payload_key

_JSON = msgspec.json.Encoder(order="deterministic")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NULLABLE = {"int64": "Int64", "bool": "boolean"}
_STR = pd.StringDtype("pyarrow", na_value=np.nan)
"""The dtype of text columns: pandas 3's default ``str`` (Arrow data, NaN where missing), chosen on pandas 2.3 too."""
_PANDAS_TYPES = {pa.string(): _STR}.get
"""``to_pandas``'s ``types_mapper``: Arrow text stays Arrow text."""


def _json_text(values: npt.NDArray[Any]) -> list[str | None]:
    return [None if v is None else _JSON.encode(v).decode() for v in _with_none(values)]


def _with_none(values: Any) -> list[Any]:
    """The values of a column as Python objects, ``None`` where a masked array is masked (or Arrow is null)."""
    if isinstance(values, pa.Array):
        return values.to_pylist()  # type: ignore[no-any-return]
    if isinstance(values, np.ma.MaskedArray):
        filled: npt.NDArray[Any] = np.ma.filled(values.astype(object), None)
        return filled.tolist()  # type: ignore[no-any-return]
    return values.tolist()  # type: ignore[no-any-return]


def _arrow(values: Any, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array):  # text: the store hands it over as Arrow already
        return values if values.type == kind else values.cast(kind)
    if isinstance(values, np.ma.MaskedArray):
        return pa.array(values.data, type=kind, mask=np.ma.getmaskarray(values))
    return pa.array(values, type=kind)


def _payload_array(columns: Mapping[str, npt.NDArray[Any]], column: PayloadColumn, cls: type[Payload]) -> pa.Array:
    values = columns[payload_key(column.field)]
    if column.kind == "json":
        return pa.array(_json_text(values), type=pa.string())
    try:
        return _arrow(values, column.arrow_type)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise _too_wide(columns, column, cls) from None


def _too_wide(columns: Mapping[str, npt.NDArray[Any]], column: PayloadColumn, cls: type[Payload]) -> UsageError:
    """The error for an integer an int64 column cannot hold (the log's JSON can)."""
    values = _with_none(columns[payload_key(column.field)])
    for position, value in zip(columns["position"].tolist(), values, strict=True):
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            where = f"{cls.TYPE}.{column.field} at position {position}"
            return UsageError(f"{where}: {value} does not fit a 64-bit integer column")
    return UsageError(f"{column.field}: values do not fit a {column.arrow_type} column")


def _envelope_arrays(columns: Mapping[str, npt.NDArray[Any]]) -> list[pa.Array]:
    arrays = [_arrow(columns[name], kind) for name, kind in ENVELOPE[:8]]
    ts_event, ts_recv = arrays[6], arrays[7]
    return [*arrays, ts_event.cast(UTC_NS), ts_recv.cast(UTC_NS)]


def columns_batch(columns: Mapping[str, npt.NDArray[Any]], cls: type[Payload]) -> pa.RecordBatch:
    """Columns of events of payload type ``cls`` (a :class:`~virtuoso.store.ColumnChunk`'s) as one Arrow
    record batch of ``cls``'s schema: each column converted once, no object per event."""
    arrays = _envelope_arrays(columns) + [_payload_array(columns, c, cls) for c in payload_columns(cls)]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(cls))


def record_batch(events: Sequence[Event], cls: type[Payload]) -> pa.RecordBatch:
    """``events`` (all of payload type ``cls``) as one Arrow record batch of ``cls``'s schema."""
    return columns_batch(events_as_columns(events, cls), cls)


def table_frame(table: pa.Table, cls: type[Payload]) -> pd.DataFrame:
    """An Arrow table of ``cls``'s schema as a DataFrame; nullable int columns become ``Int64``."""
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES)
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
    frame = ENVELOPE_SCHEMA.empty_table().to_pandas(types_mapper=_PANDAS_TYPES)
    frame["causation"] = frame["causation"].astype("Int64")
    frame.insert(len(ENVELOPE_SCHEMA), "type", pd.Series([], dtype=_STR))
    return frame
