"""Importer pieces on their own: unified symbols, reading sources, and the gap checks."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from virtuoso.book import SyncRule
from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import BookDelta, BookSnapshot, Gap
from virtuoso.importers import unified_symbol
from virtuoso.importers._output import MAX_PENDING_DELTAS, Continuity, Output
from virtuoso.importers._source import SourceFile, json_array_items, numbered_lines, open_source

# -- symbols -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("market_id", "market", "symbol"),
    [
        ("BTCUSDT", "spot", "BTC/USDT"),
        ("ethbtc", "spot", "ETH/BTC"),
        ("BNBFDUSD", "spot", "BNB/FDUSD"),
        ("1000PEPEUSDT", "usdm", "1000PEPE/USDT:USDT"),
        ("BTCUSDT_240927", "usdm", "BTC/USDT:USDT-240927"),
        ("SOLEUR", "spot", "SOL/EUR"),
    ],
)
def test_unified_symbols(market_id: str, market: str, symbol: str) -> None:
    assert unified_symbol(market_id, market) == symbol  # type: ignore[arg-type]


@pytest.mark.parametrize("market_id", ["FOOBAR", "USDT"])
def test_an_unknown_quote_asks_for_symbol(market_id: str) -> None:
    with pytest.raises(UsageError, match="pass --symbol"):
        unified_symbol(market_id)


# -- sources -------------------------------------------------------------------------

TEXT = b"first\r\n\nsecond\nthird"


@pytest.mark.parametrize("packing", ["plain", "gzip", "zip"])
def test_sources_open_by_their_first_bytes_and_number_their_lines(tmp_path: Path, packing: str) -> None:
    path = tmp_path / "data.bin"  # the name says nothing: the bytes do
    if packing == "gzip":
        path.write_bytes(gzip.compress(TEXT))
    elif packing == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("inner.csv", TEXT)
    else:
        path.write_bytes(TEXT)
    source = SourceFile.of(path)

    with open_source(source) as opened:
        lines = list(numbered_lines(opened.stream))
        # A zip's directory follows the member's data: reading the member stops short of it.
        assert 0 < opened.position() <= source.bytes

    assert lines == [(1, b"first"), (3, b"second"), (4, b"third")]
    assert opened.member == ("inner.csv" if packing == "zip" else "")
    assert len(source.sha256) == 64


def test_a_zip_of_several_files_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "1")
        archive.writestr("b.csv", "2")
    with pytest.raises(UsageError, match="exactly one file, not 2"), open_source(SourceFile.of(path)):
        pass


@pytest.mark.parametrize("damage", ["truncated", "bad checksum", "bad deflate data"])
def test_a_damaged_gzip_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    # Each damage surfaces as another exception class: EOFError, OSError, zlib.error.
    packed = bytearray(gzip.compress(b"".join(b"%d some line\n" % i for i in range(20_000))))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "bad checksum":
        packed[len(packed) // 2 : len(packed) // 2 + 64] = bytes(64)
    else:
        packed[20:84] = b"\xff" * 64
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))

    with pytest.raises(UsageError, match=r"damaged.gz: cannot read it \("), open_source(SourceFile.of(path)) as opened:
        list(numbered_lines(opened.stream))


def test_missing_and_directory_sources(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        SourceFile.of(tmp_path / "nope.gz")
    with pytest.raises(UsageError, match="not a file"):
        SourceFile.of(tmp_path)


def _items(tmp_path: Path, text: str) -> list[tuple[int, object]]:
    path = tmp_path / "list.json"
    path.write_text(text)
    with open_source(SourceFile.of(path)) as opened:
        return list(json_array_items(opened.stream, str(path)))


def test_json_array_items_come_with_the_line_they_start_on(tmp_path: Path) -> None:
    assert _items(tmp_path, '[\n  {"a": 1},\n  [2,\n 3],\n\n  4.5\n]\n') == [(2, {"a": 1}), (3, [2, 3]), (6, 4.5)]
    assert _items(tmp_path, "[]") == []


def test_a_long_array_is_read_across_blocks(tmp_path: Path) -> None:
    rows = [[1_600_000_000_000 + i, 1.5 * i, "x" * (i % 7)] for i in range(20_000)]
    items = _items(tmp_path, json.dumps(rows, indent=1))
    assert [value for _, value in items] == rows
    assert items[-1][0] == 1 + 5 * len(rows) - 4


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ('{"a": 1}', 1, "the file must hold one JSON array"),
        ("[1,\n2\n3]", 3, "expected ',' or ']' after an item, found '3'"),
        ("[1,\n2,\n", 3, "invalid JSON"),
        ("[1] 2", 1, "text after the end of the array"),
    ],
)
def test_json_array_errors_name_the_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    with pytest.raises(ImportFormatError, match=f":{line}: {what}"):
        _items(tmp_path, text)


# -- gap checks ----------------------------------------------------------------------

TRADES, BOOK, GAPS = "x:BTC/USDT:trades", "x:BTC/USDT:book", "x:BTC/USDT:gaps"


def _gaps(out: Output) -> list[Gap]:
    return [e.payload for e in out.take() if isinstance(e.payload, Gap)]


def test_a_trade_id_jump_is_one_gap_and_repeats_are_not() -> None:
    out, continuity = Output("s", "f"), Continuity()
    continuity.attach(out)
    for trade_id, ts in [(10, 1), (11, 2), (11, 3), (15, 4), (16, 5)]:
        continuity.trade(TRADES, GAPS, trade_id, ts, ts)

    assert _gaps(out) == [Gap(TRADES, 2, 4, "trade ids 12..14 missing")]
    assert continuity.cursors() == {TRADES: (16, 5)}


def test_cursors_carry_trades_and_books_into_a_fresh_import() -> None:
    first, continuity = Output("s", "a"), Continuity()
    continuity.attach(first, SyncRule.SPOT)
    continuity.trade(TRADES, GAPS, 100, 1, 1)
    continuity.snapshot(BOOK, GAPS, BookSnapshot((), (), 50), 2, 2)
    continuity.delta(BOOK, GAPS, BookDelta((), (), 45, 60), 3, 3)
    cursors = continuity.cursors()
    assert cursors == {TRADES: (100, 1), BOOK: (60, 3)}

    resumed, second = Continuity(), Output("s", "b")
    resumed.resume(cursors)
    resumed.attach(second, SyncRule.SPOT)
    resumed.trade(TRADES, GAPS, 101, 4, 4)
    resumed.delta(BOOK, GAPS, BookDelta((), (), 61, 70), 5, 5)
    assert _gaps(second) == []
    resumed.trade(TRADES, GAPS, 103, 6, 6)
    resumed.delta(BOOK, GAPS, BookDelta((), (), 72, 80), 7, 7)
    assert _gaps(second) == [
        Gap(TRADES, 4, 6, "trade ids 102..102 missing"),
        Gap(BOOK, 5, 7, "expected first update id 71, got 72"),
    ]


def test_futures_cursor_chains_on_previous_update_id() -> None:
    out, continuity = Output("s", "a"), Continuity()
    continuity.resume({BOOK: (500, 9)})
    continuity.attach(out, SyncRule.FUTURES)
    continuity.delta(BOOK, GAPS, BookDelta((), (), 510, 520, 500), 10, 10)
    continuity.delta(BOOK, GAPS, BookDelta((), (), 530, 540, 525), 11, 11)
    assert _gaps(out) == [Gap(BOOK, 10, 11, "expected previous update id 520, got 525")]


def test_deltas_waiting_for_a_snapshot_stay_bounded() -> None:
    out, continuity = Output("s", "a"), Continuity()
    continuity.attach(out, SyncRule.SPOT)
    for n in range(MAX_PENDING_DELTAS + 10):
        continuity.delta(BOOK, GAPS, BookDelta((), (), 10 * n + 1, 10 * n + 10), n, n)
    last = 10 * (MAX_PENDING_DELTAS + 9) + 10

    continuity.snapshot(BOOK, GAPS, BookSnapshot((), (), last - 15), 1, 1)

    assert _gaps(out) == []
    assert continuity.cursors() == {BOOK: (last, MAX_PENDING_DELTAS + 9)}, "time of the last delta applied"
