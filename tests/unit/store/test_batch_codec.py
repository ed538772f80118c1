"""The columnar batch format: exact round trips, the stored payload bytes, column reads, refusals, damage."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
from typing import Any, ClassVar

import msgspec
import numpy as np
import pytest
import zstandard

from tests.conftest import require_data
from virtuoso.errors import (
    CorruptDatabaseError,
    InvalidEventError,
    SchemaVersionError,
    UsageError,
)
from virtuoso.events import (
    BookDelta,
    BookSnapshot,
    Event,
    EventIdFactory,
    Note,
    Payload,
    Quote,
    Ticker,
    Trade,
    TypeRegistry,
    encode_payload,
)
from virtuoso.store import _batch_columns as col
from virtuoso.store._batch_codec import (
    FORMAT_VERSION,
    ColumnReader,
    batch_summary,
    decode_batch,
    decode_columns,
    encode_batch,
    stored_payloads,
)
from virtuoso.store._batch_columns import decimal_strings

STREAM = "binance:BTC/USDT:trades"
T0 = 1_723_161_255_000_000_000
CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"


def _trades(count: int, *, start: int = 1) -> list[Event]:
    ids = EventIdFactory("session-1:trades")
    events = []
    for i in range(count):
        ts = T0 + i * 1_000_000 * (1 + i % 7)
        price, amount = 61_832.0 + (i % 13) * 0.01, 0.00013 * (1 + i % 50)
        trade = Trade(price, amount, "buy" if i % 3 else "sell", str(1_000_000_001 + i))
        events.append(Event(ids(ts), STREAM, ts, ts + 1_270_000_000 + i % 5, "s1", trade, None, i + 1, start + 2 * i))
    return events


def _same(decoded: list[Event], events: list[Event]) -> None:
    """Equal, and equal bit for bit (``-0.0 == 0.0`` and NaN would fool ``==`` alone)."""
    assert decoded == events or any(isinstance(v, float) and math.isnan(v) for e in events for v in _floats(e))
    bits = msgspec.msgpack.Encoder(order="deterministic").encode
    assert list(map(bits, decoded)) == list(map(bits, events))
    assert [type(e.payload) for e in decoded] == [type(e.payload) for e in events]


def _floats(event: Event) -> list[Any]:
    return [v for v in msgspec.structs.astuple(event.payload) if isinstance(v, float)]


def _book(sequence: int, bids: int, asks: int) -> BookDelta:
    return BookDelta(
        tuple((61_000.0 - i * 0.01, 0.5 + i) for i in range(bids)),
        tuple((61_000.5 + i * 0.01, 0.0 if i == 1 else 1.25) for i in range(asks)),
        sequence,
        sequence + 3,
        sequence - 1 if sequence % 2 else None,
    )


# -- round trips ---------------------------------------------------------------------------------


def test_trades_round_trip_and_compress_to_a_few_bytes_each() -> None:
    events = _trades(5_000)
    blob = encode_batch(events)
    _same(decode_batch(blob), events)
    assert blob[0] == FORMAT_VERSION
    assert len(blob) / len(events) < 12  # the JSON row is ~100 bytes of payload alone


GOLDEN = ["5ec2b7ee71dee53c", "40a1a717e0bacc00", "b5c27b51c3a31b1f", "51341aefef3823fa"]
"""The first hex digits of the SHA-256 of each body of ``_golden_batches``, as format 1 writes them."""


def _golden_batches() -> list[list[Event]]:
    """Batches that touch every column encoding: hex and other ids, sessions, causations, every payload block."""
    book = "binance:BTC/USDT:book"
    snapshot = BookSnapshot(((61_000.0, 1.5), (60_999.99, 0.25)), ((61_000.5, 2.0),), 100)
    books: list[Payload] = [snapshot, *(_book(101 + 4 * i, i % 5, (3 * i) % 7) for i in range(700))]
    quotes: list[Payload] = [Quote(61_000.0 + i, 1.0, 61_000.01, 0.1 + 0.2, None if i % 3 else i) for i in range(600)]
    notes: list[Payload] = [Note(f"note {i}", "warning", {"k": str(i)}) for i in range(3)]
    return [
        _trades(2_500),
        _trades(7, start=-(2**63)),
        [Event(f"b{i}", book, T0 + i, T0 + i, "s1", p, None, i + 1, 10 + i) for i, p in enumerate(books)],
        [
            Event(f"q{i}", "x:quotes", T0 - 9 * i, T0, f"s{i % 3}", p, i if i % 4 else None, i + 1, 100 + i)
            for i, p in enumerate(quotes + notes)
        ],
    ]


def test_the_layout_is_unchanged() -> None:
    # FORMAT_VERSION names this layout: the bodies of these batches (before zstd, whose bytes depend on its
    # version) must stay these bytes unless the version is bumped and the change documented.
    bodies = [zstandard.ZstdDecompressor().decompress(encode_batch(b)[1:]) for b in _golden_batches()]
    assert [hashlib.sha256(body).hexdigest()[:16] for body in bodies] == GOLDEN


def test_a_book_stream_mixes_snapshots_and_deltas_in_batch_order() -> None:
    book = "binance:BTC/USDT:book"
    snapshot = BookSnapshot(((61_000.0, 1.5), (60_999.99, 0.25)), ((61_000.5, 2.0),), 100)
    payloads: list[Payload] = [snapshot, _book(101, 3, 2), _book(105, 0, 0), snapshot, _book(109, 1, 4)]
    events = [Event(f"b{i}", book, T0 + i, T0 + i, "s1", p, None, i + 1, 10 + i) for i, p in enumerate(payloads)]
    blob = encode_batch(events)
    _same(decode_batch(blob), events)
    assert stored_payloads(blob) == [encode_payload(p) for p in payloads]


def test_optional_fields_causations_and_several_sessions() -> None:
    quotes: list[Payload] = [Quote(61_000.0, 1.0, 61_000.01, 2.0, None if i % 3 == 0 else 7_000 + i) for i in range(10)]
    tickers: list[Payload] = [Ticker(None, 1.0, 2.0, None, 3.5, quote_volume=None if i else 9.0) for i in range(3)]
    events = [
        Event(f"q{i}", "x:quotes", T0 + i, T0 + 2 * i, f"s{i % 2}", p, i if i % 4 else None, i + 1, 100 + i)
        for i, p in enumerate(quotes + tickers)
    ]
    _same(decode_batch(encode_batch(events)), events)


def test_payloads_without_columns_round_trip_through_json_blocks() -> None:
    notes = [Note(f"note {i} ✓", "warning", {"k": "v" * i, "ü": "\x00"}) for i in range(4)]
    events = [Event(f"n{i}", "system:notes", i, i, "s", n) for i, n in enumerate(notes)]
    blob = encode_batch(events)
    _same(decode_batch(blob), events)
    assert stored_payloads(blob) == [encode_payload(n) for n in notes]


@pytest.mark.parametrize(
    "price",
    [-0.0, 0.0, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan, 0.1 + 0.2, 61_832.01, 1e-8],
    ids=repr,
)
def test_every_float_keeps_its_bits(price: float) -> None:
    events = [Event(f"e{i}", STREAM, T0, T0, "s", Trade(price if i else 1.0, price, "buy", "1")) for i in range(3)]
    decoded = decode_batch(encode_batch(events))
    assert [np.float64(e.payload.amount).view(np.int64) for e in decoded] == [  # type: ignore[attr-defined]
        np.float64(price).view(np.int64)
    ] * 3
    _same(decoded, events)


@pytest.mark.parametrize(
    "trade_ids",
    [
        ["1", "2", "3"],
        ["0", "10", "5", "123456789012345678", "99"],  # decimal of several widths
        ["007", "8", "9"],  # leading zeros: not canonical, kept as text
        ["-1", "0", "9223372036854775807"],
        ["99999999999999999999999", "1", "2"],  # beyond 64 bits
        ["a-1", "a-2", "a-3"],
        ["١٢", "3", " 4"],  # digits int() accepts but str() does not give back
        ["x", "x", "y", "x"],  # repeated: a dictionary
    ],
)
def test_trade_ids_of_any_form_come_back_as_given(trade_ids: list[str]) -> None:
    events = [Event(f"e{i}", STREAM, T0, T0, "s", Trade(1.0, 1.0, "sell", t)) for i, t in enumerate(trade_ids)]
    _same(decode_batch(encode_batch(events)), events)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0],
        [0, 7, 10, 99, 100, 101],
        [2**63 - 1, 1, 0],
        [-5, 12],
        [-(2**63), 2**63 - 1],
        list(range(995, 1_005)),
    ],
)
def test_decimal_strings_are_str_of_each_value(values: list[int]) -> None:
    strings = decimal_strings(np.array(values, np.int64))
    assert strings == [str(v) for v in values]
    assert {type(s) for s in strings} <= {str}


@pytest.mark.parametrize(
    "ids",
    [
        ["17e9e607f9876b0372e5c7a80000004e", "17e9e607f9876b0372e5c7a80000004f"],
        ["17E9E607F9876B0372E5C7A80000004E", "17e9e607f9876b0372e5c7a80000004f"],  # uppercase is another id
        ["17e9e607 9876b0372e5c7a80000004e", "17e9e607f9876b0372e5c7a80000004f"],
        ["ffffffffffffffffffffffffffffffff", "00000000000000000000000000000000"],
        ["short", "ids"],
        ["∂" * 32, "€" * 32],
    ],
)
def test_event_ids_of_any_form_come_back_as_given(ids: list[str]) -> None:
    events = [Event(i, STREAM, T0 + n, T0 - n, "s", Trade(1.0, 1.0, "buy", "1")) for n, i in enumerate(ids)]
    _same(decode_batch(encode_batch(events)), events)


def test_extreme_envelope_integers_round_trip() -> None:
    big = 2**63 - 1
    events = [
        Event("a", STREAM, 0, big, "s", Trade(1.0, 1.0, "buy", "1"), -(2**63), big, -(2**63)),
        Event("b", STREAM, big, 0, "s", Trade(1.0, 1.0, "buy", "1"), big, -(2**63), big),
        Event("c", STREAM, 1, 1, "s", Trade(1.0, 1.0, "buy", "1"), 0, 0, 0),
    ]
    _same(decode_batch(encode_batch(events)), events)


def test_an_int_where_a_float_is_declared_keeps_the_stored_bytes() -> None:
    # msgspec does not check types on construction; the row store hashes b'"price":5' for such a payload.
    odd = Trade(5, 2, "buy", "1")  # type: ignore[arg-type]
    events = [Event("a", STREAM, T0, T0, "s", odd), Event("b", STREAM, T0, T0, "s", Trade(5.0, 2.0, "buy", "2"))]
    blob = encode_batch(events)
    assert stored_payloads(blob) == [encode_payload(odd), encode_payload(events[1].payload)]
    assert decode_batch(blob)[0].payload == Trade(5.0, 2.0, "buy", "1")  # what a row read gives back too
    many = _trades(2_500)  # the odd one in a later chunk of a large batch
    many[2_100] = msgspec.structs.replace(many[2_100], payload=odd)
    assert stored_payloads(encode_batch(many)) == [encode_payload(e.payload) for e in many]


# -- schema evolution --------------------------------------------------------------------------


class TradeV1(Payload, frozen=True):
    """Trade as schema 1 stored it."""

    TYPE: ClassVar[str] = "Trade"
    SCHEMA: ClassVar[int] = 1
    TOPIC: ClassVar[str] = "market.trade"

    price: float
    qty: float
    buyer_maker: bool
    id: int


def _old_registry() -> TypeRegistry:
    registry = TypeRegistry()
    registry.register(TradeV1)
    return registry


def test_an_older_schemas_columnar_block_is_upcast_and_keeps_its_stored_bytes() -> None:
    old = [TradeV1(58_123.45, 0.0015, i % 2 == 0, 1_000_000_001 + i) for i in range(4)]
    events = [Event(f"e{i}", STREAM, T0 + i, T0 + i, "s", p) for i, p in enumerate(old)]
    blob = encode_batch(events)
    decoded = decode_batch(blob)  # today's registry: Trade is schema 2
    assert [e.payload for e in decoded] == [
        Trade(58_123.45, 0.0015, "sell" if i % 2 == 0 else "buy", str(1_000_000_001 + i)) for i in range(4)
    ]
    assert stored_payloads(blob) == [encode_payload(p) for p in old]
    assert decode_batch(blob, registry=_old_registry()) == events


# -- column reads ----------------------------------------------------------------------------------


def test_columns_come_straight_from_the_batch() -> None:
    events = _trades(1_000)
    names = ["position", "ts_event", "ts_recv", "id", "price", "side", "trade_id"]
    columns = decode_columns(encode_batch(events), names)
    assert columns["position"].dtype == np.int64
    assert columns["position"].tolist() == [e.position for e in events]
    assert columns["ts_recv"].tolist() == [e.ts_recv for e in events]
    assert columns["id"].tolist() == [e.id for e in events]
    assert columns["price"].dtype == np.float64
    assert columns["price"].tolist() == [e.payload.price for e in events]  # type: ignore[attr-defined]
    assert columns["side"].tolist() == [e.payload.side for e in events]  # type: ignore[attr-defined]
    assert columns["trade_id"].tolist() == [e.payload.trade_id for e in events]  # type: ignore[attr-defined]


def test_columns_of_one_type_in_a_mixed_batch_and_optional_fields_masked() -> None:
    snapshot = BookSnapshot(((2.0, 1.0),), (), 7)
    payloads: list[Payload] = [_book(11, 1, 1), snapshot, _book(20, 2, 0), _book(31, 0, 1)]
    events = [Event(f"b{i}", "x:book", T0 + i, T0 + i, "s", p, None, i + 1, 50 + i) for i, p in enumerate(payloads)]
    blob = encode_batch(events)
    names = ["position", "type", "first_sequence", "previous_sequence", "bids"]
    deltas = decode_columns(blob, names, type_name="BookDelta")
    assert deltas["position"].tolist() == [50, 52, 53]
    assert deltas["type"].tolist() == ["BookDelta"] * 3
    assert deltas["first_sequence"].tolist() == [11, 20, 31]
    assert isinstance(deltas["previous_sequence"], np.ma.MaskedArray)
    assert deltas["previous_sequence"].tolist() == [10, None, 30]
    assert deltas["bids"].tolist() == [p.bids for p in payloads if isinstance(p, BookDelta)]
    with pytest.raises(UsageError, match="several types"):
        decode_columns(blob, ["bids"])
    with pytest.raises(UsageError, match="no field 'price'"):
        decode_columns(blob, ["price"], type_name="BookDelta")
    assert decode_columns(blob, ["sequence"], type_name="Trade")["sequence"].tolist() == []


def test_columns_of_a_json_block_come_from_the_payloads() -> None:
    notes = [Note(f"n{i}", "info") for i in range(3)]
    blob = encode_batch([Event(f"n{i}", "notes", i, i, "s", n) for i, n in enumerate(notes)])
    assert decode_columns(blob, ["message", "level"])["message"].tolist() == ["n0", "n1", "n2"]


@pytest.mark.parametrize("sessions", [["a", "b", "a", "c", "a", "b"], ["a", "b"], ["a"] * 4])
def test_a_reader_tells_the_events_of_a_session_and_gives_the_events_themselves(sessions: list[str]) -> None:
    events = [Event(f"e{n}", STREAM, T0 + n, T0 + n, s, Trade(1.0, 1.0, "buy", "1")) for n, s in enumerate(sessions)]
    reader = ColumnReader(encode_batch(events))
    for session in ["a", "b", "c", "zz"]:
        assert reader.equals("session", session).tolist() == [e.session == session for e in events]
    _same(reader.events(), events)


def test_summary_is_the_batch_index_row() -> None:
    events = _trades(100, start=40)
    summary = batch_summary(encode_batch(events))
    assert (summary.stream, summary.count) == (STREAM, 100)
    assert (summary.first_position, summary.last_position) == (40, 40 + 2 * 99)
    assert (summary.first_version, summary.last_version) == (1, 100)
    assert (summary.min_ts_event, summary.max_ts_event) == (events[0].ts_event, max(e.ts_event for e in events))


# -- refusals -----------------------------------------------------------------------------------


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(UsageError, match="empty batch"):
        encode_batch([])


def test_a_batch_of_two_streams_is_refused() -> None:
    events = [*_trades(2), Event("x", "other", T0, T0, "s1", Trade(1.0, 1.0, "buy", "1"))]
    with pytest.raises(UsageError, match=r"one stream.*'other'"):
        encode_batch(events)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ts_event", 2**63, r"ts_event 9223372036854775808 is not an int within 64 bits"),
        ("ts_recv", True, r"ts_recv True is not an int"),
        ("position", 1.0, r"position 1.0 is not an int"),
        ("causation", 2**64, r"causation 18446744073709551616 is not an int"),
        ("session", 7, r"session 7 is not a string"),
        ("id", b"x", r"id b'x' is not a string"),
    ],
)
@pytest.mark.parametrize("at", [1, 2_999])  # a large batch is gathered a chunk of events at a time
def test_envelope_values_the_log_cannot_hold_are_refused(field: str, value: object, message: str, at: int) -> None:
    events = _trades(3_001)
    events[at] = msgspec.structs.replace(events[at], **{field: value})
    with pytest.raises(InvalidEventError, match=message + rf".*event {at + 1} of the batch"):
        encode_batch(events)


@pytest.mark.parametrize(
    ("event_id", "payload"),
    [("a", Note("\ud800")), ("b", Trade(1.0, 1.0, "buy", "\ud800")), ("\ud800", Trade(1.0, 1.0, "buy", "1"))],
)
def test_strings_utf8_cannot_hold_are_refused(event_id: str, payload: Payload) -> None:
    with pytest.raises(InvalidEventError, match=r"cannot be encoded.*surrogates not allowed"):
        encode_batch([Event(event_id, "s", 1, 1, "s", payload)])


def test_a_payload_of_an_unregistered_type_fails_to_decode_by_name() -> None:
    class Mystery(Payload, frozen=True):
        TYPE: ClassVar[str] = "Mystery"
        clue: dict[str, int]

    blob = encode_batch([Event("m", "x", 1, 1, "s", Mystery({"a": 1}), None, 1, 9)])
    with pytest.raises(Exception, match=r"unknown event type 'Mystery' \(schema 1\) at position 9"):
        decode_batch(blob)


# -- damage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "error", "message"),
    [
        (b"", CorruptDatabaseError, "not a batch blob"),
        (bytes([FORMAT_VERSION]), CorruptDatabaseError, "not a batch blob"),
        (bytes([0, 1, 2]), CorruptDatabaseError, "format byte 0"),
        (bytes([FORMAT_VERSION + 1]) + b"future", SchemaVersionError, "newer than this Virtuoso reads"),
        (bytes([FORMAT_VERSION]) + b"not zstd at all", CorruptDatabaseError, "damaged event batch"),
        (bytes([FORMAT_VERSION]) + zstandard.compress(b"\x93\x01\x02\x03"), CorruptDatabaseError, "Expected"),
    ],
)
def test_blobs_that_are_not_batches_raise_one_error(blob: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        decode_batch(blob)


def test_a_flipped_byte_is_damage_or_changes_nothing() -> None:
    # The frame's checksum covers the decompressed body: a flip that zstd decodes to other bytes is
    # found; a few flips (unused header bits, bits the decoder never reads) give the same body back.
    events = _trades(300)
    blob = encode_batch(events)
    found = 0
    for index in range(1, len(blob)):
        damaged = bytearray(blob)
        damaged[index] ^= 0x10
        try:
            decoded = decode_batch(bytes(damaged))
        except CorruptDatabaseError as error:
            found += str(error).startswith("damaged event batch")
        else:
            _same(decoded, events)
    assert found > 0.95 * (len(blob) - 1)


def test_trailing_or_missing_bytes_are_damage() -> None:
    blob = encode_batch(_trades(10))
    with pytest.raises(CorruptDatabaseError, match="unused data"):
        decode_batch(blob + b"\x00")
    with pytest.raises(CorruptDatabaseError):
        decode_batch(blob[:-1])


def test_a_well_formed_frame_of_a_wrong_body_is_damage() -> None:
    body = msgspec.msgpack.Decoder().decode(zstandard.ZstdDecompressor().decompress(encode_batch(_trades(10))[1:]))
    body[0] = 11  # claims one event more than the columns hold
    raw = zstandard.ZstdCompressor(write_checksum=True).compress(msgspec.msgpack.encode(body))
    with pytest.raises(CorruptDatabaseError, match="damaged event batch: ValueError"):
        decode_batch(bytes([FORMAT_VERSION]) + raw)


# -- real data -----------------------------------------------------------------------------------


def test_real_capture_trades_round_trip_within_the_size_target() -> None:
    ids = EventIdFactory("capture:trades")
    events = []
    with gzip.open(require_data(CAPTURE), "rb") as lines:
        for line in lines:
            recv, _, message = line.partition(b" ")
            if b"@trade" not in message[:40]:
                continue
            t = json.loads(message)["data"]
            ts = t["T"] * 1_000_000
            trade = Trade(float(t["p"]), float(t["q"]), "sell" if t["m"] else "buy", str(t["t"]))
            events.append(Event(ids(ts), STREAM, ts, int(recv), "s", trade, None, len(events) + 1, 3 * len(events) + 2))
    assert len(events) == 9_757
    blob = encode_batch(events)
    _same(decode_batch(blob), events)
    assert len(blob) / len(events) <= 25  # the target for a closed session
    stored = b"".join(stored_payloads(blob))
    assert zlib.crc32(stored) == zlib.crc32(b"".join(encode_payload(e.payload) for e in events))


class Renamed(Payload, frozen=True, rename="camel", omit_defaults=True):
    """Stored under other names, without its defaults: a dict of its columns would not give its bytes."""

    TYPE: ClassVar[str] = "Renamed"
    TOPIC: ClassVar[str] = "test.renamed"

    best_bid: float
    size_left: float = 0.0


def test_a_class_encoded_under_other_names_keeps_its_bytes_in_a_json_block() -> None:
    registry = TypeRegistry()
    registry.register(Renamed)
    payloads = [Renamed(1.5), Renamed(2.5, 3.0)]
    blob = encode_batch([Event(f"r{i}", "x", i, i, "s", p) for i, p in enumerate(payloads)])
    assert stored_payloads(blob, registry) == [b'{"bestBid":1.5}', b'{"bestBid":2.5,"sizeLeft":3.0}']
    assert [e.payload for e in decode_batch(blob, registry)] == payloads


def test_a_count_past_the_limit_is_damage_before_anything_is_allocated() -> None:
    body = msgspec.msgpack.Decoder().decode(zstandard.ZstdDecompressor().decompress(encode_batch(_trades(1))[1:]))
    huge = 2**24 + 1
    body[0] = huge
    # positions, versions, both times, kind codes; an integer column is [tag, count, first, delta, step, width, data]
    for index in (2, 3, 4, 5, 10):
        body[index][1], body[index][5], body[index][6] = huge, 0, b""
    raw = zstandard.ZstdCompressor(write_checksum=True).compress(msgspec.msgpack.encode(body))
    with pytest.raises(CorruptDatabaseError, match="sizes do not add up"):
        decode_batch(bytes([FORMAT_VERSION]) + raw)


_BIG = 10**18


@pytest.mark.parametrize(
    "ints",
    [
        np.arange(1_000, 1_050),  # trade ids in order: taken from the numbers
        np.arange(1_050, 1_000, -1),  # in reverse order
        np.array([5, 3, 9, 1, 7, 2]),  # out of order: the strings decide, as without numbers
        np.array([4, 4, 4, 5, 5, 6]),  # repeats: a dictionary
        np.array([7, 7]),  # one value
        np.array([-3, -2, 0, 1]),  # negative ones
        np.array([_BIG - 2, _BIG - 1]),  # 18 digits: still integers
        np.array([_BIG - 1, _BIG]),  # 19 digits: plain strings
        np.array([-_BIG, 0]),  # 19 digits, negative
        np.array([2**63 - 2, 2**63 - 1]),
        np.array([42]),
    ],
)
def test_text_given_with_its_numbers_is_the_column_the_strings_make(ints: np.ndarray) -> None:
    ints = ints.astype(np.int64)
    values = list(map(str, ints.tolist()))
    columns = []
    for as_ints in (None, ints):
        queue = col.IntQueue()
        later = col.encode_text(values, queue, as_ints=as_ints)
        queue.encode()
        columns.append(later())
    assert columns[0] == columns[1]
    assert col.decode_text(columns[1], len(values)) == values
