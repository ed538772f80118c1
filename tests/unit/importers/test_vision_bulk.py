"""The bulk parse of trade dumps against the line-by-line parse it replaces: same events, same chunks, same errors.

The oracle is ``_Rows._lines`` over every line of the file, which is the importer's
parse before blocks came (it still parses what the bulk parse does not vouch for).
Files are drawn by hypothesis: Binance's rows with values replaced by the tokens
that part pyarrow from Python's ``int``/``float`` (signs, blanks, underscores,
``nan(1)``, flags ``1``/``t``), times in ms, us and ns and ones that overflow,
rows of the wrong width, blank lines, ``\\r``, a header. Seeded (``derandomize``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.errors import ImportFormatError
from virtuoso.events import Event, Gap
from virtuoso.importers._output import CHUNK, Continuity, Output
from virtuoso.importers._source import Opened
from virtuoso.importers._vision import _Rows
from virtuoso.importers._vision_bulk import parse_trades

ROW = [b"1000000001", b"60001.11000000", b"0.00533000", b"319.80591630", b"1723161600060", b"True", b"True"]
ODD = [
    b"", b" 5", b"5 ", b"+5", b"-5", b"1_0", b"007", b"nan", b"NaN", b"nan(1)", b"inf", b"-inf", b"1e999",
    b"1e-400", b"-0.0", b".5", b"5.", b"0x10", b"0X1f", b"1.5e", b"9223372036854775808", b"99999999999999999999",
    b"True", b"true", b"FALSE", b"1", b"t", b" True", b"yes", b'"5"', b"\xff",
    b"1723161600060", b"1723161600060123", b"1723161600060123456", b"9223372036855", b"9223372036854775",
    b"-1723161600060", b"-9223372036855",
]  # fmt: skip


def _events(rows: _Rows, text: bytes, oracle: bool) -> tuple[list[bytes], str]:
    """The events (encoded) of the whole text and ``""``, or no events and the error's text.

    Chunks are not compared: a bulk block is one chunk, and on an error the import keeps nothing.
    """
    out, continuity = Output("s", "k"), Continuity()
    continuity.attach(out)
    taken: list[bytes] = []
    try:
        for chunk in _chunks(rows, text, out, continuity, oracle):
            taken.extend(_encoded(chunk))
    except ImportFormatError as exc:
        return [], str(exc)
    return taken, ""


def _chunks(rows: _Rows, text: bytes, out: Output, continuity: Continuity, oracle: bool) -> Iterator[Sequence[Event]]:
    if not oracle:
        stream = io.BytesIO(text)
        yield from rows.chunks(Opened(stream, stream, ""), out, continuity)
        return
    yield from rows._lines(text.split(b"\n"), 1, out, continuity)
    if out.chunk:
        yield out.take()


def _encoded(chunk: Sequence[Event]) -> list[bytes]:
    return [msgspec.json.encode(event) for event in chunk]


def _trade_rows(kind: str = "trades") -> _Rows:
    return _Rows("f.csv", kind, kind, "binance:BTC/USDT:trades", "binance:BTC/USDT:gaps")


def _row(trade_id: int, ms: int, maker: bool, edits: list[tuple[int, bytes]], width: int) -> bytes:
    fields = [str(trade_id).encode(), *ROW[1:4], str(ms).encode(), str(maker).encode(), ROW[6]]
    for column, value in edits:
        fields[column] = value
    return b",".join([*fields, b"True"][:width])


a_row = st.builds(
    _row,
    st.integers(1_000_000_001, 1_000_000_042),
    st.integers(1_723_161_600_000, 1_723_161_700_000),
    st.booleans(),
    st.just([]),
    st.just(7),
)
an_edit = st.tuples(st.integers(0, 11), st.integers(-1, 6), st.sampled_from(ODD))
"""Row, column (-1: a line of its own before the row), new value: few of them, so that one odd value is often
alone in a block of good rows."""


@settings(max_examples=400, derandomize=True, deadline=None)
@given(
    rows=st.lists(a_row, min_size=1, max_size=12),
    edits=st.lists(an_edit, max_size=2),
    header=st.booleans(),
    ending=st.sampled_from([b"\n", b"\r\n", b"\n\n"]),
    widths=st.sampled_from([None, None, (6, True), (5, True), (5, False), (8, True), (8, False)]),
)
def test_bulk_parse_gives_what_the_line_parse_gives(
    rows: list[bytes],
    edits: list[tuple[int, int, bytes]],
    header: bool,
    ending: bytes,
    widths: tuple[int, bool] | None,
) -> None:
    for at, column, value in edits:
        if column < 0:
            rows.insert(at % len(rows), value)
            continue
        fields = rows[at % len(rows)].split(b",")
        fields[column % len(fields)] = value
        rows[at % len(rows)] = b",".join(fields)
    if widths is not None:  # the last row, or every row, cut or padded to a width
        width, every = widths
        for at in range(len(rows)) if every else [-1]:
            rows[at] = b",".join([*rows[at].split(b","), b"True"][:width])
    lines = [b"id,price,qty,quote_qty,time,is_buyer_maker"] * header + rows
    text = (b"\n" if ending == b"\n\n" else ending).join(lines) + ending
    assert _events(_trade_rows(), text, oracle=False) == _events(_trade_rows(), text, oracle=True)


@pytest.mark.parametrize("kind", ["trades", "aggTrades"])
@pytest.mark.parametrize("column", range(7))
def test_each_odd_value_alone_in_a_block_of_good_rows(kind: str, column: int) -> None:
    for value in ODD:
        rows = [_row(1_000_000_001 + i, 1_723_161_600_000 + i, i % 2 == 0, [], 7) for i in range(5)]
        rows[3] = _row(1_000_000_004, 1_723_161_600_003, False, [(column, value)], 7)
        if kind == "aggTrades":  # a last_trade_id after quote_qty (read as first_trade_id): time and flag move right
            rows = [b",".join([*row.split(b",")[:4], b"1000000042", *row.split(b",")[4:]]) for row in rows]
        text = b"\n".join(rows) + b"\n"
        assert _events(_trade_rows(kind), text, oracle=False) == _events(_trade_rows(kind), text, oracle=True), value


def test_plain_rows_do_take_the_bulk_path() -> None:
    text = b"\n".join(_row(1_000_000_001 + i, 1_723_161_600_000 + i, i % 2 == 0, [], 7) for i in range(3))
    block = parse_trades(text, 2, "trades", (6, 7))
    assert block is not None
    assert block.ids.tolist() == [1_000_000_001, 1_000_000_002, 1_000_000_003]
    assert block.sells.tolist() == [True, False, True]
    assert block.times_ns.tolist() == [
        1_723_161_600_000_000_000,
        1_723_161_600_001_000_000,
        1_723_161_600_002_000_000,
    ]


def test_a_bulk_block_is_one_checked_chunk_with_its_gaps_after_their_rows() -> None:
    ids = [1_000_000_001, 1_000_000_002, 1_000_000_007, 1_000_000_004, 1_000_000_012, 1_000_000_013]
    lines = [_row(trade_id, 1_723_161_600_000 + i, False, [], 7) for i, trade_id in enumerate(ids)]
    text = b"\n".join([lines[0], *lines]) + b"\n"  # line 1 goes alone (it may be a header)
    out, continuity = Output("s", "k"), Continuity()
    continuity.attach(out)
    stream = io.BytesIO(text)
    chunks = list(_trade_rows().chunks(Opened(stream, stream, ""), out, continuity))
    assert [type(chunk).__name__ for chunk in chunks] == ["list", "CheckedEvents"]
    bulk = chunks[1]
    assert [e.type for e in bulk] == ["Trade", "Trade", "Trade", "Gap", "Trade", "Trade", "Gap", "Trade"]
    assert [e.payload.reason for e in bulk if isinstance(e.payload, Gap)] == [
        "trade ids 1000000003..1000000006 missing",
        "trade ids 1000000008..1000000011 missing",
    ]
    assert out.counts == {"Trade": 7, "Gap": 2}
    assert (_encoded([*chunks[0], *bulk]), "") == _events(_trade_rows(), text, oracle=True)


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (b"1000009001,60001.1,0.5,1,1723161600060,maybe,True", "bad value in a trades row: expected true or false"),
        (b"1000009001,nan,0.5,1,1723161600060,True,True", "bad value in a trades row: Trade price nan"),
        (b"1000009001,60001.1,0.5,1,1723161600060", "expected 6 or 7 columns, found 5"),
    ],
)
def test_a_bad_row_in_the_middle_of_a_block_is_named_by_its_line(bad: bytes, what: str) -> None:
    good = [_row(1_000_000_001 + i, 1_723_161_600_000 + i, False, [], 7) for i in range(3 * CHUNK)]
    text = b"\n".join([*good[:7_000], bad, *good[7_000:]]) + b"\n"
    taken, error = _events(_trade_rows(), text, oracle=False)
    assert re.fullmatch(rf"f\.csv:7001: {re.escape(what)}.*", error), error
    assert (taken, error) == _events(_trade_rows(), text, oracle=True)
