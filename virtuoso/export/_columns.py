"""Which columns a payload type becomes: names, Arrow types, and how values are converted.

Scalars keep their type (float64, int64, bool, string; ``X | None`` becomes a
nullable column). Everything else (book levels, dicts, tuples of structs) is JSON
text: its shape varies from event to event, and a chunked, single-pass writer
needs a schema fixed before the first row (see ``docs/export.md``).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pyarrow as pa

from virtuoso.errors import UsageError
from virtuoso.events import REGISTRY, Payload

ColumnKind = Literal["float", "int", "bool", "str", "json"]

UTC_NS = pa.timestamp("ns", tz="UTC")
"""The Arrow type of the ``time_event`` and ``time_recv`` columns."""

ENVELOPE: tuple[tuple[str, pa.DataType], ...] = (
    ("position", pa.int64()),
    ("id", pa.string()),
    ("stream", pa.string()),
    ("version", pa.int64()),
    ("session", pa.string()),
    ("causation", pa.int64()),
    ("ts_event", pa.int64()),
    ("ts_recv", pa.int64()),
    ("time_event", UTC_NS),
    ("time_recv", UTC_NS),
)
"""The envelope columns every frame starts with, in order (``causation`` is nullable)."""

RESERVED = frozenset(name for name, _ in ENVELOPE) | {"type"}
"""Column names a payload field cannot take: such a field becomes ``payload_<name>``."""

_ARROW: dict[ColumnKind, pa.DataType] = {
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "json": pa.string(),
}
_SCALARS: dict[Any, ColumnKind] = {float: "float", int: "int", bool: "bool", str: "str"}


@dataclass(frozen=True, slots=True)
class PayloadColumn:
    """One payload field as a column: ``field`` of the struct, ``name`` in the frame."""

    field: str
    name: str
    kind: ColumnKind
    nullable: bool

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the column."""
        return _ARROW[self.kind]


def _kind_of(hint: Any) -> tuple[ColumnKind, bool]:
    """The column kind of a field's type hint, and whether it may be None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1:
            return _kind_of(members[0])[0], True
        return "json", True
    if typing.get_origin(hint) is Literal:
        values = typing.get_args(hint)
        return ("str", False) if all(isinstance(v, str) for v in values) else ("json", False)
    return _SCALARS.get(hint, "json"), False


@cache
def payload_columns(cls: type[Payload]) -> tuple[PayloadColumn, ...]:
    """The columns of ``cls``'s fields, in declaration order.

    >>> from virtuoso.events import BookDelta
    >>> [(c.name, c.kind, c.nullable) for c in payload_columns(BookDelta)][-3:]
    [('first_sequence', 'int', False), ('last_sequence', 'int', False), ('previous_sequence', 'int', True)]
    """
    hints = typing.get_type_hints(cls)
    columns = []
    for field in cls.__struct_fields__:
        kind, nullable = _kind_of(hints[field])
        name = f"payload_{field}" if field in RESERVED else field
        columns.append(PayloadColumn(field, name, kind, nullable))
    return tuple(columns)


ENVELOPE_SCHEMA = pa.schema([pa.field(name, kind, nullable=name == "causation") for name, kind in ENVELOPE])
"""The Arrow schema of the envelope columns alone."""


@cache
def arrow_schema(cls: type[Payload]) -> pa.Schema:
    """The Arrow schema of ``cls``'s frame: the envelope, then the payload columns."""
    fields = list(ENVELOPE_SCHEMA)
    fields += [pa.field(c.name, c.arrow_type, nullable=c.nullable or c.kind == "json") for c in payload_columns(cls)]
    return pa.schema(fields)


def payload_class(type_or_name: str | type[Payload]) -> type[Payload]:
    """The registered payload class named ``type_or_name`` (or the class itself).

    Raises :class:`~virtuoso.errors.UsageError` for a name no class is registered under.
    """
    if isinstance(type_or_name, type):
        return type_or_name
    cls = REGISTRY.current(type_or_name)
    if cls is None:
        raise UsageError(f"unknown event type {type_or_name!r} (known: {', '.join(sorted(REGISTRY.names()))})")
    return cls
