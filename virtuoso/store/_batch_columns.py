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
from collections.abc import Sequence
from itertools import chain, repeat
from operator import is_not
from typing import Any

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


class IntColumn(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """``count`` signed 64-bit integers: ``first``, then ``count - 1`` stored values.

    A stored value is ``(x[i] - x[i-1])`` when ``delta`` else ``(x[i] - first)``,
    divided by ``step``, zigzag-mapped, ``width`` bytes wide, byte-shuffled.
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


# -- integers -------------------------------------------------------------------------------


def encode_ints(values: Int64s) -> IntColumn:
    """The integer column of ``values`` (an int64 array)."""
    count = len(values)
    if count > MAX_VALUES:
        raise ValueError(f"a column of {count} values is more than a batch holds ({MAX_VALUES})")
    if count == 0:
        return IntColumn(0, 0, False, 1, 0, b"")
    first = int(values[0])
    bits = values.view(_U64)
    deltas = np.diff(bits).view(_I64)
    offsets = (bits[1:] - bits[0]).view(_I64)
    delta = _cost(deltas) < _cost(offsets)
    stored = deltas if delta else offsets
    step = _common_step(stored)
    if step != 1:
        stored = stored // step
    zigzag = (stored.view(_U64) << np.uint64(1)) ^ (stored >> 63).view(_U64)
    width = (int(zigzag.max(initial=0)).bit_length() + 7) // 8
    planes = zigzag.view(np.uint8).reshape(-1, 8)[:, :width].T
    return IntColumn(count, first, delta, step, width, planes.tobytes())


def decode_ints(column: IntColumn) -> Int64s:
    """The int64 values of an integer column; ``ValueError`` when its sizes do not add up."""
    count, width = column.count, column.width
    sized = 0 <= count <= MAX_VALUES and 0 <= width <= 8 and len(column.data) == width * max(count - 1, 0)
    if not sized or column.step < 1:
        raise ValueError("an integer column's sizes do not add up")
    if not _INT64_MIN <= column.first < 2**63 or column.step >= 2**63:
        raise ValueError("an integer column's first value or step is beyond 64 bits")
    if count == 0:
        return np.empty(0, _I64)
    wide = np.zeros((count - 1, 8), np.uint8)
    wide[:, :width] = np.frombuffer(column.data, np.uint8).reshape(width, count - 1).T
    zigzag = wide.view(_U64).ravel()
    stored = ((zigzag >> np.uint64(1)) ^ (np.uint64(0) - (zigzag & np.uint64(1)))).view(_I64)
    if column.step != 1:
        stored = (stored.view(_U64) * np.uint64(column.step)).view(_I64)
    out = np.empty(count, _U64)
    out[0] = np.int64(column.first).view(_U64)
    if column.delta:
        np.cumsum(stored.view(_U64), out=out[1:])
        out[1:] += out[0]
    else:
        out[1:] = stored.view(_U64) + out[0]
    return out.view(_I64)


def counted_ints(column: IntColumn, count: int) -> Int64s:
    """The values of an integer column that must hold ``count`` (checked before anything is allocated)."""
    if column.count != count:
        raise ValueError(f"a column claims {column.count} values, not {count}")
    return decode_ints(column)


def object_array(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    """``values`` in a one-dimensional object array (never an array of arrays, whatever the values are)."""
    return np.fromiter(values, dtype=object, count=len(values))


_COST_SAMPLE = 4096


def _cost(values: Int64s) -> float:
    """Roughly how many bits ``values`` need: their magnitudes' logarithms, summed over an even sample."""
    if len(values) == 0:
        return 0.0
    sample = values[:: max(len(values) // _COST_SAMPLE, 1)]
    return float(np.log2(np.abs(sample.astype(np.float64)) + 1.0).sum())


def _common_step(values: Int64s) -> int:
    """The greatest common divisor of ``values`` (1 when all are 0, or one is -2**63)."""
    if len(values) == 0 or values.min() == _INT64_MIN:
        return 1
    step = int(np.gcd.reduce(values))
    return step if step > 0 else 1


def int64s(values: Sequence[Any]) -> Int64s | None:
    """``values`` as an int64 array when every one is an ``int`` (not a bool) within 64 bits, else ``None``."""
    if any(t is not int for t in _distinct_types(values)):
        return None
    try:
        return np.array(values, dtype=_I64)
    except OverflowError:
        return None


def _distinct_types(values: Sequence[Any]) -> set[type[Any]]:
    # Checks run on the few distinct types, found by a C-level map, not on every value.
    return set(map(type, values))


# -- floats ---------------------------------------------------------------------------------


def encode_floats(values: Floats) -> FloatColumn:
    """The float column of ``values``: short decimals as scaled integers, anything else as raw bits."""
    decimals = _decimals(values)
    if decimals is None:
        return FloatColumn(-1, encode_ints(values.view(_I64)))
    scaled = np.round(values * 10.0**decimals).astype(_I64)
    return FloatColumn(decimals, encode_ints(scaled))


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
    for decimals in range(_MAX_DECIMALS + 1):
        if _exact(sample, decimals) and _exact(values, decimals):
            return decimals
    return None


def _exact(values: Floats, decimals: int) -> bool:
    """Whether ``values`` come back bit for bit from integers over ``10**decimals`` (so -0.0 never does)."""
    scale = 10.0**decimals
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(values * scale)
    if not np.abs(scaled).max() < _EXACT_DECIMALS:
        return False
    back = scaled.astype(_I64).astype(np.float64) / scale
    return bool((back.view(_I64) == values.view(_I64)).all())


def floats64(values: Sequence[Any]) -> Floats | None:
    """``values`` as a float64 array when every one is a ``float``, else ``None``."""
    if any(t is not float for t in _distinct_types(values)):
        return None
    return np.array(values, dtype=np.float64)


# -- strings --------------------------------------------------------------------------------


def encode_text(values: Sequence[str], reference: Int64s | None = None) -> Text:
    """The smallest fitting string column; ``reference`` is what hex ids' high halves are stored against."""
    if reference is not None:
        hexed = _hex_halves(values)
        if hexed is not None:
            high, low = hexed
            return HexText(encode_ints((high.view(_U64) - reference.view(_U64)).view(_I64)), encode_ints(low))
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return DictText(distinct, encode_ints(np.zeros(len(values), _I64)))
    if 2 * len(distinct) <= len(values):
        codes = dict(zip(distinct, range(len(distinct)), strict=True))
        return DictText(distinct, encode_ints(np.fromiter(map(codes.__getitem__, values), _I64, len(values))))
    integers = _canonical_ints(values)
    if integers is not None:
        return IntText(encode_ints(integers))
    return PlainText(list(values))


def decode_text(column: Text, count: int, reference: Int64s | None = None) -> list[str]:
    """The strings of a string column holding ``count`` values."""
    if isinstance(column, PlainText):
        values = column.values
    elif isinstance(column, DictText):
        values = _dictionary(column, count).tolist()
    elif isinstance(column, IntText):
        values = list(map(str, decode_ints(column.ints).tolist()))
    else:
        values = _hex_strings(column, reference)
    if len(values) != count:
        raise ValueError(f"a string column holds {len(values)} values, not {count}")
    return values


def text_array(column: Text, count: int, reference: Int64s | None = None) -> npt.NDArray[np.object_]:
    """The strings of a string column as an object array (repeated values share one object)."""
    if isinstance(column, DictText):
        return _dictionary(column, count)
    out = np.empty(count, dtype=object)
    out[:] = decode_text(column, count, reference)
    return out


def _dictionary(column: DictText, count: int) -> npt.NDArray[np.object_]:
    """A dictionary column's values by index, as an object array (one object per distinct value)."""
    codes = decode_ints(column.codes)
    if len(codes) != count or (count and not 0 <= codes.min() <= codes.max() < len(column.values)):
        raise ValueError("a dictionary column's codes do not fit its values")
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


def _hex_halves(values: Sequence[str]) -> tuple[Int64s, Int64s] | None:
    """Two int64 halves of 32-lowercase-hex-digit strings, or ``None`` when any string is not one."""
    if set(map(len, values)) != {_HEX_WIDTH}:
        return None
    joined = "".join(values)
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return None
    if raw.hex() != joined:  # uppercase digits or spaces: not the canonical form
        return None
    halves = np.frombuffer(raw, ">u8").astype(_U64).view(_I64).reshape(-1, 2)
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


def texts(values: Sequence[Any]) -> bool:
    """Whether every value is a ``str`` (not a subclass)."""
    return all(t is str for t in _distinct_types(values))


# -- booleans, levels, nullable ---------------------------------------------------------------


def encode_bools(values: Sequence[bool]) -> BoolColumn:
    """A boolean column."""
    return BoolColumn(encode_ints(np.array(values, dtype=_I64)))


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


def encode_levels(counts: Int64s, prices: Floats, amounts: Floats) -> LevelsColumn:
    """A levels column from :func:`level_arrays`."""
    return LevelsColumn(encode_ints(counts), encode_floats(prices), encode_floats(amounts))


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
