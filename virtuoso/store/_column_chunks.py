"""Events read as columns: one payload type per chunk, each field a numpy array.

A :class:`ColumnChunk` is what ``export`` and ``to_frame`` need from the log:
the envelope and the payload fields of events of one type, by name (see
:func:`payload_key`), with no
object per event. A layout that stores columns (the batch codec's
``decode_columns``) hands them over as they are decoded; a layout that stores
rows builds them from each chunk of events with :func:`column_chunks`, once per
field. Both give the same arrays, so a reader cannot tell the layouts apart.

Conventions: integers are int64, floats float64, booleans bool (numpy arrays);
a number that may be ``None`` (``causation``, ``int | None``) is a
``numpy.ma.MaskedArray`` masked where ``None``. **Text** (``id``, ``stream``,
``session``, ``str`` and ``Literal`` fields, their ``| None`` forms) is a
``pyarrow`` string array, null where ``None``: what a frame or a Parquet file
is made of, and what a columnar layout builds without a Python ``str`` per
value (``_arrow_text``). Any other field (book levels, dicts, nested structs)
is an object array of the payload's values. A value a typed array cannot hold
exactly (an integer beyond 64 bits, a value of another type than its field's)
leaves that column an object array, so that the caller can name it.

pyarrow is loaded on the first column read, not with the store (see ``_arrow_text``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from virtuoso.events import Event, Payload

ENVELOPE_COLUMNS = ("position", "id", "stream", "version", "session", "causation", "ts_event", "ts_recv")
"""The envelope columns of every chunk, in the order frames show them."""


def payload_key(field: str) -> str:
    """The key of payload field ``field`` in a chunk: its name, or ``payload_<name>`` when an envelope
    column (or ``type``) has that name.

    >>> payload_key("price"), payload_key("stream")
    ('price', 'payload_stream')
    """
    return f"payload_{field}" if field in _TAKEN else field


_TAKEN = frozenset((*ENVELOPE_COLUMNS, "type"))
_INT_ENVELOPE = ("position", "version", "ts_event", "ts_recv")
_STR_ENVELOPE = ("id", "stream", "session")
_DTYPES: dict[Any, npt.DTypeLike] = {int: np.int64, float: np.float64, bool: np.bool_, str: object}


Values = Any
"""A column: a numpy array (a masked one where ``None`` may be), or a pyarrow string array for text."""


@dataclass(frozen=True, slots=True)
class ColumnChunk:
    """Events of one payload type ``cls`` as columns (envelope names, then the payload's field names)."""

    cls: type[Payload]
    columns: Mapping[str, Values]

    def __len__(self) -> int:
        return len(self.columns["position"])


async def column_chunks(chunks: AsyncGenerator[list[Event], None]) -> AsyncGenerator[ColumnChunk, None]:
    """``chunks`` of events as column chunks: per chunk, one per payload type, in order of first appearance.

    ``chunks`` is closed with this generator, so a reader that stops early leaves no read open.
    """
    async with aclosing(chunks):
        async for chunk in chunks:
            for cls, events in _by_class(chunk).items():
                yield ColumnChunk(cls, events_as_columns(events, cls))


def events_as_columns(events: Sequence[Event], cls: type[Payload]) -> dict[str, Values]:
    """The columns of ``events`` (every payload of class ``cls``), transposed once per field."""
    from virtuoso.store._arrow_text import strings  # noqa: PLC0415 - loads pyarrow: column reads only

    columns: dict[str, Values] = {}
    for name in _INT_ENVELOPE:
        columns[name] = np.fromiter(map(attrgetter(name), events), np.int64, len(events))
    for name in _STR_ENVELOPE:
        columns[name] = strings(list(map(attrgetter(name), events)))
    columns["causation"] = _optional(list(map(attrgetter("causation"), events)), np.int64)
    payloads = list(map(attrgetter("payload"), events))
    for field, (scalar, optional) in _field_types(cls).items():
        values = list(map(attrgetter(field), payloads))
        columns[payload_key(field)] = _column(values, scalar, optional)
    return columns


def _by_class(events: Sequence[Event]) -> dict[type[Payload], list[Event]]:
    groups: dict[type[Payload], list[Event]] = {}
    for event in events:
        groups.setdefault(type(event.payload), []).append(event)
    return groups


@cache
def _field_types(cls: type[Payload]) -> dict[str, tuple[Any, bool]]:
    """Each field's scalar type (``None`` when it is not a scalar) and whether it may be ``None``."""
    hints = typing.get_type_hints(cls)
    return {field: _scalar_of(hints[field]) for field in cls.__struct_fields__}


def _scalar_of(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return (_scalar_of(members[0])[0], True) if len(members) == 1 else (None, True)
    if typing.get_origin(hint) is Literal:
        return (str, False) if all(isinstance(v, str) for v in typing.get_args(hint)) else (None, False)
    return (hint if hint in _DTYPES else None), False


def text_fields(cls: type[Payload]) -> list[str]:
    """The keys of the text columns of ``cls``'s chunks: the text envelope, then its ``str`` fields."""
    return [*_STR_ENVELOPE, *(payload_key(f) for f, (scalar, _) in _field_types(cls).items() if scalar is str)]


def with_arrow_text(columns: dict[str, Values], cls: type[Payload]) -> dict[str, Values]:
    """``columns`` of ``cls`` with every text column that came as objects (a JSON block's) made Arrow."""
    from virtuoso.store._arrow_text import masked_strings, strings  # noqa: PLC0415 - see events_as_columns

    for key in text_fields(cls):
        values = columns[key]
        if isinstance(values, np.ma.MaskedArray):
            columns[key] = masked_strings(values)
        elif isinstance(values, np.ndarray):
            columns[key] = strings(values.tolist())
    return columns


def _column(values: list[Any], scalar: Any, optional: bool) -> Values:
    if scalar is str:
        from virtuoso.store._arrow_text import strings  # noqa: PLC0415 - see events_as_columns

        return strings(values)
    if scalar is None:
        return _objects(values)
    if optional:
        return _optional(values, _DTYPES[scalar])
    return _typed(values, _DTYPES[scalar])


def _typed(values: list[Any], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    if dtype is object or not values:
        return _objects(values) if dtype is object else np.empty(0, dtype)
    array = np.array(values)
    # An int beyond 64 bits, or a value of another type than the field's, keeps its objects: the caller names it.
    return array if array.dtype == dtype else _objects(values)


def _optional(values: list[Any], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    mask = np.fromiter((v is None for v in values), np.bool_, len(values))
    if not mask.any():
        return np.ma.MaskedArray(_typed(values, dtype), mask=mask)
    data = _typed([0 if v is None else v for v in values], dtype)  # numbers only: text is Arrow, nulls and all
    return np.ma.MaskedArray(data, mask=mask)


def _objects(values: list[Any]) -> npt.NDArray[Any]:
    return np.fromiter(values, dtype=object, count=len(values))  # never broadcast: tuples stay values
