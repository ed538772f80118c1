"""Column encodings of the batch format: 64-bit integers, floats, strings, their nullable forms, book levels.

Every column is a small msgspec struct (array-like, tagged) holding numpy buffers
as bytes; the batch codec (``_batch_codec``) msgpacks a batch's columns and zstd
compresses the whole. The encodings make the bytes easy for zstd:

* **integers** are stored from their first value as deltas (when that is
  smaller) or offsets, divided by their common divisor (milliseconds in
  nanosecond times become small numbers), zigzag-mapped (small negatives stay
  small), cut to the bytes the largest needs and **byte-shuffled** (all the
  low bytes, then the next ones...), so runs of equal bytes line up;
* **floats** that are short decimals (``61832.01``, ``0.00909``) are stored as
  the integers ``round(x * 10**d)`` with the smallest ``d`` whose division
  ``m / 10**d`` gives back the very same bits (IEEE division is correctly
  rounded, so this is exact); any other float keeps its raw 64 bits;
* **strings** are dictionary-encoded when values repeat, stored as canonical
  decimal integers when they are (trade ids), as two 64-bit halves when they are
  32 lowercase hex digits (``EventIdFactory`` ids), else as a plain list.

Decoding inverts each step with numpy array operations, never a Python loop per
value. Every decode checks the sizes it relies on and raises ``ValueError``
on a mismatch; the codec turns any failure into one error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import is_not
from typing import Any, Literal, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_U64 = np.dtype("<u8")
_I64 = np.dtype("<i8")
_INT64_MIN = -(2**63)
_EXACT_DECIMALS = 2**53
"""Scaled decimals must stay below this to be exact in a float64."""
_MAX_DECIMALS = 18
MAX_VALUES = 2**24
"""The most values one column holds (16.7 million, 128 MiB as int64): a damaged count cannot make a reader
allocate more, however small the blob (a column of equal steps compresses to almost nothing)."""
_SAMPLE = 64
_COST_SAMPLE = 4096

T = TypeVar("T")
Later = Callable[[], T]
"""A column to be made once its integers are encoded (see :class:`IntQueue`)."""


class IntColumn(msgspec.Struct, array_like=True, frozen=True, tag=1, dict=True):
    """``count`` signed 64-bit integers: ``first``, then ``count - 1`` stored values.

    A stored value is ``(x[i] - x[i-1])`` when ``delta`` else ``(x[i] - first)``,
    divided by ``step``, zigzag-mapped, ``width`` bytes wide, byte-shuffled.
    Once decoded, a column keeps its values (in ``__dict__``, which ``dict=True`` gives it).
    """

    count: int
    first: int
    delta: bool
    step: int
    width: int
    data: bytes


class FloatColumn(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """Floats: ``ints / 10**decimals`` when ``decimals >= 0``, else ``ints`` are the raw IEEE bits."""

    decimals: int
    ints: IntColumn


class DictText(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """Strings as indexes (``codes``) into their distinct ``values``, in first-seen order."""

    values: list[str]
    codes: IntColumn


class PlainText(msgspec.Struct, array_like=True, frozen=True, tag=4):
    """Strings as they are."""

    values: list[str]


class IntText(msgspec.Struct, array_like=True, frozen=True, tag=5):
    """Strings that are canonical decimal integers (``str(int(s)) == s``) within 64 bits."""

    ints: IntColumn


class HexText(msgspec.Struct, array_like=True, frozen=True, tag=6):
    """Strings of exactly 32 lowercase hex digits, as two 64-bit halves.

    ``high`` is stored minus a reference column the caller gives (the batch's
    exchange times: an ``EventIdFactory`` id starts with the time it was made for).
    """

    high: IntColumn
    low: IntColumn


class BoolColumn(msgspec.Struct, array_like=True, frozen=True, tag=7):
    """Booleans as 0/1 integers."""

    ints: IntColumn


class LevelsColumn(msgspec.Struct, array_like=True, frozen=True, tag=8):
    """Per value, a tuple of ``(price, amount)`` pairs: the count per value, then all prices and all amounts."""

    counts: IntColumn
    prices: FloatColumn
    amounts: FloatColumn


Text = DictText | PlainText | IntText | HexText
Plain = IntColumn | FloatColumn | DictText | PlainText | IntText | HexText | BoolColumn | LevelsColumn


class Nullable(msgspec.Struct, array_like=True, frozen=True, tag=9):
    """A column with ``None`` in places: 0/1 ``present`` flags, and ``values`` of the present ones only."""

    present: IntColumn
    values: Plain


Column = Plain | Nullable


# -- transposing ----------------------------------------------------------------------------

_CHUNK = 1024
"""Objects transposed at a time: a chunk's objects stay in the CPU's cache for all the passes over them."""

Conversion = Literal["int", "float", "raw"] | None
"""What a gathered field is also made into: an int64 or float64 array, nothing, or (``raw``) not even its types."""


@dataclass(slots=True)
class Gathered:
    """One field of many objects: its values, their exact types and, when asked for and they fit, an array."""

    values: list[Any]
    types: set[type[Any]]
    array: npt.NDArray[Any] | None = None

    @classmethod
    def of(cls, values: list[Any], conversion: Conversion = None) -> Gathered:
        """``values`` gathered in one go."""
        types = set(map(type, values)) if conversion != "raw" else set()
        return cls(values, types, _converted(values, types, conversion))


def gather(
    items: Sequence[T], columns_of: Callable[[Sequence[T]], list[list[Any]]], conversions: Sequence[Conversion]
) -> list[Gathered]:
    """Each field of ``items`` (``columns_of`` gives one list per field), gathered a chunk of items at a time.

    A pass per field over a whole batch reads every object (and every value
    object) once per field and check; objects scattered in memory (a batch taken
    from a larger log) then come from main memory each time, which made the
    transpose several times slower. Within a chunk, they stay in the CPU's cache
    for the extraction, the type check and the conversion of every field.
    """
    chunks = [
        [Gathered.of(values, conversion) for values, conversion in zip(columns_of(chunk), conversions, strict=True)]
        for chunk in (items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK))
    ]
    if len(chunks) == 1:
        return chunks[0]
    fields: list[Gathered] = []
    for number, conversion in enumerate(conversions):
        parts = [chunk[number] for chunk in chunks]
        arrays = [part.array for part in parts if part.array is not None]
        fields.append(
            Gathered(
                list(chain.from_iterable(part.values for part in parts)),
                set().union(*(part.types for part in parts)),
                np.concatenate(arrays) if conversion is not None and len(arrays) == len(parts) else None,
            )
        )
    return fields


def _converted(values: list[Any], types: set[type[Any]], conversion: Conversion) -> npt.NDArray[Any] | None:
    if conversion == "int":
        return int64s(values, types)
    if conversion == "float":
        return floats64(values, types)
    return None


# -- integers -------------------------------------------------------------------------------


class IntQueue:
    """Integer arrays queued to be encoded together: one set of array operations for all of a batch's columns.

    A batch has a dozen integer columns (times, ids, scaled prices, codes...);
    encoded one by one, the fixed cost of some thirty numpy calls each is most
    of a small batch's time. Encoders queue their arrays with :meth:`add`, which
    hands back a thunk; :meth:`encode` encodes every queued array (those of one
    length as the rows of one matrix) and the thunks then give the columns.
    """

    def __init__(self) -> None:
        self._arrays: list[Int64s] = []
        self._columns: list[IntColumn] = []

    def add(self, values: Int64s) -> Later[IntColumn]:
        """Queue ``values``; the thunk gives their column once :meth:`encode` has run."""
        _check_count(len(values))
        index = len(self._arrays)
        self._arrays.append(values)
        return lambda: self._columns[index]

    def encode(self) -> None:
        """Encode every queued array."""
        self._columns = encode_int_columns(self._arrays)


def encode_int_columns(arrays: Sequence[Int64s]) -> list[IntColumn]:
    """The integer column of each int64 array, arrays of one length encoded together as a matrix."""
    columns: list[IntColumn | None] = [None] * len(arrays)
    for length, indexes in _by_length(list(map(len, arrays))).items():
        _check_count(length)
        if length < 2:
            for index in indexes:
                columns[index] = IntColumn(length, int(arrays[index][0]) if length else 0, False, 1, 0, b"")
            continue
        matrix = np.stack([arrays[index] for index in indexes]).view(_U64)
        for index, column in zip(indexes, _encode_rows(matrix), strict=True):
            columns[index] = column
    return [c for c in columns if c is not None]


def _encode_rows(bits: npt.NDArray[np.uint64]) -> list[IntColumn]:
    """The columns of each row of a matrix of at least two values a row (int64 bits as uint64)."""
    rows, length = bits.shape
    deltas = np.diff(bits, axis=1).view(_I64)
    offsets = (bits[:, 1:] - bits[:, :1]).view(_I64)
    sample = np.stack([deltas, offsets])[:, :, :: max((length - 1) // _COST_SAMPLE, 1)]
    # Roughly how many bits each form needs: its magnitudes' logarithms, summed over an even sample.
    cost = np.log2(np.abs(sample.astype(np.float64)) + 1.0).sum(axis=2)
    delta = cost[0] < cost[1]
    stored = np.where(delta[:, None], deltas, offsets)
    steps = _common_steps(stored)
    if (steps != 1).any():
        stored = stored // steps[:, None]
    zigzag = (stored.view(_U64) << np.uint64(1)) ^ (stored >> 63).view(_U64)
    widths = [(m.bit_length() + 7) // 8 for m in zigzag.max(axis=1).tolist()]
    planes = zigzag.view(np.uint8).reshape(rows, length - 1, 8)
    firsts = bits[:, 0].view(_I64).tolist()
    return [
        IntColumn(length, first, is_delta, step, width, planes[row, :, :width].T.tobytes())
        for row, (first, is_delta, step, width) in enumerate(
            zip(firsts, delta.tolist(), steps.tolist(), widths, strict=True)
        )
    ]


def _common_steps(stored: Int64s) -> Int64s:
    """The greatest common divisor of each row (1 when all are 0, or one is -2**63)."""
    steps: Int64s = np.gcd.reduce(stored, axis=1)
    steps[(steps <= 0) | (stored.min(axis=1) == _INT64_MIN)] = 1
    return steps


def decode_ints(column: IntColumn) -> Int64s:
    """The int64 values of an integer column; ``ValueError`` when its sizes do not add up.

    A column decoded before (by :func:`decode_int_columns`) gives the values it kept.
    """
    kept: Int64s | None = column.__dict__.get("values")
    if kept is None:
        _check_sizes(column)
        kept = column.__dict__["values"] = _decode_one(column)
    return kept


def decode_int_columns(columns: Sequence[IntColumn]) -> list[Int64s]:
    """The values of each integer column, columns of one length decoded together; each column keeps its values."""
    for column in columns:
        _check_sizes(column)
    out: list[Int64s | None] = [None] * len(columns)
    for count, indexes in _by_length([c.count for c in columns]).items():
        group = [columns[index] for index in indexes]
        if len(group) > 1 and 1 < count <= DECODED_TOGETHER:
            values = _decode_rows(group, count)
        else:
            values = [_decode_one(column) for column in group]
        for index, column, array in zip(indexes, group, values, strict=True):
            column.__dict__["values"] = out[index] = array
    return [a for a in out if a is not None]


def int_columns(node: object) -> list[IntColumn]:
    """Every integer column inside ``node`` (a body, a block, a column or a list of them), depth first."""
    if isinstance(node, IntColumn):
        return [node]
    if isinstance(node, msgspec.Struct):
        return [c for name in node.__struct_fields__ for c in int_columns(getattr(node, name))]
    if isinstance(node, list) and node and isinstance(node[0], msgspec.Struct):  # not the lists of strings
        return [c for item in node for c in int_columns(item)]
    return []


def _check_sizes(column: IntColumn) -> None:
    count, width = column.count, column.width
    sized = 0 <= count <= MAX_VALUES and 0 <= width <= 8 and len(column.data) == width * max(count - 1, 0)
    if not sized or column.step < 1:
        raise ValueError("an integer column's sizes do not add up")
    if not _INT64_MIN <= column.first < 2**63 or column.step >= 2**63:
        raise ValueError("an integer column's first value or step is beyond 64 bits")


DECODED_TOGETHER = 4_096
"""Columns longer than this are decoded one by one: there the fixed cost per column is nothing, and a matrix
would cost passes over every row for what only some need (a cumulative sum, a multiplication)."""


def _decode_one(column: IntColumn) -> Int64s:
    count, width = column.count, column.width
    if count == 0:
        return np.empty(0, _I64)
    out = np.empty(count, _U64)
    out[0] = np.int64(column.first).view(_U64)
    if count == 1:
        return out.view(_I64)
    stored = out[1:]  # decoded in place: one array, no temporaries of the column's length but the sign
    if width == 0:
        stored.fill(0)
    else:
        _unshuffle(column.data, width, stored)
        sign = stored & np.uint64(1)
        stored >>= np.uint64(1)
        np.negative(sign, out=sign)
        stored ^= sign
        if column.step != 1:
            stored *= np.uint64(column.step)
    if column.delta:
        np.cumsum(out, out=out)
    else:
        stored += out[0]
    return out.view(_I64)


_NARROW = 3
"""Up to this width, byte planes are or-ed into place one by one; wider ones go through an 8-byte matrix."""


def _unshuffle(data: bytes, width: int, out: npt.NDArray[np.uint64]) -> None:
    """The zigzag values of ``width`` byte planes, written into ``out``."""
    planes = np.frombuffer(data, np.uint8).reshape(width, len(out))
    if width <= _NARROW:
        np.copyto(out, planes[0], casting="unsafe")
        for number in range(1, width):
            out |= planes[number].astype(_U64) << np.uint64(8 * number)
        return
    wide = np.zeros((len(out), 8), np.uint8)
    wide[:, :width] = planes.T
    out[:] = wide.view(_U64).ravel()


def _decode_rows(columns: list[IntColumn], count: int) -> list[Int64s]:
    """The values of columns of ``count`` (at least 2) values each, as the rows of one matrix."""
    wide = np.zeros((len(columns), count - 1, 8), np.uint8)
    for width, rows in _by_length([c.width for c in columns]).items():
        if width:  # the byte planes of all the columns of one width, unshuffled in one assignment
            planes = np.frombuffer(b"".join(columns[row].data for row in rows), np.uint8)
            wide[rows, :, :width] = planes.reshape(len(rows), width, count - 1).transpose(0, 2, 1)
    zigzag = wide.view(_U64).reshape(len(columns), count - 1)
    stored = (zigzag >> np.uint64(1)) ^ (np.uint64(0) - (zigzag & np.uint64(1)))
    steps = np.array([c.step for c in columns], _U64)
    if (steps != 1).any():
        stored *= steps[:, None]
    delta = np.array([c.delta for c in columns], np.bool_)
    if delta.any():
        stored = np.where(delta[:, None], np.cumsum(stored, axis=1), stored)
    firsts = np.array([c.first for c in columns], _I64).view(_U64)
    out = np.empty((len(columns), count), _U64)
    out[:, 0] = firsts
    np.add(stored, firsts[:, None], out=out[:, 1:])
    return list(out.view(_I64))


def _by_length(lengths: list[int]) -> dict[int, list[int]]:
    """The indexes of ``lengths`` (or widths), grouped by length."""
    groups: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        groups.setdefault(length, []).append(index)
    return groups


def _check_count(count: int) -> None:
    if count > MAX_VALUES:
        raise ValueError(f"a column of {count} values is more than a batch holds ({MAX_VALUES})")


def counted_ints(column: IntColumn, count: int) -> Int64s:
    """The values of an integer column that must hold ``count`` (checked before anything is allocated)."""
    if column.count != count:
        raise ValueError(f"a column claims {column.count} values, not {count}")
    return decode_ints(column)


def object_array(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    """``values`` in a one-dimensional object array (never an array of arrays, whatever the values are)."""
    return np.fromiter(values, dtype=object, count=len(values))


def int64s(values: Sequence[Any], types: set[type[Any]] | None = None) -> Int64s | None:
    """``values`` (of exact ``types``, if known) as an int64 array when each is an ``int`` within 64 bits."""
    if any(t is not int for t in (_distinct_types(values) if types is None else types)):
        return None
    try:
        return np.array(values, dtype=_I64)
    except OverflowError:
        return None


def _distinct_types(values: Sequence[Any]) -> set[type[Any]]:
    # Checks run on the few distinct types, found by a C-level map, not on every value.
    return set(map(type, values))


# -- floats ---------------------------------------------------------------------------------


def encode_floats(values: Floats, queue: IntQueue) -> Later[FloatColumn]:
    """The float column of ``values``: short decimals as scaled integers, anything else as raw bits."""
    decimals = _decimals(values)
    if decimals is None:
        bits = queue.add(values.view(_I64))
        return lambda: FloatColumn(-1, bits())
    scaled = queue.add(np.round(values * _SCALES[decimals]).astype(_I64))
    return lambda: FloatColumn(decimals, scaled())


def decode_floats(column: FloatColumn) -> Floats:
    """The float64 values of a float column."""
    ints = decode_ints(column.ints)
    if column.decimals < 0:
        return ints.view(np.float64)
    if column.decimals > _MAX_DECIMALS:
        raise ValueError(f"a float column claims {column.decimals} decimals")
    return ints.astype(np.float64) / 10.0**column.decimals


def _decimals(values: Floats) -> int | None:
    """The fewest decimals that give every value back bit for bit, or ``None``."""
    if len(values) == 0 or not np.isfinite(values).all():
        return None
    sample = values[:: max(len(values) // _SAMPLE, 1)]
    whole = len(sample) == len(values)
    for decimals in _exact_on_sample(sample):
        if whole or _exact(values, decimals):
            return decimals
    return None


_SCALES = np.array([10.0**decimals for decimals in range(_MAX_DECIMALS + 1)])
"""``10.0**d`` for every ``d`` tried, computed as :func:`_exact` computes each (Python's float power)."""
_SCALE_LIST: list[float] = _SCALES.tolist()


def _exact_on_sample(sample: Floats) -> list[int]:
    """Every decimal count for which :func:`_exact` holds on ``sample`` (finite floats), all tried at once."""
    # Scales that take the largest magnitude to 2**53 or past cannot be exact: leaving them out keeps every
    # product finite and every cast defined, without the cost of an errstate context.
    largest = float(np.abs(sample).max())
    tried = sum(1 for scale in _SCALE_LIST if largest * scale < _EXACT_DECIMALS)
    scales = _SCALES[:tried, None]
    scaled = np.round(sample * scales)
    fits = np.abs(scaled).max(axis=1) < _EXACT_DECIMALS
    back = scaled.astype(_I64).astype(np.float64) / scales
    same = (back.view(_I64) == sample.view(_I64)).all(axis=1)
    exact: list[int] = np.flatnonzero(fits & same).tolist()
    return exact


def _exact(values: Floats, decimals: int) -> bool:
    """Whether ``values`` come back bit for bit from integers over ``10**decimals`` (so -0.0 never does)."""
    scale = 10.0**decimals
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(values * scale)
    if not np.abs(scaled).max() < _EXACT_DECIMALS:
        return False
    back = scaled.astype(_I64).astype(np.float64) / scale
    return bool((back.view(_I64) == values.view(_I64)).all())


def floats64(values: Sequence[Any], types: set[type[Any]] | None = None) -> Floats | None:
    """``values`` (of exact ``types``, if known) as a float64 array when each is a ``float``, else ``None``."""
    if any(t is not float for t in (_distinct_types(values) if types is None else types)):
        return None
    return np.array(values, dtype=np.float64)


# -- strings --------------------------------------------------------------------------------


def encode_text(
    values: Sequence[str], queue: IntQueue, reference: Int64s | None = None, as_ints: Int64s | None = None
) -> Later[Text]:
    """The smallest fitting string column; ``reference`` is what hex ids' high halves are stored against.

    ``as_ints``, when given, are int64 numbers of which the values are exactly ``str``: then the column
    is chosen from them, without reading the strings (the same column the strings would give).
    """
    if reference is not None:
        hexed = _hex_halves(values)
        if hexed is not None:
            high = queue.add((hexed[0].view(_U64) - reference.view(_U64)).view(_I64))
            low = queue.add(hexed[1])
            return lambda: HexText(high(), low())
    if as_ints is not None and _all_distinct_canonical(as_ints, len(values)):
        ints = queue.add(as_ints)
        return lambda: IntText(ints())
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        zeros = queue.add(np.zeros(len(values), _I64))
        return lambda: DictText(distinct, zeros())
    if 2 * len(distinct) <= len(values):
        numbers = dict(zip(distinct, range(len(distinct)), strict=True))
        codes = queue.add(np.fromiter(map(numbers.__getitem__, values), _I64, len(values)))
        return lambda: DictText(distinct, codes())
    integers = _canonical_ints(values)
    if integers is not None:
        ints = queue.add(integers)
        return lambda: IntText(ints())
    plain = PlainText(list(values))
    return lambda: plain


def _all_distinct_canonical(numbers: Int64s, count: int) -> bool:
    """Whether strings that are ``str`` of ``numbers`` make an ``IntText`` column: more than half of them
    distinct (here: all, told by strict order, the usual trade ids), each within what ``_CANONICAL_INTS`` takes."""
    if numbers.dtype != _I64 or len(numbers) != count or count < 2:
        return False
    ordered = bool((numbers[1:] > numbers[:-1]).all()) or bool((numbers[1:] < numbers[:-1]).all())
    return ordered and bool((numbers > -_CANONICAL_LIMIT).all() and (numbers < _CANONICAL_LIMIT).all())


_CANONICAL_LIMIT = 10**18
"""Integers :data:`_CANONICAL_INTS` takes are of at most 18 digits."""


def decode_text(column: Text, count: int, reference: Int64s | None = None) -> list[str]:
    """The strings of a string column holding ``count`` values."""
    if isinstance(column, PlainText):
        values = column.values
    elif isinstance(column, DictText):
        values = _dictionary(column, count).tolist()
    elif isinstance(column, IntText):
        values = decimal_strings(decode_ints(column.ints))
    else:
        values = _hex_strings(column, reference)
    if len(values) != count:
        raise ValueError(f"a string column holds {len(values)} values, not {count}")
    return values


def decimal_strings(values: Int64s) -> list[str]:
    """``str`` of each value (``list(map(str, values.tolist()))``), half the cost for non-negative values.

    >>> decimal_strings(np.array([0, 7, 10, 1_000_000_007], np.int64))
    ['0', '7', '10', '1000000007']
    """
    if not len(values) or values.min() < 0:
        return list(map(str, values.tolist()))
    # The digits of every value at once, a row of ASCII each, right-aligned behind spaces, one more space
    # after it: the rows then split into strings in C, instead of an int and a str made per value.
    width = len(str(int(values.max())))
    rows = np.empty((len(values), width + 1), np.uint8)
    rows[:, width] = _SPACE
    rest = values.view(_U64).copy()
    for place in range(width - 1, -1, -1):
        quotient = rest // _TEN
        digits = (rest - quotient * _TEN).astype(np.uint8)
        digits += _ZERO
        if place < width - 1:
            digits[rest == 0] = _SPACE  # past the value's first digit (the units digit of 0 stays "0")
        rows[:, place] = digits
        rest = quotient
    return rows.tobytes().decode("ascii").split()


_TEN = np.uint64(10)
_ZERO = ord("0")
_SPACE = ord(" ")


def text_array(column: Text, count: int, reference: Int64s | None = None) -> npt.NDArray[np.object_]:
    """The strings of a string column as an object array (repeated values share one object)."""
    if isinstance(column, DictText):
        return _dictionary(column, count)
    out = np.empty(count, dtype=object)
    out[:] = decode_text(column, count, reference)
    return out


def dictionary_codes(column: DictText, count: int) -> Int64s:
    """A dictionary column's ``count`` codes, each checked to index its values."""
    codes = decode_ints(column.codes)
    if len(codes) != count or (count and not 0 <= codes.min() <= codes.max() < len(column.values)):
        raise ValueError("a dictionary column's codes do not fit its values")
    return codes


def dictionary_equals(column: DictText, count: int, value: str) -> npt.NDArray[np.bool_]:
    """Which of a dictionary column's ``count`` values are ``value``."""
    codes = dictionary_codes(column, count)
    hits = [code for code, text in enumerate(column.values) if text == value]
    same: npt.NDArray[np.bool_] = np.isin(codes, hits) if len(hits) > 1 else codes == (hits[0] if hits else -1)
    return same


def _dictionary(column: DictText, count: int) -> npt.NDArray[np.object_]:
    """A dictionary column's values by index, as an object array (one object per distinct value)."""
    codes = dictionary_codes(column, count)
    values = np.empty(len(column.values), dtype=object)
    values[:] = column.values
    picked: npt.NDArray[np.object_] = values[codes]
    return picked


_CANONICAL_INTS = re.compile(r"(?:-?[1-9][0-9]{0,17}|0)(?: (?:-?[1-9][0-9]{0,17}|0))*")
"""Space-separated canonical decimal integers (``str(int(s)) == s``) of at most 18 digits: within 64 bits."""


def _canonical_ints(values: Sequence[str]) -> Int64s | None:
    """The integers the strings spell, when each is exactly ``str`` of its integer and fits 64 bits."""
    joined = " ".join(values)
    if _CANONICAL_INTS.fullmatch(joined) is None:
        return None
    numbers = np.fromstring(joined, dtype=_I64, sep=" ")
    return numbers if len(numbers) == len(values) else None


_HEX_WIDTH = 32


def hex_words(values: Sequence[str]) -> npt.NDArray[np.uint64] | None:
    """Each string's 128 bits as a row of two native 64-bit words, when every one is 32 lower-case hex digits
    (an ``EventIdFactory`` id); else ``None``."""
    if set(map(len, values)) != {_HEX_WIDTH}:
        return None
    joined = "".join(values)
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return None
    if raw.hex() != joined:  # uppercase digits or spaces: not the canonical form
        return None
    return np.frombuffer(raw, ">u8").astype(_U64).reshape(-1, 2)


def _hex_halves(values: Sequence[str]) -> tuple[Int64s, Int64s] | None:
    """Two int64 halves of 32-lowercase-hex-digit strings, or ``None`` when any string is not one."""
    words = hex_words(values)
    if words is None:
        return None
    halves = words.view(_I64)
    return halves[:, 0].copy(), halves[:, 1].copy()


def _hex_strings(column: HexText, reference: Int64s | None) -> list[str]:
    if reference is None:
        raise ValueError("a hex id column needs its reference times")
    high = decode_ints(column.high).view(_U64) + reference.view(_U64)
    low = decode_ints(column.low).view(_U64)
    if len(high) != len(low):
        raise ValueError("the halves of a hex id column differ in length")
    # One hex string with a space after every id, split in C: the cheapest way to make the id objects.
    return np.stack([high, low], axis=1).astype(">u8").tobytes().hex(" ", 16).split(" ")


# -- booleans, levels, nullable ---------------------------------------------------------------


def encode_bools(values: Sequence[bool], queue: IntQueue) -> Later[BoolColumn]:
    """A boolean column."""
    ints = queue.add(np.array(values, dtype=_I64))
    return lambda: BoolColumn(ints())


def decode_bools(column: BoolColumn) -> list[bool]:
    """The booleans of a boolean column."""
    ints = decode_ints(column.ints)
    if len(ints) and not 0 <= ints.min() <= ints.max() <= 1:
        raise ValueError("a boolean column holds values other than 0 and 1")
    return list(map(bool, ints.tolist()))


Levels = tuple[tuple[float, float], ...]


def level_arrays(values: Sequence[Any]) -> tuple[Int64s, Floats, Floats] | None:
    """Counts, prices and amounts of tuples of ``(float, float)`` tuples, or ``None`` when they are not that."""
    if any(t is not tuple for t in _distinct_types(values)):
        return None
    pairs = list(chain.from_iterable(values))
    if pairs and (any(t is not tuple for t in _distinct_types(pairs)) or set(map(len, pairs)) != {2}):
        return None
    flat = list(chain.from_iterable(pairs))
    if flat and any(t is not float for t in _distinct_types(flat)):
        return None
    both = np.array(flat, dtype=np.float64).reshape(-1, 2)
    return np.fromiter(map(len, values), _I64, len(values)), both[:, 0].copy(), both[:, 1].copy()


def encode_levels(counts: Int64s, prices: Floats, amounts: Floats, queue: IntQueue) -> Later[LevelsColumn]:
    """A levels column from :func:`level_arrays`."""
    count_column, price_column, amount_column = (
        queue.add(counts),
        encode_floats(prices, queue),
        encode_floats(amounts, queue),
    )
    return lambda: LevelsColumn(count_column(), price_column(), amount_column())


def decode_levels(column: LevelsColumn) -> list[Levels]:
    """The tuples of levels of a levels column."""
    counts = decode_ints(column.counts)
    prices, amounts = decode_floats(column.prices), decode_floats(column.amounts)
    if len(counts) and counts.min() < 0:
        raise ValueError("a levels column has a negative count")
    if int(counts.sum()) != len(prices) or len(prices) != len(amounts):
        raise ValueError("a levels column's counts do not match its levels")
    pairs = list(zip(prices.tolist(), amounts.tolist(), strict=True))
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return list(map(tuple, map(pairs.__getitem__, map(slice, starts, ends))))


def presence(values: Sequence[Any]) -> npt.NDArray[np.bool_]:
    """Which values are not ``None``."""
    return np.fromiter(map(is_not, values, repeat(None)), np.bool_, len(values))


def spread(present: Int64s, inner: list[Any]) -> list[Any]:
    """A list with ``inner``'s values where ``present`` is 1 and ``None`` elsewhere."""
    if len(present) and not 0 <= present.min() <= present.max() <= 1:
        raise ValueError("a nullable column's flags are not 0 and 1")
    where = np.flatnonzero(present)
    if len(where) != len(inner):
        raise ValueError("a nullable column's flags do not match its values")
    out: list[Any] = [None] * len(present)
    for index, value in zip(where.tolist(), inner, strict=True):
        out[index] = value
    return out
