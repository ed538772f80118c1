"""The payload blocks of the batch format: one block per payload kind (type and schema) in a batch.

A class whose fields are scalars (ints, floats, strings, bools, ``Literal``
strings, their ``| None`` forms) or book levels gets a :class:`ColumnarBlock`,
a column per field with the field names; any other class, or values whose types
are not exactly their annotations (an ``int`` in a ``float`` field), gets a
:class:`JsonBlock` of each payload's stored JSON. :class:`Payloads` decodes
the blocks of a body back into payload objects, stored JSON bytes or arrays.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache, partial
from itertools import compress
from operator import attrgetter
from typing import Any, Literal, Protocol, cast

import msgspec
import msgspec.inspect as mi
import numpy as np
import numpy.typing as npt

from virtuoso.errors import EventDecodeError, UsageError
from virtuoso.events import Kind, Payload, TypeRegistry
from virtuoso.events._envelope import PAYLOAD_ENCODER
from virtuoso.store import _batch_columns as col


class ColumnarBlock(msgspec.Struct, array_like=True, frozen=True, tag=10):
    """One kind's payloads, a column per field in declaration order (``names``: the fields' names)."""

    names: list[str]
    fields: list[col.Column]


class JsonBlock(msgspec.Struct, array_like=True, frozen=True, tag=11):
    """One kind's payloads as their stored JSON, joined by commas (a JSON array without its brackets)."""

    lengths: col.IntColumn
    body: bytes


Block = ColumnarBlock | JsonBlock


class Body(Protocol):
    """The payload side of a batch's body (the codec's body struct has these fields)."""

    @property
    def count(self) -> int:
        """Events in the batch."""
        ...

    @property
    def kinds(self) -> list[tuple[str, int]]:
        """The ``(type, schema)`` of each block."""
        ...

    @property
    def kind_codes(self) -> col.IntColumn:
        """Each event's index into ``kinds``."""
        ...

    @property
    def blocks(self) -> list[Block]:
        """One block per kind."""
        ...


FieldKind = Literal["int", "float", "text", "bool", "levels"]
"""What a payload field is stored as (see ``_batch_columns``)."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: FieldKind
    optional: bool
    choices: frozenset[str] | None = None
    """The allowed strings of a ``Literal`` field."""


@cache
def _plan(cls: type[Payload]) -> tuple[_Field, ...] | None:
    """The columns of a payload class, or ``None`` when it needs a JSON block.

    A class qualifies when it takes its fields positionally in declaration order,
    encodes as a JSON object of all its fields under their own names (so a dict of
    the columns encodes to the same bytes), and every field is a scalar without
    constraints (or ``| None`` of one) or book levels.
    """
    names = cls.__struct_fields__
    config = cls.__struct_config__
    if not names or config.omit_defaults or config.array_like or config.tag is not None:
        return None
    parameters = list(inspect.signature(cls).parameters.values())
    if [p.name for p in parameters] != list(names) or any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    if any(f.encode_name != f.name for f in info.fields):
        return None
    fields = [_field(f.name, f.type) for f in info.fields]
    return None if None in fields else tuple(f for f in fields if f is not None)


_SCALARS: dict[type[mi.Type], FieldKind] = {
    mi.IntType: "int",
    mi.FloatType: "float",
    mi.StrType: "text",
    mi.BoolType: "bool",
}
_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length")


def _field(name: str, info: mi.Type) -> _Field | None:
    optional = False
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(others) != 1 or len(info.types) != 2:
            return None
        info, optional = others[0], True
    if isinstance(info, mi.LiteralType):
        if not all(type(v) is str for v in info.values):
            return None
        return _Field(name, "text", optional, frozenset(cast(tuple[str, ...], info.values)))
    if _is_levels(info):
        return _Field(name, "levels", optional)
    kind = _SCALARS.get(type(info))
    if kind is None or any(getattr(info, c, None) is not None for c in _CONSTRAINTS):
        return None
    return _Field(name, kind, optional)


def _is_levels(info: mi.Type) -> bool:
    if not isinstance(info, mi.VarTupleType) or not isinstance(info.item_type, mi.TupleType):
        return False
    items = info.item_type.item_types
    return len(items) == 2 and all(type(t) is mi.FloatType and t == mi.FloatType() for t in items)


def payload_blocks(
    payloads: list[Payload],
    queue: col.IntQueue,
    types: set[type[Any]] | None = None,
    fields: Mapping[str, col.Gathered] | None = None,
) -> tuple[list[tuple[str, int]], col.Int64s, list[col.Later[Block]]]:
    """The kinds ``(type, schema)`` of ``payloads``, each payload's kind code and one block per kind.

    ``types``, when known, are the payloads' exact types; ``fields`` the payloads' fields already
    gathered, when they are all of one class (every field of it). The blocks are made once ``queue``
    has encoded their integers.
    """
    if types is not None and len(types) == 1:
        (cls,) = types
        block = _block(payloads, queue, fields)
        return [(cls.TYPE, cls.SCHEMA)], np.zeros(len(payloads), np.int64), [block]
    classes: list[type[Payload]] = list(map(type, payloads))
    distinct = list(dict.fromkeys(classes))
    if len(distinct) == 1:
        block = _block(payloads, queue, fields)
        return [(distinct[0].TYPE, distinct[0].SCHEMA)], np.zeros(len(payloads), np.int64), [block]
    numbers = {cls: n for n, cls in enumerate(distinct)}
    codes = np.fromiter(map(numbers.__getitem__, classes), np.int64, len(classes))
    blocks = [
        _block(list(map(payloads.__getitem__, np.flatnonzero(codes == n).tolist())), queue) for n in numbers.values()
    ]
    return [(cls.TYPE, cls.SCHEMA) for cls in distinct], codes, blocks


def _block(
    payloads: list[Payload], queue: col.IntQueue, given: Mapping[str, col.Gathered] | None = None
) -> col.Later[Block]:
    """The block of payloads of one class: columnar when every value fits its column exactly.

    ``given``: every field of the class already gathered (by name), else they are gathered here.
    """
    plan = _plan(type(payloads[0]))
    if plan is not None:
        # A C-level map per field: no tuple per payload (see ``envelope_columns`` in the codec). Every field is
        # judged before any is queued, so a kind that falls back to JSON queues nothing but its lengths.
        if given is not None and set(given) == {field.name for field in plan}:
            fields = [given[field.name] for field in plan]
        else:
            getters = [attrgetter(field.name) for field in plan]
            conversions = [_CONVERSIONS.get(field.kind) for field in plan]
            fields = col.gather(payloads, lambda part: [list(map(get, part)) for get in getters], conversions)
        judged = [_field_column(field, gathered) for field, gathered in zip(plan, fields, strict=True)]
        queued = [q for q in judged if q is not None]
        if len(queued) == len(plan):
            columns = [q(queue) for q in queued]
            names = [field.name for field in plan]
            return lambda: ColumnarBlock(names, [column() for column in columns])
    encoded = list(map(PAYLOAD_ENCODER.encode, payloads))
    lengths = queue.add(np.fromiter(map(len, encoded), np.int64, len(encoded)))
    body = b",".join(encoded)
    return lambda: JsonBlock(lengths(), body)


Queued = Callable[[col.IntQueue], col.Later[col.Column]]
"""A column whose values fit it, to be queued for encoding."""


_CONVERSIONS: dict[FieldKind, col.Conversion] = {"int": "int", "float": "float"}


def _field_column(field: _Field, gathered: col.Gathered) -> Queued | None:
    """The column of one field's values, or ``None`` when a value is not exactly of the field's type."""
    if not field.optional or type(None) not in gathered.types:
        return _plain_column(field, gathered)
    values = gathered.values
    present = col.presence(values)
    inner = _plain_column(field, col.Gathered.of(list(compress(values, present)), _CONVERSIONS.get(field.kind)))
    if inner is None:
        return None
    flags = present.astype(np.int64)

    def queued(queue: col.IntQueue) -> col.Later[col.Column]:
        present_column, values_column = queue.add(flags), inner(queue)
        return lambda: col.Nullable(present_column(), cast(col.Plain, values_column()))

    return queued


def _plain_column(field: _Field, gathered: col.Gathered) -> Queued | None:
    values, types, array = gathered.values, gathered.types, gathered.array
    if field.kind == "int":
        return None if array is None else partial(_queue_ints, array)
    if field.kind == "float":
        return None if array is None else partial(col.encode_floats, array)
    if field.kind == "text":
        fits = all(t is str for t in types) and (field.choices is None or field.choices.issuperset(values))
        return partial(col.encode_text, values, as_ints=array) if fits else None
    if field.kind == "bool":
        return partial(col.encode_bools, values) if all(t is bool for t in types) else None
    levels = col.level_arrays(values)
    return None if levels is None else partial(col.encode_levels, *levels)


def _queue_ints(ints: col.Int64s, queue: col.IntQueue) -> col.Later[col.Column]:
    return queue.add(ints)


def _decode_field(field: _Field, column: col.Column, count: int) -> list[Any]:
    if isinstance(column, col.Nullable):
        if not field.optional:
            raise ValueError(f"field {field.name} cannot be None")
        present = col.counted_ints(column.present, count)
        return col.spread(present, _decode_plain(field, column.values, int(present.sum())))
    return _decode_plain(field, column, count)


def _decode_plain(field: _Field, column: col.Plain, count: int) -> list[Any]:
    values: list[Any]
    if field.kind == "int" and isinstance(column, col.IntColumn):
        values = col.decode_ints(column).tolist()
    elif field.kind == "float" and isinstance(column, col.FloatColumn):
        values = col.decode_floats(column).tolist()
    elif field.kind == "text" and isinstance(column, col.Text):
        values = col.decode_text(column, count)
        if field.choices is not None and not field.choices.issuperset(values):
            raise ValueError(f"field {field.name} holds a value outside its choices")
    elif field.kind == "bool" and isinstance(column, col.BoolColumn):
        values = col.decode_bools(column)
    elif field.kind == "levels" and isinstance(column, col.LevelsColumn):
        values = col.decode_levels(column)
    else:
        raise ValueError(f"field {field.name} ({field.kind}) is stored as {type(column).__name__}")
    if len(values) != count:
        raise ValueError(f"field {field.name} holds {len(values)} values, not {count}")
    return values


class Payloads:
    """The payload blocks of a body, decoded on demand."""

    def __init__(self, body: Body, registry: TypeRegistry, positions: col.Int64s) -> None:
        if len(body.kinds) != len(body.blocks) or not body.kinds:
            raise ValueError("a batch's kinds and payload blocks do not match")
        self.body, self.registry, self.positions = body, registry, positions
        self.codes = col.counted_ints(body.kind_codes, body.count)
        if self.codes.min() < 0 or self.codes.max() >= len(body.kinds):
            raise ValueError("a kind code points past the batch's kinds")
        self.single = len(body.kinds) == 1

    def objects(self) -> list[Payload]:
        """Every payload, in batch order."""
        return self._scatter([self._objects(n) for n in range(len(self.body.kinds))])

    def stored_bytes(self) -> list[bytes]:
        """Every payload's stored JSON, in batch order."""
        return self._scatter([self._stored(n) for n in range(len(self.body.kinds))])

    def type_names(self) -> npt.NDArray[np.object_]:
        """The type name of every event."""
        return np.array([name for name, _ in self.body.kinds] + [""], dtype=object)[:-1][self.codes]

    def selection(self, type_name: str | None) -> npt.NDArray[np.intp] | None:
        """The indexes of the events of ``type_name`` (``None``: all of them, or every event is of that type)."""
        if type_name is None or (self.single and self.body.kinds[0][0] == type_name):
            return None
        return np.flatnonzero(self.of_types({type_name}))

    def of_types(self, names: Collection[str]) -> npt.NDArray[np.bool_]:
        """Which events are of one of the types ``names``."""
        numbers = [n for n, (name, _) in enumerate(self.body.kinds) if name in names]
        if len(numbers) == len(self.body.kinds):
            return np.ones(len(self.codes), np.bool_)
        return np.isin(self.codes, numbers)

    def types_among(self, rows: npt.NDArray[np.bool_]) -> list[str]:
        """The type names of the events where ``rows`` is true, in order of first appearance."""
        codes, firsts = np.unique(self.codes[rows], return_index=True)
        in_order = codes[np.argsort(firsts, kind="stable")].tolist()
        return list(dict.fromkeys(self.body.kinds[code][0] for code in in_order))

    def field_arrays(
        self, names: list[str], chosen: npt.NDArray[np.intp] | None, type_name: str | None, *, arrow_text: bool = False
    ) -> dict[str, Any]:
        """Payload fields of the chosen events as arrays (a columnar block's text as Arrow with ``arrow_text``)."""
        numbers = np.unique(self.codes[chosen]).tolist() if chosen is not None else list(range(len(self.body.kinds)))
        if chosen is None and len(numbers) > 1:
            kinds = ", ".join(name for name, _ in self.body.kinds)
            raise UsageError(f"payload fields of a batch of several types ({kinds}) need a type_name")
        if not numbers:
            return {name: np.empty(0, dtype=object) for name in names}
        cls = self.registry.class_for(type_name or self.body.kinds[numbers[0]][0])
        fields = {f.name: f for f in _plan(cls) or ()}
        unknown = [n for n in names if n not in cls.__struct_fields__]
        if unknown:
            raise UsageError(f"{cls.TYPE} has no field {unknown[0]!r} (fields: {', '.join(cls.__struct_fields__)})")
        block = self.body.blocks[numbers[0]]
        current = self.body.kinds[numbers[0]][1] == cls.SCHEMA
        if len(numbers) == 1 and current and isinstance(block, ColumnarBlock) and block.names == list(fields):
            count = self._count(numbers[0])
            columns = dict(zip(block.names, block.fields, strict=True))
            return {n: _field_array(fields[n], columns[n], count, arrow_text) for n in names}
        return self._attribute_arrays(names, chosen, fields)

    def _attribute_arrays(
        self, names: list[str], chosen: npt.NDArray[np.intp] | None, fields: dict[str, _Field]
    ) -> dict[str, npt.NDArray[Any]]:
        # JSON blocks (or several schemas of one type): the payload objects' attributes.
        payloads = self.objects()
        picked = payloads if chosen is None else list(map(payloads.__getitem__, chosen.tolist()))
        return {n: _values_array(fields.get(n), list(map(attrgetter(n), picked))) for n in names}

    def _objects(self, number: int) -> list[Payload]:
        type_name, schema = self.body.kinds[number]
        kind = self.registry.kind(type_name, schema, self._first_position(number))
        block = self.body.blocks[number]
        count = self._count(number)
        if isinstance(block, JsonBlock):
            return _json_objects(block, kind, count, self._positions(number))
        plan = self._current_plan(number, kind)
        if plan is None:  # an older schema: rebuild each payload's stored JSON and upcast it, as a row is
            pieces = _columnar_json(block, count)
            return [kind.decode(piece, at) for piece, at in zip(pieces, self._positions(number), strict=True)]
        columns = [_decode_field(f, c, count) for f, c in zip(plan, block.fields, strict=True)]
        return list(map(kind.cls, *columns))

    def _stored(self, number: int) -> list[bytes]:
        block = self.body.blocks[number]
        count = self._count(number)
        if isinstance(block, JsonBlock):
            return _json_pieces(block, count)
        type_name, schema = self.body.kinds[number]
        if self._current_plan(number, self.registry.kind(type_name, schema)) is None:
            return _columnar_json(block, count)
        return list(map(PAYLOAD_ENCODER.encode, self._objects(number)))

    def _current_plan(self, number: int, kind: Kind) -> tuple[_Field, ...] | None:
        """The plan of a columnar block of today's schema, ``None`` for an older one (refused if it does not fit)."""
        block = self.body.blocks[number]
        assert isinstance(block, ColumnarBlock)
        if len(block.names) != len(block.fields):
            raise ValueError("a columnar block's names and columns differ in number")
        if kind.upcasters:
            return None
        plan = _plan(kind.cls)
        if plan is None or [f.name for f in plan] != block.names:
            reason = f"its columns ({', '.join(block.names)}) are not the fields of today's class"
            raise EventDecodeError(kind.type_name, self._first_position(number), reason)
        return plan

    def _count(self, number: int) -> int:
        return len(self.codes) if self.single else int((self.codes == number).sum())

    def _positions(self, number: int) -> list[int]:
        positions: list[int] = (self.positions if self.single else self.positions[self.codes == number]).tolist()
        return positions

    def _first_position(self, number: int) -> int:
        return int(self.positions[int(np.argmax(self.codes == number))])

    def _scatter(self, groups: list[list[Any]]) -> list[Any]:
        """Values grouped by kind back into batch order."""
        if self.single:
            return groups[0]
        order = np.argsort(self.codes, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        grouped = [value for group in groups for value in group]
        return list(map(grouped.__getitem__, inverse.tolist()))


_ROW_ENCODER = msgspec.json.Encoder()
"""Dicts in field order encode to the bytes their struct encoded to (the payload encoder would sort the keys)."""


def _columnar_json(block: ColumnarBlock, count: int) -> list[bytes]:
    """The stored JSON of each payload of a columnar block, from its names and columns (no class needed)."""
    columns = [_decode_any(column, count) for column in block.fields]
    rows = [dict(zip(block.names, values, strict=True)) for values in zip(*columns, strict=True)]
    if not block.names:
        rows = [{} for _ in range(count)]
    return list(map(_ROW_ENCODER.encode, rows))


def _decode_any(column: col.Column, count: int) -> list[Any]:
    """A column's values by what the column is (an older schema's block, whose class is gone)."""
    values: list[Any]
    if isinstance(column, col.Nullable):
        present = col.counted_ints(column.present, count)
        return col.spread(present, _decode_any(column.values, int(present.sum())))
    if isinstance(column, col.IntColumn):
        values = col.decode_ints(column).tolist()
    elif isinstance(column, col.FloatColumn):
        values = col.decode_floats(column).tolist()
    elif isinstance(column, col.BoolColumn):
        values = col.decode_bools(column)
    elif isinstance(column, col.LevelsColumn):
        values = col.decode_levels(column)
    else:
        values = col.decode_text(column, count)
    if len(values) != count:
        raise ValueError(f"a column holds {len(values)} values, not {count}")
    return values


def _json_pieces(block: JsonBlock, count: int) -> list[bytes]:
    lengths = col.decode_ints(block.lengths)
    if len(lengths) != count or (count and lengths.min() < 0) or int(lengths.sum()) + count - 1 != len(block.body):
        raise ValueError("a JSON block's lengths do not match its body")
    ends = np.cumsum(lengths + 1).tolist()
    starts = [0, *ends[:-1]]
    body = block.body
    return list(map(body.__getitem__, map(slice, starts, [end - 1 for end in ends])))


def _json_objects(block: JsonBlock, kind: Kind, count: int, positions: list[int]) -> list[Payload]:
    pieces = _json_pieces(block, count)
    if not kind.upcasters:
        try:
            payloads: list[Payload] = _list_decoder(kind.cls).decode(b"[" + block.body + b"]")
            if len(payloads) == count:
                return payloads
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass  # decode one by one below, to name the position at fault
    return [kind.decode(piece, position) for piece, position in zip(pieces, positions, strict=True)]


@cache
def _list_decoder(cls: type[Payload]) -> msgspec.json.Decoder[list[Any]]:
    return msgspec.json.Decoder(list[cls])  # type: ignore[valid-type]


def _field_array(field: _Field, column: col.Column, count: int, arrow_text: bool = False) -> Any:
    """One columnar field as an array, straight from its column (array operations only, but for book levels and,
    without ``arrow_text``, text that may be ``None``)."""
    if arrow_text and field.kind == "text":
        return _text_arrow(field, column, count)
    if isinstance(column, col.Nullable) and field.optional and field.kind in _DTYPES:
        return _nullable_numbers(field, column, count)
    if isinstance(column, col.Nullable) or field.kind == "levels":
        return _values_array(field, _decode_field(field, column, count))
    array = _plain_array(field, column, count)
    if array is None:
        return _values_array(field, _decode_field(field, column, count))
    if len(array) != count:
        raise ValueError(f"field {field.name} holds {len(array)} values, not {count}")
    return np.ma.MaskedArray(array, mask=np.zeros(count, bool)) if field.optional else array


def _plain_array(field: _Field, column: col.Column, count: int) -> npt.NDArray[Any] | None:
    """A column without ``None`` as an array, or ``None`` when it is not stored as its field's kind."""
    if field.kind == "int" and isinstance(column, col.IntColumn):
        return col.counted_ints(column, count)
    if field.kind == "float" and isinstance(column, col.FloatColumn):
        return col.decode_floats(column)
    if field.kind == "bool" and isinstance(column, col.BoolColumn):
        ints = col.decode_ints(column.ints)
        if len(ints) and not 0 <= ints.min() <= ints.max() <= 1:
            raise ValueError("a boolean column holds values other than 0 and 1")
        return ints.astype(np.bool_)
    if field.kind == "text" and isinstance(column, col.Text):
        return col.text_array(column, count)
    return None


def _nullable_numbers(field: _Field, column: col.Nullable, count: int) -> np.ma.MaskedArray[Any, Any]:
    """An ``int | None`` (float, bool) field: the present values spread by a mask, no object per value."""
    present = col.counted_ints(column.present, count)
    if len(present) and not 0 <= present.min() <= present.max() <= 1:
        raise ValueError("a nullable column's flags are not 0 and 1")
    there = present == 1
    inner = _plain_array(field, column.values, int(there.sum()))
    if inner is None:
        raise ValueError(f"field {field.name} ({field.kind}) is stored as {type(column.values).__name__}")
    if len(inner) != int(there.sum()):
        raise ValueError("a nullable column's flags do not match its values")
    filled: npt.NDArray[Any] = np.zeros(count, _DTYPES[field.kind])
    filled[there] = inner
    return np.ma.MaskedArray(filled, mask=~there)


def _text_arrow(field: _Field, column: col.Column, count: int) -> Any:
    """A text field as an Arrow string array (nulls for ``None``), without a ``str`` per value."""
    from virtuoso.store import _arrow_text as arrow  # noqa: PLC0415 - loads pyarrow: column reads only

    if isinstance(column, col.Nullable) and isinstance(column.values, col.Text) and field.optional:
        present = col.counted_ints(column.present, count)
        array = arrow.spread_nulls(present, arrow.text_arrow(column.values, int(present.sum())))
    elif isinstance(column, col.Text):
        array = arrow.text_arrow(column, count)
    else:
        raise ValueError(f"field {field.name} ({field.kind}) cannot be read from {type(column).__name__}")
    if field.choices is not None:
        arrow.check_choices(column, array, field.choices, field.name)
    return array


_DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_}


def _values_array(field: _Field | None, values: list[Any]) -> npt.NDArray[Any]:
    dtype = None if field is None else _DTYPES.get(field.kind)
    if dtype is None:
        return col.object_array(values)
    if field is not None and field.optional:
        present = col.presence(values)
        filled = [v if p else 0 for v, p in zip(values, present.tolist(), strict=True)]
        return np.ma.MaskedArray(np.array(filled, dtype=dtype), mask=~present)
    return np.array(values, dtype=dtype)
