"""Text columns of column reads as Arrow string arrays, without a Python ``str`` per value.

``read_columns`` hands text (ids, streams, sessions, ``str`` and ``Literal``
fields) over as ``pyarrow`` string arrays: what a frame or a Parquet file is made
of. From the batch format's string columns (``_batch_columns``) they are built
without making a ``str`` per value:

* a dictionary column: its few distinct values converted once, then taken by code;
* canonical decimal integers (trade ids): Arrow's int64 to string cast, which
  writes exactly ``str(int)`` (``-9223372036854775808`` included);
* hex ids: both 64-bit halves as 16 big-endian bytes an id, hexlified in one call
  straight into the array's data, an offset every 32 bytes;
* plain strings: the list msgpack already made, converted once.

This module is loaded on the first column read, never by ``import virtuoso.store``:
pyarrow takes a while to load, and recorders and the CLI do not need it (a test
checks).
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from virtuoso.store import _batch_columns as col

_HEX_WIDTH = 32


def text_arrow(column: col.Text, count: int, reference: col.Int64s | None = None) -> pa.Array:
    """The strings of a string column holding ``count`` values, as an Arrow string array."""
    if isinstance(column, col.DictText):
        codes = col.dictionary_codes(column, count)
        if len(column.values) == 1:  # one session, one side: no codes to follow
            return repeated(column.values[0], count)
        return pa.array(column.values, pa.string()).take(codes)
    if isinstance(column, col.IntText):
        array = pc.cast(pa.array(col.decode_ints(column.ints)), pa.string())
    elif isinstance(column, col.HexText):
        array = _hex_ids(column, reference)
    else:
        array = pa.array(column.values, pa.string())
    if len(array) != count:
        raise ValueError(f"a string column holds {len(array)} values, not {count}")
    return array


def _hex_ids(column: col.HexText, reference: col.Int64s | None) -> pa.Array:
    if reference is None:
        raise ValueError("a hex id column needs its reference times")
    high = col.decode_ints(column.high).view(np.uint64) + reference.view(np.uint64)
    low = col.decode_ints(column.low).view(np.uint64)
    if len(high) != len(low):
        raise ValueError("the halves of a hex id column differ in length")
    halves = np.empty((len(high), 2), ">u8")  # big-endian: hex digits in the order they are written
    halves[:, 0], halves[:, 1] = high, low
    data = binascii.hexlify(halves.data)
    offsets = np.arange(0, _HEX_WIDTH * (len(high) + 1), _HEX_WIDTH, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(high), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def spread_nulls(present: col.Int64s, inner: pa.Array) -> pa.Array:
    """An array with ``inner``'s values where ``present`` is 1 and nulls elsewhere."""
    if len(present) and not 0 <= present.min() <= present.max() <= 1:
        raise ValueError("a nullable column's flags are not 0 and 1")
    if int(present.sum()) != len(inner):
        raise ValueError("a nullable column's flags do not match its values")
    indexes = np.cumsum(present) - 1
    return inner.take(pa.array(indexes, mask=present == 0))


def check_choices(column: col.Column, array: pa.Array, choices: frozenset[str], field: str) -> None:
    """Refuse (``ValueError``) a ``Literal`` field holding a string outside its choices."""
    inner = column.values if isinstance(column, col.Nullable) else column
    if isinstance(inner, col.DictText):
        distinct = inner.values  # every value of the dictionary: the codes were checked to index them
    else:
        distinct = [v for v in pc.unique(array).to_pylist() if v is not None]
    if not choices.issuperset(distinct):
        raise ValueError(f"field {field} holds a value outside its choices")


def strings(values: Sequence[Any]) -> pa.Array | npt.NDArray[np.object_]:
    """``values`` (``str`` or ``None``) as an Arrow string array, nulls for ``None``.

    A value of another type leaves an object array, so that the caller can name it.
    """
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return col.object_array(values)


def masked_strings(values: np.ma.MaskedArray[Any, Any]) -> pa.Array | npt.NDArray[np.object_]:
    """An object array masked where ``None`` as :func:`strings` (the form a JSON block's fields come in)."""
    return strings(np.ma.filled(values.astype(object), None).tolist())


def repeated(value: str, count: int) -> pa.Array:
    """``value`` ``count`` times (a batch's stream), its bytes repeated straight into the array's data."""
    encoded = value.encode()
    offsets = np.arange(count + 1, dtype=np.int64) * len(encoded)  # all 0 for the empty string
    if offsets[-1] >= 2**31:  # string offsets are 32-bit
        return pa.array([value], pa.string()).take(np.zeros(count, np.intp))
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(encoded * count)]
    )


def equals(array: pa.Array, value: str) -> npt.NDArray[np.bool_]:
    """Which values of ``array`` are ``value`` (null: not)."""
    same = pc.fill_null(pc.equal(array, value), False)
    return np.asarray(same.to_numpy(zero_copy_only=False), dtype=np.bool_)


def take(array: pa.Array, indexes: npt.NDArray[np.intp]) -> pa.Array:
    """The values of ``array`` at ``indexes``."""
    return array.take(pa.array(indexes))


def concat(parts: Sequence[pa.Array]) -> pa.Array:
    """Arrays of one type end to end."""
    return pa.concat_arrays(list(parts))
