"""The compressed columnar batch format: the events of one stream's committed batch as one blob.

A blob is one format byte (:data:`FORMAT_VERSION`) and a zstd frame (with its
content size and checksum) of a msgpack ``_Body``: the batch's envelope
columns (positions, versions, exchange and receive times, ids, sessions,
causations), a table of the payload kinds ``(type, schema)`` with a kind code
per event, and one payload block per kind. A payload class whose fields are
scalars (ints, floats, strings, bools, their ``| None`` forms) or book levels
gets a **columnar** block, one column per field (see ``_batch_columns``);
any other class, or values whose types are not exactly their annotations (an
``int`` price), get a **JSON** block holding each payload's stored JSON bytes.

Everything the hash chain covers is recoverable exactly: the envelope values
bit for bit, and each payload's stored bytes (:func:`stored_payloads`),
because a columnar block only takes values whose re-encoding gives the bytes
the store hashed. The format holds names (stream, session, type), not the
store's catalog numbers.

>>> from virtuoso.events import Event, Trade
>>> events = [Event(f"e{i}", "binance:BTC/USDT:trades", 1_000 + i, 2_000 + i, "s1",
...                 Trade(61_000.0 + i, 0.5, "buy", str(7 + i))) for i in range(3)]
>>> blob = encode_batch(events)
>>> decode_batch(blob) == events
True
>>> decode_columns(blob, ["ts_event", "price"])["price"].tolist()
[61000.0, 61001.0, 61002.0]
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import compress, repeat
from operator import attrgetter
from typing import Any, Literal, NoReturn, cast

import msgspec
import msgspec.inspect as mi
import numpy as np
import numpy.typing as npt
import zstandard

from virtuoso.errors import (
    CorruptDatabaseError,
    EventDecodeError,
    InvalidEventError,
    SchemaVersionError,
    UsageError,
    VirtuosoError,
)
from virtuoso.events import REGISTRY, Event, Kind, Payload, TypeRegistry
from virtuoso.events._envelope import PAYLOAD_ENCODER
from virtuoso.store import _batch_columns as col

FORMAT_VERSION = 1
"""The first byte of every blob; a blob of a later version is refused with ``SchemaVersionError``."""

MAX_BODY_BYTES = 1 << 31
"""The largest decompressed batch read: a damaged frame header cannot make the reader allocate more."""

DEFAULT_LEVEL = 3
"""zstd level of :func:`encode_batch`: fast enough for live commits; sealing may use a higher one."""

ENVELOPE_FIELDS = ("position", "version", "ts_event", "ts_recv", "id", "stream", "session", "causation", "type")
"""The envelope names :func:`decode_columns` knows, besides the payload's fields."""


class ColumnarBlock(msgspec.Struct, array_like=True, frozen=True, tag=10):
    """One kind's payloads, a column per field in declaration order (``names``: the fields' names)."""

    names: list[str]
    fields: list[col.Column]


class JsonBlock(msgspec.Struct, array_like=True, frozen=True, tag=11):
    """One kind's payloads as their stored JSON, joined by commas (a JSON array without its brackets)."""

    lengths: col.IntColumn
    body: bytes


Block = ColumnarBlock | JsonBlock


class _Body(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    count: int
    stream: str
    positions: col.IntColumn
    versions: col.IntColumn
    ts_event: col.IntColumn
    ts_recv: col.IntColumn
    """Receive times minus exchange times."""
    ids: col.Text
    """Hex ids are stored against the exchange times."""
    sessions: col.Text
    causations: col.Column | None
    """``None`` when no event has a causation."""
    kinds: list[tuple[str, int]]
    kind_codes: col.IntColumn
    blocks: list[Block]


_BODY_DECODER = msgspec.msgpack.Decoder(_Body)
_ENCODE_BODY = msgspec.msgpack.Encoder().encode
_LOCAL = threading.local()


# -- public API -------------------------------------------------------------------------------


def encode_batch(events: Sequence[Event], *, level: int = DEFAULT_LEVEL) -> bytes:
    """The blob of ``events``, a non-empty batch of ONE stream, in the order given.

    Refuses an empty batch or several streams (``UsageError``) and envelope
    values that are not what the log stores (``InvalidEventError``: a time, a
    position or a causation that is not an ``int`` within 64 bits, an id or
    session that is not a ``str``). Payload values are not judged here: the
    store's value rules run before a batch is encoded.
    """
    try:
        body = _Encoder(events).body()
    except ValueError as exc:  # a column past MAX_VALUES (book levels: the event count is checked first)
        raise UsageError(f"cannot encode the batch: {exc}") from exc
    try:
        raw = _ENCODE_BODY(body)
    except (msgspec.EncodeError, UnicodeEncodeError) as exc:
        raise InvalidEventError(body.stream, "Event", f"cannot be encoded: {exc}") from exc
    return bytes((FORMAT_VERSION,)) + _compressor(level).compress(raw)


def decode_batch(blob: bytes, registry: TypeRegistry = REGISTRY) -> list[Event]:
    """The events of a blob, equal to those encoded (payloads of older schemas upcast by ``registry``).

    A damaged blob raises ``CorruptDatabaseError``; a payload the registry cannot
    read raises ``UnknownEventType`` or ``EventDecodeError``, as a row would.
    """
    body = _open(blob)
    with _damage_is_an_error():
        envelope = _Envelope.of(body)
        payloads = _Payloads(body, registry, envelope.positions).objects()
        return list(
            map(
                Event,
                envelope.ids,
                repeat(body.stream, body.count),
                envelope.ts_event.tolist(),
                envelope.ts_recv.tolist(),
                envelope.sessions,
                payloads,
                envelope.causations,
                envelope.versions.tolist(),
                envelope.positions.tolist(),
            )
        )


def stored_payloads(blob: bytes, registry: TypeRegistry = REGISTRY) -> list[bytes]:
    """Each event's payload as the store hashed it (``encode_payload``), for the hash chain and ``verify``."""
    body = _open(blob)
    with _damage_is_an_error():
        return _Payloads(body, registry, _Envelope.of(body).positions).stored_bytes()


def batch_summary(blob: bytes) -> BatchSummary:
    """What a batch's index row holds: its stream, count, positions, versions and time range."""
    body = _open(blob)
    with _damage_is_an_error():
        envelope = _Envelope.of(body)
        ts = envelope.ts_event
        return BatchSummary(
            body.stream,
            body.count,
            int(envelope.positions[0]),
            int(envelope.positions[-1]),
            int(envelope.versions[0]),
            int(envelope.versions[-1]),
            int(ts.min()),
            int(ts.max()),
        )


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The index of one batch: stream, event count, first/last position and version, exchange time range."""

    stream: str
    count: int
    first_position: int
    last_position: int
    first_version: int
    last_version: int
    min_ts_event: int
    max_ts_event: int


def decode_columns(
    blob: bytes, fields: Iterable[str], *, type_name: str | None = None, registry: TypeRegistry = REGISTRY
) -> dict[str, npt.NDArray[Any]]:
    """Chosen columns of a batch as numpy arrays, without an object per event.

    ``fields`` are envelope names (:data:`ENVELOPE_FIELDS`) or the payload's
    field names. With ``type_name`` only the events of that type are returned;
    without it, payload fields need a batch of one type (``UsageError``
    otherwise). Integers come as int64, floats as float64, booleans as bool,
    strings (and book levels) as object arrays; a field that may be ``None``
    is a ``numpy.ma.MaskedArray`` (masked where ``None``).
    """
    body = _open(blob)
    wanted = list(fields)
    with _damage_is_an_error():
        envelope = _Envelope.of(body)
        payloads = _Payloads(body, registry, envelope.positions)
        chosen = payloads.selection(type_name)
        out = {
            name: _pick(envelope.array(name), chosen) for name in wanted if name in ENVELOPE_FIELDS and name != "type"
        }
        if "type" in wanted:
            out["type"] = _pick(payloads.type_names(), chosen)
        payload_fields = [name for name in wanted if name not in ENVELOPE_FIELDS]
        if payload_fields:
            out.update(payloads.field_arrays(payload_fields, chosen, type_name))
        return out


# -- the envelope ------------------------------------------------------------------------------

_ASTUPLE = msgspec.structs.astuple
_EVENT_FIELDS = Event.__struct_fields__


class _Encoder:
    """The body of one batch, column by column."""

    def __init__(self, events: Sequence[Event]) -> None:
        if not events:
            raise UsageError("an empty batch has nothing to encode: a batch holds at least one event")
        if len(events) > col.MAX_VALUES:
            raise UsageError(f"a batch holds at most {col.MAX_VALUES} events, not {len(events)}: split it")
        self.events = events
        # One pass over the events makes every envelope column (a C-level transpose).
        self.columns = dict(zip(_EVENT_FIELDS, map(list, zip(*map(_ASTUPLE, events), strict=True)), strict=True))
        streams = set(self.columns["stream"])
        self.stream = events[0].stream
        if len(streams) != 1 or type(self.stream) is not str:
            names = ", ".join(repr(s) for s in dict.fromkeys(self.columns["stream"]))
            raise UsageError(f"a batch holds the events of one stream; this one mixes {names}")

    def body(self) -> _Body:
        ts_event = self._ints("ts_event")
        ts_recv = self._ints("ts_recv")
        kinds, codes, blocks = _payload_blocks(self.columns["payload"])
        return _Body(
            len(self.events),
            self.stream,
            col.encode_ints(self._ints("position")),
            col.encode_ints(self._ints("version")),
            col.encode_ints(ts_event),
            col.encode_ints((ts_recv.view(np.uint64) - ts_event.view(np.uint64)).view(np.int64)),
            col.encode_text(self._texts("id"), reference=ts_event),
            col.encode_text(self._texts("session")),
            self._causations(),
            kinds,
            col.encode_ints(codes),
            blocks,
        )

    def _ints(self, name: str) -> col.Int64s:
        values = self.columns[name]
        array = col.int64s(values)
        if array is None:
            self._refuse(values, name, _int64, "an int within 64 bits")
        return array

    def _texts(self, name: str) -> list[str]:
        values = self.columns[name]
        if not col.texts(values):
            self._refuse(values, name, lambda v: type(v) is str, "a string")
        return values

    def _causations(self) -> col.Column | None:
        values = self.columns["causation"]
        present = col.presence(values)
        if not present.any():
            return None
        given = list(compress(values, present))
        ints = col.int64s(given)
        if ints is None:
            self._refuse(
                values, "causation", lambda v: v is None or (type(v) is int and -(2**63) <= v < 2**63), "an int"
            )
        if present.all():
            return col.encode_ints(ints)
        return col.Nullable(col.encode_ints(present.astype(np.int64)), col.encode_ints(ints))

    def _refuse(self, values: list[Any], name: str, fits: Callable[[Any], bool], what: str) -> NoReturn:
        index = next(i for i, v in enumerate(values) if not fits(v))
        event = self.events[index]
        where = f"event {index + 1} of the batch, id {event.id!r}"
        raise InvalidEventError(self.stream, event.type, f"{name} {values[index]!r} is not {what}", where)


def _int64(value: object) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63


class _Envelope:
    """The envelope columns of a body, each decoded when first asked for."""

    def __init__(self, body: _Body) -> None:
        if body.count < 1:
            raise ValueError(f"a batch claims {body.count} events")
        self.body = body

    @classmethod
    def of(cls, body: _Body) -> _Envelope:
        return cls(body)

    @cached_property
    def positions(self) -> col.Int64s:
        return _ints(self.body.positions, self.body.count)

    @cached_property
    def versions(self) -> col.Int64s:
        return _ints(self.body.versions, self.body.count)

    @cached_property
    def ts_event(self) -> col.Int64s:
        return _ints(self.body.ts_event, self.body.count)

    @cached_property
    def ts_recv(self) -> col.Int64s:
        offsets = _ints(self.body.ts_recv, self.body.count)
        return (offsets.view(np.uint64) + self.ts_event.view(np.uint64)).view(np.int64)

    @cached_property
    def ids(self) -> list[str]:
        return col.decode_text(self.body.ids, self.body.count, reference=self.ts_event)

    @cached_property
    def sessions(self) -> list[str]:
        return col.decode_text(self.body.sessions, self.body.count)

    @property
    def causations(self) -> list[int | None] | Iterable[None]:
        return _causations(self.body.causations, self.body.count)

    def array(self, name: str) -> npt.NDArray[Any]:
        """One envelope column as an array."""
        body = self.body
        if name in ("position", "version", "ts_event", "ts_recv"):
            ints: col.Int64s = getattr(self, {"position": "positions", "version": "versions"}.get(name, name))
            return ints
        if name == "causation":
            values = list(self.causations)
            present = col.presence(values)
            filled = [0 if v is None else v for v in values]
            return np.ma.MaskedArray(np.array(filled, dtype=np.int64), mask=~present)
        if name == "stream":
            return np.array([body.stream] * body.count, dtype=object)
        if name == "session":
            return col.text_array(body.sessions, body.count)
        if name == "id":
            return col.text_array(body.ids, body.count, reference=self.ts_event)
        raise AssertionError(f"{name} is not an envelope column")


def _ints(column: col.IntColumn, count: int) -> col.Int64s:
    if column.count != count:
        raise ValueError(f"a column claims {column.count} values, not {count}")
    values = col.decode_ints(column)
    if len(values) != count:
        raise ValueError(f"an envelope column holds {len(values)} values, not {count}")
    return values


def _causations(column: col.Column | None, count: int) -> list[int | None] | Iterable[None]:
    if column is None:
        return repeat(None, count)
    if isinstance(column, col.IntColumn):
        values: list[int | None] = _ints(column, count).tolist()
        return values
    if not isinstance(column, col.Nullable) or not isinstance(column.values, col.IntColumn):
        raise ValueError("the causation column is not integers")
    present = _ints(column.present, count)
    return col.spread(present, col.decode_ints(column.values).tolist())


def _objects(values: list[Any]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _pick(array: npt.NDArray[Any], chosen: npt.NDArray[np.intp] | None) -> npt.NDArray[Any]:
    return array if chosen is None else array[chosen]


# -- payload blocks ----------------------------------------------------------------------------


FieldKind = Literal["int", "float", "text", "bool", "levels"]


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

    A class qualifies when it takes its fields positionally in declaration order
    and every field is a scalar without constraints (or ``| None`` of one) or book levels.
    """
    names = cls.__struct_fields__
    if not names:
        return None
    parameters = list(inspect.signature(cls).parameters.values())
    if [p.name for p in parameters] != list(names) or any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    fields = [_field(f.name, f.type) for f in mi.type_info(cls).fields]  # type: ignore[attr-defined]
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


def _payload_blocks(payloads: list[Payload]) -> tuple[list[tuple[str, int]], col.Int64s, list[Block]]:
    classes: list[type[Payload]] = list(map(type, payloads))
    distinct = list(dict.fromkeys(classes))
    if len(distinct) == 1:
        return [(distinct[0].TYPE, distinct[0].SCHEMA)], np.zeros(len(payloads), np.int64), [_block(payloads)]
    numbers = {cls: n for n, cls in enumerate(distinct)}
    codes = np.fromiter(map(numbers.__getitem__, classes), np.int64, len(classes))
    blocks = [_block(list(map(payloads.__getitem__, np.flatnonzero(codes == n).tolist()))) for n in numbers.values()]
    return [(cls.TYPE, cls.SCHEMA) for cls in distinct], codes, blocks


def _block(payloads: list[Payload]) -> Block:
    """The block of payloads of one class: columnar when every value fits its column exactly."""
    plan = _plan(type(payloads[0]))
    if plan is not None:
        fields = map(list, zip(*map(_ASTUPLE, payloads), strict=True))
        columns = [_encode_field(field, values) for field, values in zip(plan, fields, strict=True)]
        if None not in columns:
            return ColumnarBlock([field.name for field in plan], [c for c in columns if c is not None])
    encoded = list(map(PAYLOAD_ENCODER.encode, payloads))
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    return JsonBlock(col.encode_ints(lengths), b",".join(encoded))


def _encode_field(field: _Field, values: list[Any]) -> col.Column | None:
    if not field.optional:
        return _encode_plain(field, values)
    present = col.presence(values)
    if present.all():
        return _encode_plain(field, values)
    inner = _encode_plain(field, list(compress(values, present)))
    return None if inner is None else col.Nullable(col.encode_ints(present.astype(np.int64)), inner)


def _encode_plain(field: _Field, values: list[Any]) -> col.Plain | None:
    if field.kind == "int":
        ints = col.int64s(values)
        return None if ints is None else col.encode_ints(ints)
    if field.kind == "float":
        floats = col.floats64(values)
        return None if floats is None else col.encode_floats(floats)
    if field.kind == "text":
        fits = col.texts(values) and (field.choices is None or field.choices.issuperset(values))
        return col.encode_text(values) if fits else None
    if field.kind == "bool":
        return col.encode_bools(values) if all(t is bool for t in set(map(type, values))) else None
    levels = col.level_arrays(values)
    return None if levels is None else col.encode_levels(*levels)


def _decode_field(field: _Field, column: col.Column, count: int) -> list[Any]:
    if isinstance(column, col.Nullable):
        if not field.optional:
            raise ValueError(f"field {field.name} cannot be None")
        present = _ints(column.present, count)
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


class _Payloads:
    """The payload blocks of a body, decoded on demand."""

    def __init__(self, body: _Body, registry: TypeRegistry, positions: col.Int64s) -> None:
        if len(body.kinds) != len(body.blocks) or not body.kinds:
            raise ValueError("a batch's kinds and payload blocks do not match")
        self.body, self.registry, self.positions = body, registry, positions
        self.codes = _ints(body.kind_codes, body.count)
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
        """The indexes of the events of ``type_name`` (``None``: all of them)."""
        if type_name is None:
            return None
        numbers = [n for n, (name, _) in enumerate(self.body.kinds) if name == type_name]
        return np.flatnonzero(np.isin(self.codes, numbers))

    def field_arrays(
        self, names: list[str], chosen: npt.NDArray[np.intp] | None, type_name: str | None
    ) -> dict[str, npt.NDArray[Any]]:
        """Payload fields of the chosen events as arrays."""
        numbers = sorted(set(self.codes[chosen].tolist())) if chosen is not None else list(range(len(self.body.kinds)))
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
            return {n: _field_array(fields[n], columns[n], count) for n in names}
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
        present = _ints(column.present, count)
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


def _field_array(field: _Field, column: col.Column, count: int) -> npt.NDArray[Any]:
    """One columnar field as an array, straight from its column where the field has no ``None``."""
    if isinstance(column, col.Nullable) or field.kind == "levels":
        return _values_array(field, _decode_field(field, column, count))
    if field.kind == "int" and isinstance(column, col.IntColumn):
        array: npt.NDArray[Any] = _ints(column, count)
    elif field.kind == "float" and isinstance(column, col.FloatColumn):
        array = col.decode_floats(column)
    elif field.kind == "text" and isinstance(column, col.Text):
        array = col.text_array(column, count)
    else:
        return _values_array(field, _decode_field(field, column, count))
    if len(array) != count:
        raise ValueError(f"field {field.name} holds {len(array)} values, not {count}")
    return np.ma.MaskedArray(array, mask=np.zeros(count, bool)) if field.optional else array


_DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_}


def _values_array(field: _Field | None, values: list[Any]) -> npt.NDArray[Any]:
    dtype = None if field is None else _DTYPES.get(field.kind)
    if dtype is None:
        return _objects(values)
    if field is not None and field.optional:
        present = col.presence(values)
        filled = [v if p else 0 for v, p in zip(values, present.tolist(), strict=True)]
        return np.ma.MaskedArray(np.array(filled, dtype=dtype), mask=~present)
    return np.array(values, dtype=dtype)


# -- the frame ---------------------------------------------------------------------------------


def _compressor(level: int) -> zstandard.ZstdCompressor:
    # One compressor per thread and level: zstd contexts are not thread-safe, and cost to make.
    cache_: dict[int, zstandard.ZstdCompressor] = _LOCAL.__dict__.setdefault("compressors", {})
    compressor = cache_.get(level)
    if compressor is None:
        if not 1 <= level <= 22:
            raise UsageError(f"zstd level {level} is not 1 to 22")
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
        cache_[level] = compressor
    return compressor


def _open(blob: bytes) -> _Body:
    """The body of a blob; ``CorruptDatabaseError`` (or ``SchemaVersionError``) when it cannot be one."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < 2:
        raise _damaged("it is not a batch blob")
    version = blob[0]
    if version > FORMAT_VERSION:
        raise SchemaVersionError(f"event batch format {version} is newer than this Virtuoso reads ({FORMAT_VERSION})")
    if version != FORMAT_VERSION:
        raise _damaged(f"format byte {version}")
    frame = bytes(blob[1:])
    try:
        size = zstandard.frame_content_size(frame)
        if not 0 <= size <= MAX_BODY_BYTES:
            raise _damaged(f"its frame declares {size} bytes")
        raw = zstandard.ZstdDecompressor().decompress(frame, allow_extra_data=False)
        return _BODY_DECODER.decode(raw)
    except (zstandard.ZstdError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _damaged(str(exc)) from exc


@contextmanager
def _damage_is_an_error() -> Iterator[None]:
    """Turn any failure of decoding a body into ``CorruptDatabaseError``; our own errors pass through."""
    try:
        yield
    except VirtuosoError:
        raise
    except Exception as error:
        raise _damaged(f"{type(error).__name__}: {error}") from error


def _damaged(reason: str) -> CorruptDatabaseError:
    return CorruptDatabaseError(f"damaged event batch: {reason}")
