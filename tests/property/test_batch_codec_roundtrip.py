"""The columnar batch format under hypothesis: every payload type and envelope round-trips bit for bit,
the stored payload bytes (what the hash chain covers) come back exactly, and damaged blobs raise one error."""

from __future__ import annotations

import contextlib
from collections import defaultdict

import msgspec
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property.strategies import INT64_MAX, event_ids, payloads, texts
from virtuoso.errors import VirtuosoError
from virtuoso.events import Event, Payload, Trade, encode_payload
from virtuoso.store import _batch_columns as col
from virtuoso.store._batch_codec import (
    FORMAT_VERSION,
    batch_summary,
    decode_batch,
    decode_columns,
    encode_batch,
    stored_payloads,
)
from virtuoso.testing import MarketShape, sessions

int64s = st.integers(min_value=-(2**63), max_value=INT64_MAX)
hex_ids = st.integers(min_value=0, max_value=2**128 - 1).map(lambda v: f"{v:032x}")
any_floats = st.floats(allow_nan=True, allow_infinity=True)
trade_ids = (
    texts.filter(bool)
    | st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.integers(min_value=0, max_value=999).map(lambda v: f"{v:05d}")
)
sides = st.sampled_from(["buy", "sell"])
any_trades = st.builds(Trade, price=any_floats, amount=any_floats, side=sides, trade_id=trade_ids)


@st.composite
def one_stream_batches(draw: st.DrawFn, payload: st.SearchStrategy[Payload] | None = None) -> list[Event]:
    """1 to 30 events of one stream: any ids (hex or not), sessions, times, causations, positions, versions."""
    stream = draw(texts.filter(bool))
    ids = draw(st.sampled_from([hex_ids, event_ids, hex_ids | event_ids]))
    session_names = draw(st.lists(texts, min_size=1, max_size=3))
    envelope = st.builds(
        Event,
        id=ids,
        stream=st.just(stream),
        ts_event=int64s,
        ts_recv=int64s,
        session=st.sampled_from(session_names),
        payload=payloads() if payload is None else payload,
        causation=st.none() | int64s,
        version=int64s,
        position=int64s,
    )
    return draw(st.lists(envelope, min_size=1, max_size=30))


_BITS = msgspec.msgpack.Encoder(order="deterministic").encode
"""Floats bit for bit (-0.0 is not 0.0, NaN is itself); dict keys sorted, as a JSON payload's come back."""


def _check_round_trip(events: list[Event]) -> None:
    blob = encode_batch(events)
    decoded = decode_batch(blob)
    assert list(map(_BITS, decoded)) == list(map(_BITS, events))
    assert [type(e.payload) for e in decoded] == [type(e.payload) for e in events]
    assert stored_payloads(blob) == [encode_payload(e.payload) for e in events]
    summary = batch_summary(blob)
    assert (summary.count, summary.first_position, summary.last_version) == (
        len(events),
        events[0].position,
        events[-1].version,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=one_stream_batches())
def test_any_payloads_in_any_envelopes_round_trip(events: list[Event]) -> None:
    assert decode_batch(encode_batch(events)) == events  # no NaN here: floats of the payload strategies are finite
    _check_round_trip(events)


@settings(max_examples=100, deadline=None)
@given(events=one_stream_batches(any_trades))
def test_trades_with_any_floats_and_ids_round_trip_bit_for_bit(events: list[Event]) -> None:
    _check_round_trip(events)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=sessions(MarketShape(max_events=120, symbols=("BTC/USDT", "ETH/USDT"))))
def test_market_sessions_round_trip_stream_by_stream(events: list[Event]) -> None:
    by_stream: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_stream[event.stream].append(event)
    for stream_events in by_stream.values():
        blob = encode_batch(stream_events)
        assert decode_batch(blob) == stream_events
        assert stored_payloads(blob) == [encode_payload(e.payload) for e in stream_events]
        columns = decode_columns(blob, ["position", "ts_event"])
        assert columns["position"].tolist() == [e.position for e in stream_events]


# -- integer columns encoded together ------------------------------------------------------------

int_arrays = st.lists(
    st.lists(int64s | st.integers(-3, 3) | st.integers(0, 10**12).map(lambda v: v * 1_000_000), max_size=6),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(arrays=int_arrays)
def test_integer_columns_encoded_together_are_those_encoded_alone(arrays: list[list[int]]) -> None:
    # A batch's columns of one length are encoded as the rows of one matrix: no row may see another's values.
    ints = [np.array(values, dtype=np.int64) for values in arrays]
    together = col.encode_int_columns(ints)
    assert together == [col.encode_int_columns([a])[0] for a in ints]
    fresh = [msgspec.msgpack.decode(msgspec.msgpack.encode(c), type=col.IntColumn) for c in together]
    assert [a.tolist() for a in col.decode_int_columns(fresh)] == arrays
    alone = [msgspec.msgpack.decode(msgspec.msgpack.encode(c), type=col.IntColumn) for c in together]
    assert [col.decode_ints(c).tolist() for c in alone] == arrays


# -- damage ---------------------------------------------------------------------------------------

_ONE_BLOB = encode_batch(
    [
        Event(f"{i:032x}", "x:trades", 10 + i, 20 + i, "s", Trade(1.5 + i, 0.25, "buy", str(i)), None, i + 1, i + 2)
        for i in range(40)
    ]
)


def _mutated(data: st.DataObject, raw: bytes) -> bytes:
    """``raw`` with one byte flipped, inserted or deleted, or cut short."""
    action = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    if action == "flip":
        return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    if action == "insert":
        return raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at:]
    if action == "delete":
        return raw[:at] + raw[at + 1 :]
    return raw[:at]


def _only_our_errors(blob: bytes) -> None:
    """Every reader either succeeds or raises one of the project's errors; nothing else escapes."""
    for read in (decode_batch, stored_payloads, batch_summary, lambda b: decode_columns(b, ["id", "price", "side"])):
        with contextlib.suppress(VirtuosoError):
            read(blob)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_blobs_raise_only_project_errors(data: st.DataObject) -> None:
    _only_our_errors(_mutated(data, _ONE_BLOB))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_bodies_in_sound_frames_raise_only_project_errors(data: st.DataObject) -> None:
    # Past the frame's checksum: a body damaged before it was compressed (or a bug that wrote it wrong).
    body = zstandard.ZstdDecompressor().decompress(_ONE_BLOB[1:])
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(_mutated(data, body))
    _only_our_errors(bytes([FORMAT_VERSION]) + frame)


@settings(max_examples=100, deadline=None)
@given(blob=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_project_errors(blob: bytes) -> None:
    _only_our_errors(blob)


@pytest.mark.parametrize("leaf", [0, -1, 2**63, 2**64 - 1, "", b"\xff" * 9, [], None, 1.5])
def test_each_envelope_column_replaced_by_nonsense_is_damage(leaf: object) -> None:
    body = msgspec.msgpack.decode(zstandard.ZstdDecompressor().decompress(_ONE_BLOB[1:]))
    for index in range(len(body)):
        changed = [*body[:index], leaf, *body[index + 1 :]]
        frame = zstandard.ZstdCompressor(write_checksum=True).compress(msgspec.msgpack.encode(changed))
        _only_our_errors(bytes([FORMAT_VERSION]) + frame)
