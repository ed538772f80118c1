"""Trade rows of a Binance CSV dump parsed a block at a time (pyarrow), columns typed once.

The bulk parse vouches only for blocks in the plain form Binance writes: no blank
line, no ``\\r``, no ``x`` (pyarrow reads ``0x10`` as 16), one column count, values
pyarrow and Python's ``int``/``float`` read alike. Anything else (a malformed row, a
NaN, a time whose nanoseconds leave 64 bits) makes :func:`parse_trades` answer
``None``, and the caller parses that block line by line as before, which names the
bad line exactly as it always did.
The values of a block it does vouch for are the very ones the line-by-line parse
gives: both parsers round decimal text correctly to the nearest double.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

_MS_BELOW = 10**14
_US_BELOW = 10**17
_MAX_NS = 2**63 - 1
_TIME_COLUMN = {"trades": 4, "aggTrades": 5}
_FLAGS_TRUE = ["true", "True", "TRUE"]
_FLAGS_FALSE = ["false", "False", "FALSE"]

_NOT_PLAIN = (b"\r", b"x", b"X")
"""Bytes that send a block line by line: pyarrow ends a line at ``\\r``, reads ``0x10`` as 16. Rare ones: a scan
for them is a ``memchr``; a blank line inside a block needs none, pyarrow refuses its empty id."""
_READ = pa_csv.ReadOptions(autogenerate_column_names=True, use_threads=False)
_PARSE = pa_csv.ParseOptions(
    quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
)


@dataclass(frozen=True, slots=True)
class TradeBlock:
    """The typed columns of a block of trade rows; ``first`` is the line number of its first row."""

    first: int
    ids: np.ndarray
    prices: np.ndarray
    amounts: np.ndarray
    times_ns: np.ndarray
    sells: np.ndarray
    """int64, float64, float64, int64 and bool columns."""


def _convert(kind: str) -> pa_csv.ConvertOptions:
    time, maker = _TIME_COLUMN[kind], _TIME_COLUMN[kind] + 1
    types = {"f0": pa.int64(), "f1": pa.float64(), "f2": pa.float64(), f"f{time}": pa.int64(), f"f{maker}": pa.bool_()}
    return pa_csv.ConvertOptions(
        column_types=types,
        include_columns=list(types),
        null_values=[],  # "NaN", "null", "" are values to refuse, never missing ones
        true_values=_FLAGS_TRUE,
        false_values=_FLAGS_FALSE,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


_CONVERT = {kind: _convert(kind) for kind in _TIME_COLUMN}


def parse_trades(text: bytes, first: int, kind: str, widths: tuple[int, ...]) -> TradeBlock | None:
    """The rows of ``text`` (whole lines, ``\\n``-separated, no header) as typed columns, or None.

    None means "not vouched for": parse these lines one at a time instead.

    >>> block = parse_trades(b"7,61000.5,0.5,30500.25,1723161255342,True,True", 3, "trades", (6, 7))
    >>> block.first, block.ids.tolist(), block.prices.tolist(), block.times_ns.tolist(), block.sells.tolist()
    (3, [7], [61000.5], [1723161255342000000], [True])
    >>> parse_trades(b"7,61000.5,0.5,30500.25,1723161255342,yes,True", 3, "trades", (6, 7)) is None
    True
    """
    if not _plain(text, widths):
        return None
    try:
        table = pa_csv.read_csv(pa.BufferReader(text + b"\n"), _READ, _PARSE, _CONVERT[kind])
    except pa.ArrowException:
        return None
    time = f"f{_TIME_COLUMN[kind]}"
    columns = [table.column(name) for name in ("f0", "f1", "f2", time, f"f{_TIME_COLUMN[kind] + 1}")]
    if any(column.null_count for column in columns):
        return None
    prices, amounts = (column.to_numpy() for column in columns[1:3])
    times_ns = _times_ns(columns[3].to_numpy())
    if times_ns is None or np.isnan(prices).any() or np.isnan(amounts).any():
        return None  # a NaN is refused line by line, with the line's own words
    ids, sells = columns[0].to_numpy(), columns[4].to_numpy(zero_copy_only=False)
    return TradeBlock(first, ids, prices, amounts, times_ns, sells)


def _plain(text: bytes, widths: tuple[int, ...]) -> bool:
    """No blank line at either end, none of :data:`_NOT_PLAIN`, and a first row of a width the kind allows
    (pyarrow holds the other rows to its width)."""
    if not text or text[:1] == b"\n" or text[-1:] == b"\n" or any(part in text for part in _NOT_PLAIN):
        return False
    end = text.find(b"\n")
    return text[: end if end >= 0 else len(text)].count(b",") + 1 in widths


def _times_ns(times: np.ndarray) -> np.ndarray | None:
    """Binance times in ms, us or ns (told by size, as ``to_ns``) as ns; None if one is negative or overflows."""
    ms = times < _MS_BELOW
    us = ~ms & (times < _US_BELOW)
    if (times < 0).any() or (ms & (times > _MAX_NS // 1_000_000)).any() or (us & (times > _MAX_NS // 1_000)).any():
        return None
    with np.errstate(over="ignore"):  # the products of the rows not in a unit are thrown away
        return np.where(ms, times * 1_000_000, np.where(us, times * 1_000, times))
