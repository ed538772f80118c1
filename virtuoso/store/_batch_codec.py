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

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from typing import Any, NoReturn

import msgspec
import numpy as np
import numpy.typing as npt
import zstandard

from virtuoso.errors import (
    CorruptDatabaseError,
    InvalidEventError,
    SchemaVersionError,
    UsageError,
    VirtuosoError,
)
from virtuoso.events import REGISTRY, Event, TypeRegistry
from virtuoso.store import _batch_columns as col
from virtuoso.store._batch_blocks import Block, Payloads, payload_blocks

FORMAT_VERSION = 1
"""The first byte of every blob; a blob of a later version is refused with ``SchemaVersionError``."""

MAX_BODY_BYTES = 1 << 31
"""The largest decompressed batch read: a damaged frame header cannot make the reader allocate more."""

DEFAULT_LEVEL = 3
"""zstd level of :func:`encode_batch`: fast enough for live commits; sealing may use a higher one."""

ENVELOPE_FIELDS = ("position", "version", "ts_event", "ts_recv", "id", "stream", "session", "causation", "type")
"""The envelope names :func:`decode_columns` knows, besides the payload's fields."""


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
    _check_size(len(events))
    return _encoded(_Encoder(envelope_columns(events), len(events)), level)


def encode_columns(
    columns: Mapping[str, list[Any]],
    *,
    level: int = DEFAULT_LEVEL,
    gathered: Mapping[str, col.Gathered] | None = None,
    payload_fields: Mapping[str, col.Gathered] | None = None,
) -> bytes:
    """The blob :func:`encode_batch` makes of the events whose fields are ``columns`` (one list per
    ``Event`` field, by name, all of one length): the same bytes, without an ``Event`` per event.

    ``gathered`` holds envelope columns already gathered (their exact types known, numbers as arrays) and
    ``payload_fields`` the payloads' fields so (every field of their one class): what a bulk constructor
    had, given so as not to be extracted from every value again. They must be what gathering the values
    would give; the bytes are the same.

    >>> from virtuoso.events import Event, Trade
    >>> trades = [Trade(1.0 + n, 0.5, "buy", str(n)) for n in range(3)]
    >>> events = [Event(f"e{n}", "x:BTC/USDT:trades", n, n + 5, "s", trade, None, n + 1, n + 1)
    ...           for n, trade in enumerate(trades)]
    >>> fields = {name: [getattr(e, name) for e in events] for name in Event.__struct_fields__}
    >>> encode_columns(fields) == encode_batch(events)
    True
    """
    count = len(columns["id"])
    _check_size(count)
    given = gathered or {}
    envelope = {
        name: given[name] if name in given else col.Gathered.of(columns[name], _CONVERSIONS.get(name))
        for name in Event.__struct_fields__
    }
    return _encoded(_Encoder(envelope, count, payload_fields), level)


def _check_size(count: int) -> None:
    if not count:
        raise UsageError("an empty batch has nothing to encode: a batch holds at least one event")
    if count > col.MAX_VALUES:
        raise UsageError(f"a batch holds at most {col.MAX_VALUES} events, not {count}: split it")


def _encoded(encoder: _Encoder, level: int) -> bytes:
    try:
        raw = _ENCODE_BODY(encoder.body())
    except (msgspec.EncodeError, UnicodeEncodeError) as exc:  # a string UTF-8 cannot hold (a lone surrogate)
        raise InvalidEventError(encoder.stream, "Event", f"cannot be encoded: {exc}") from exc
    except ValueError as exc:  # a column past MAX_VALUES (book levels: the event count is checked first)
        raise UsageError(f"cannot encode the batch: {exc}") from exc
    return bytes((FORMAT_VERSION,)) + _compressor(level).compress(raw)


def decode_batch(blob: bytes, registry: TypeRegistry = REGISTRY) -> list[Event]:
    """The events of a blob, equal to those encoded (payloads of older schemas upcast by ``registry``).

    A damaged blob raises ``CorruptDatabaseError``; a payload the registry cannot
    read raises ``UnknownEventType`` or ``EventDecodeError``, as a row would.
    """
    return _events(_open(blob), registry)


def _events(body: _Body, registry: TypeRegistry) -> list[Event]:
    with _damage_is_an_error():
        col.decode_int_columns(col.int_columns(body))  # all at once: every column is needed
        envelope = _Envelope.of(body)
        payloads = Payloads(body, registry, envelope.positions).objects()
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
        col.decode_int_columns([body.positions, body.kind_codes, *col.int_columns(body.blocks)])
        return Payloads(body, registry, _Envelope.of(body).positions).stored_bytes()


def batch_summary(blob: bytes) -> BatchSummary:
    """What a batch's index row holds: its stream, count, positions, versions and time range."""
    body = _open(blob)
    with _damage_is_an_error():
        col.decode_int_columns([body.positions, body.versions, body.ts_event])
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
    return ColumnReader(blob, registry).columns(fields, type_name)


class ColumnReader:
    """One blob opened once, its columns decoded when first asked for (a column read asks for several sets).

    With ``arrow_text``, text columns (ids, streams, sessions, text fields of a
    columnar block) come as ``pyarrow`` string arrays made without a ``str`` per
    value (``_arrow_text``); otherwise as object arrays, like :func:`decode_columns`.
    A damaged blob raises ``CorruptDatabaseError`` from any method.
    """

    def __init__(self, blob: bytes, registry: TypeRegistry = REGISTRY, *, arrow_text: bool = False) -> None:
        body = self._body = _open(blob)
        self._registry = registry
        with _damage_is_an_error():
            if body.count <= col.DECODED_TOGETHER:  # a live commit's blob: a dozen short columns, decoded as one matrix
                col.decode_int_columns(col.int_columns(body))
            self._envelope = _Envelope.of(body)
            self._payloads = Payloads(body, registry, self._envelope.positions)
        self._arrow_text = arrow_text
        self._kept: dict[str, Any] = {}

    def events(self) -> list[Event]:
        """Every event of the batch, as :func:`decode_batch` gives them (the blob is not opened again)."""
        return _events(self._body, self._registry)

    def envelope(self, name: str) -> Any:
        """One envelope column (:data:`ENVELOPE_FIELDS`) of every event of the batch."""
        kept = self._kept.get(name)
        if kept is None:
            with _damage_is_an_error():
                if name == "type":
                    kept = self._payloads.type_names()
                else:
                    kept = self._envelope.array(name, arrow_text=self._arrow_text)
            self._kept[name] = kept
        return kept

    def equals(self, name: str, value: str) -> npt.NDArray[np.bool_]:
        """Which events have ``value`` in the text envelope column ``name``."""
        if name == "session" and not self._arrow_text and isinstance(self._body.sessions, col.DictText):
            with _damage_is_an_error():  # a dictionary's few values compared, not one object a row
                return col.dictionary_equals(self._body.sessions, self._body.count, value)
        column = self.envelope(name)
        if isinstance(column, np.ndarray):
            same: npt.NDArray[np.bool_] = column == value
            return same
        from virtuoso.store import _arrow_text  # noqa: PLC0415 - an Arrow column: pyarrow is loaded already

        return _arrow_text.equals(column, value)

    def of_types(self, names: Iterable[str]) -> npt.NDArray[np.bool_]:
        """Which events are of one of the types ``names``."""
        return self._payloads.of_types(set(names))

    def types_among(self, rows: npt.NDArray[np.bool_]) -> list[str]:
        """The type names of the events where ``rows`` is true, in order of first appearance."""
        return self._payloads.types_among(rows)

    def columns(self, fields: Iterable[str], type_name: str | None = None) -> dict[str, Any]:
        """Chosen columns, as :func:`decode_columns` gives them (text as Arrow with ``arrow_text``)."""
        wanted = list(fields)
        with _damage_is_an_error():
            chosen = self._payloads.selection(type_name)
            out = {name: _pick(self.envelope(name), chosen) for name in wanted if name in ENVELOPE_FIELDS}
            payload_fields = [name for name in wanted if name not in ENVELOPE_FIELDS]
            if payload_fields:
                out.update(self._payloads.field_arrays(payload_fields, chosen, type_name, arrow_text=self._arrow_text))
            return out


# -- the envelope ------------------------------------------------------------------------------


_CONVERSIONS: dict[str, col.Conversion] = {
    **dict.fromkeys(("ts_event", "ts_recv", "version", "position"), "int"),
    **dict.fromkeys(("stream", "payload"), "raw"),  # judged by value and by class, not by these types
}


def envelope_columns(events: Sequence[Event]) -> dict[str, col.Gathered]:
    """The events' fields (``Event.__struct_fields__``), gathered; the integer ones also as int64 arrays."""
    conversions = [_CONVERSIONS.get(name) for name in Event.__struct_fields__]
    return dict(zip(Event.__struct_fields__, col.gather(events, _envelope_lists, conversions), strict=True))


def _envelope_lists(events: Sequence[Event]) -> list[list[Any]]:
    # One comprehension per field is the cheapest transpose CPython has: its attribute loads are specialised,
    # where zip(*map(astuple, events)) builds a tuple per event (three times slower once the GC walks them).
    return [
        [e.id for e in events],
        [e.stream for e in events],
        [e.ts_event for e in events],
        [e.ts_recv for e in events],
        [e.session for e in events],
        [e.payload for e in events],
        [e.causation for e in events],
        [e.version for e in events],
        [e.position for e in events],
    ]


class _Encoder:
    """The body of one batch, column by column."""

    def __init__(
        self, gathered: dict[str, col.Gathered], count: int, payload_fields: Mapping[str, col.Gathered] | None = None
    ) -> None:
        # Every envelope column, its exact types and (integers) its int64 array.
        self.gathered = gathered
        self.count = count
        self.payload_fields = payload_fields
        self.columns = {name: column.values for name, column in gathered.items()}
        streams = set(self.columns["stream"])
        self.stream = self.columns["stream"][0]
        if len(streams) != 1 or type(self.stream) is not str:
            names = ", ".join(repr(s) for s in dict.fromkeys(self.columns["stream"]))
            raise UsageError(f"a batch holds the events of one stream; this one mixes {names}")

    def body(self) -> _Body:
        queue = col.IntQueue()
        ts_event = self._ints("ts_event")
        ts_recv = self._ints("ts_recv")
        payloads = self.gathered["payload"]
        kinds, codes, blocks = payload_blocks(payloads.values, queue, payloads.types, self.payload_fields)
        positions = queue.add(self._ints("position"))
        versions = queue.add(self._ints("version"))
        times = queue.add(ts_event)
        latencies = queue.add((ts_recv.view(np.uint64) - ts_event.view(np.uint64)).view(np.int64))
        ids = col.encode_text(self._texts("id"), queue, reference=ts_event)
        sessions = col.encode_text(self._texts("session"), queue)
        causations = self._causations(queue)
        kind_codes = queue.add(codes)
        queue.encode()
        return _Body(
            self.count,
            self.stream,
            positions(),
            versions(),
            times(),
            latencies(),
            ids(),
            sessions(),
            causations(),
            kinds,
            kind_codes(),
            [block() for block in blocks],
        )

    def _ints(self, name: str) -> col.Int64s:
        gathered = self.gathered[name]
        if gathered.array is None:
            self._refuse(gathered.values, name, _int64, "an int within 64 bits")
        return gathered.array

    def _texts(self, name: str) -> list[str]:
        gathered = self.gathered[name]
        if gathered.types != {str}:
            self._refuse(gathered.values, name, lambda v: type(v) is str, "a string")
        return gathered.values

    def _causations(self, queue: col.IntQueue) -> col.Later[col.Column | None]:
        values = self.columns["causation"]
        present = col.presence(values)
        if not present.any():
            return lambda: None
        given = list(compress(values, present))
        ints = col.int64s(given)
        if ints is None:
            self._refuse(
                values, "causation", lambda v: v is None or (type(v) is int and -(2**63) <= v < 2**63), "an int"
            )
        if present.all():
            return queue.add(ints)
        flags, inner = queue.add(present.astype(np.int64)), queue.add(ints)
        return lambda: col.Nullable(flags(), inner())

    def _refuse(self, values: list[Any], name: str, fits: Callable[[Any], bool], what: str) -> NoReturn:
        index = next(i for i, v in enumerate(values) if not fits(v))
        event_id, payload = self.columns["id"][index], self.columns["payload"][index]
        where = f"event {index + 1} of the batch, id {event_id!r}"
        raise InvalidEventError(
            self.stream,
            getattr(payload, "TYPE", type(payload).__name__),
            f"{name} {values[index]!r} is not {what}",
            where,
        )


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
        return col.counted_ints(self.body.positions, self.body.count)

    @cached_property
    def versions(self) -> col.Int64s:
        return col.counted_ints(self.body.versions, self.body.count)

    @cached_property
    def ts_event(self) -> col.Int64s:
        return col.counted_ints(self.body.ts_event, self.body.count)

    @cached_property
    def ts_recv(self) -> col.Int64s:
        offsets = col.counted_ints(self.body.ts_recv, self.body.count)
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

    def array(self, name: str, *, arrow_text: bool = False) -> Any:
        """One envelope column as an array (text as an Arrow string array with ``arrow_text``)."""
        body = self.body
        if name in ("position", "version", "ts_event", "ts_recv"):
            ints: col.Int64s = getattr(self, {"position": "positions", "version": "versions"}.get(name, name))
            return ints
        if name == "causation":
            return _causation_array(body.causations, body.count)
        if name not in ("stream", "session", "id"):
            raise AssertionError(f"{name} is not an envelope column")
        return self._text(name, arrow_text)

    def _text(self, name: str, arrow_text: bool) -> Any:
        body = self.body
        reference = self.ts_event if name == "id" else None
        if arrow_text:
            from virtuoso.store import _arrow_text as arrow  # noqa: PLC0415 - loads pyarrow: column reads only

            if name == "stream":
                return arrow.repeated(body.stream, body.count)
            return arrow.text_arrow(body.ids if name == "id" else body.sessions, body.count, reference)
        if name == "stream":
            return np.array([body.stream] * body.count, dtype=object)
        return col.text_array(body.ids if name == "id" else body.sessions, body.count, reference)


def _causation_array(column: col.Column | None, count: int) -> np.ma.MaskedArray[Any, Any]:
    """The causations as int64, masked where ``None``: array operations only."""
    if column is None:
        return np.ma.MaskedArray(np.zeros(count, np.int64), mask=np.ones(count, np.bool_))
    if isinstance(column, col.IntColumn):
        return np.ma.MaskedArray(col.counted_ints(column, count), mask=np.zeros(count, np.bool_))
    if not isinstance(column, col.Nullable) or not isinstance(column.values, col.IntColumn):
        raise ValueError("the causation column is not integers")
    present = col.counted_ints(column.present, count)
    values = col.decode_ints(column.values)
    if len(present) and not 0 <= present.min() <= present.max() <= 1:
        raise ValueError("a nullable column's flags are not 0 and 1")
    if int(present.sum()) != len(values):
        raise ValueError("a nullable column's flags do not match its values")
    filled = np.zeros(count, np.int64)
    filled[present == 1] = values
    return np.ma.MaskedArray(filled, mask=present == 0)


def _causations(column: col.Column | None, count: int) -> list[int | None] | Iterable[None]:
    if column is None:
        return repeat(None, count)
    if isinstance(column, col.IntColumn):
        values: list[int | None] = col.counted_ints(column, count).tolist()
        return values
    if not isinstance(column, col.Nullable) or not isinstance(column.values, col.IntColumn):
        raise ValueError("the causation column is not integers")
    present = col.counted_ints(column.present, count)
    return col.spread(present, col.decode_ints(column.values).tolist())


def _pick(array: Any, chosen: npt.NDArray[np.intp] | None) -> Any:
    if chosen is None:
        return array
    return array[chosen] if isinstance(array, np.ndarray) else array.take(chosen)


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


def _decompressor() -> zstandard.ZstdDecompressor:
    decompressor: zstandard.ZstdDecompressor | None = getattr(_LOCAL, "decompressor", None)
    if decompressor is None:
        decompressor = _LOCAL.decompressor = zstandard.ZstdDecompressor()
    return decompressor


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
        raw = _decompressor().decompress(frame, allow_extra_data=False)
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
