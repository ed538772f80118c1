"""Events to typed frames: every registered payload type, the envelope, JSON columns, combined frames."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.strategies import PAYLOAD_STRATEGIES, envelopes, payloads
from virtuoso.errors import UsageError
from virtuoso.events import REGISTRY, BookDelta, Event, Gap, Note, Trade
from virtuoso.export import RESERVED, arrow_schema, combined_frame, frame_of, payload_class, payload_columns

ENVELOPE_DTYPES = {
    "position": "int64",
    "id": "str",
    "stream": "str",
    "version": "int64",
    "session": "str",
    "causation": "Int64",
    "ts_event": "int64",
    "ts_recv": "int64",
    "time_event": "datetime64[ns, UTC]",
    "time_recv": "datetime64[ns, UTC]",
}
SCALAR_DTYPES = {("float", False): "float64", ("float", True): "float64", ("int", False): "int64",
                 ("int", True): "Int64", ("bool", False): "bool", ("str", False): "str", ("str", True): "str",
                 ("json", False): "str", ("json", True): "str"}  # fmt: skip


def stored(events: list[Event]) -> list[Event]:
    """``events`` as the store would return them: positions and versions assigned."""
    return [msgspec.structs.replace(e, position=n, version=n) for n, e in enumerate(events, start=1)]


def cell(value: Any) -> Any:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value


def expected_cell(payload: Any, column: Any) -> Any:
    value = getattr(payload, column.field)
    if column.kind == "json":
        return json.loads(msgspec.json.encode(value))
    return value


def fits_int64(event: Event) -> bool:
    """Whether the payload's integer fields fit int64 (the strategies draw sequences up to 2**64)."""
    values = msgspec.structs.astuple(event.payload)
    return all(-(2**63) <= v < 2**63 for v in values if isinstance(v, int) and not isinstance(v, bool))


def test_every_registered_type_has_a_strategy_so_the_property_below_covers_it() -> None:
    assert set(PAYLOAD_STRATEGIES) == set(REGISTRY.names())


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(PAYLOAD_STRATEGIES)).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(envelopes("s1", payload=payloads([name])), max_size=6))
))  # fmt: skip
def test_a_frame_holds_every_field_of_every_event_typed(case: tuple[str, list[Event]]) -> None:
    name, events = case
    events = stored([e for e in events if fits_int64(e)])
    cls = payload_class(name)

    frame = frame_of(events, name)

    assert list(frame.columns) == arrow_schema(cls).names
    assert {c: str(frame[c].dtype) for c in ENVELOPE_DTYPES} == ENVELOPE_DTYPES
    for column in payload_columns(cls):
        assert str(frame[column.name].dtype) == SCALAR_DTYPES[(column.kind, column.nullable)], column
    assert len(frame) == len(events)
    for row, event in zip(frame.to_dict("records"), events, strict=True):
        assert (row["position"], row["id"], row["stream"], row["session"]) == (
            event.position, event.id, event.stream, event.session
        )  # fmt: skip
        assert (row["ts_event"], row["ts_recv"]) == (event.ts_event, event.ts_recv)
        assert cell(row["causation"]) == event.causation
        assert row["time_event"].value == event.ts_event
        for column in payload_columns(cls):
            actual = cell(row[column.name])
            actual = json.loads(actual) if column.kind == "json" and actual is not None else actual
            assert actual == expected_cell(event.payload, column), column


def test_an_integer_wider_than_int64_is_a_one_line_error_naming_the_field_and_position() -> None:
    delta = BookDelta((), (), 1, 2**64)
    with pytest.raises(UsageError, match=r"^BookDelta.last_sequence at position 1: 18446744073709551616 does not fit"):
        frame_of(stored([Event("d", "x:book", 5, 6, "s1", delta)]), BookDelta)


def test_book_levels_are_json_text_of_price_amount_pairs() -> None:
    delta = BookDelta(((61717.63, 1.41185), (61717.49, 0.0)), (), 50093390730, 50093390731)
    frame = frame_of(stored([Event("d", "binance:BTC/USDT:book", 5, 6, "s1", delta)]), BookDelta)

    assert json.loads(frame["bids"][0]) == [[61717.63, 1.41185], [61717.49, 0.0]]
    assert frame["asks"][0] == "[]"
    assert frame["previous_sequence"].isna().all()
    assert frame["last_sequence"][0] == 50093390731


def test_a_field_named_like_an_envelope_column_gets_a_payload_prefix() -> None:
    gap = Gap("binance:BTC/USDT:trades", 10, 20, "reconnect")
    frame = frame_of(stored([Event("g", "system:s1:gaps", 30, 31, "s1", gap)]), "Gap")

    assert "stream" in RESERVED
    assert (frame["stream"][0], frame["payload_stream"][0]) == ("system:s1:gaps", "binance:BTC/USDT:trades")


def test_dict_fields_are_json_with_sorted_keys() -> None:
    note = Note("hello", "info", {"b": "2", "a": "1"})
    frame = frame_of(stored([Event("n", "system:notes", 1, 1, "s1", note)]), Note)

    assert frame["data"][0] == '{"a":"1","b":"2"}'


def test_events_of_other_types_are_left_out() -> None:
    events = stored([
        Event("t", "x:trades", 1, 1, "s1", Trade(1.0, 2.0, "buy", "1")),
        Event("n", "system:notes", 2, 2, "s1", Note("hi")),
    ])  # fmt: skip
    assert list(frame_of(events, Trade)["id"]) == ["t"]
    assert list(frame_of(events, "Note")["id"]) == ["n"]


def test_an_unknown_type_name_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown event type 'Trad' \(known: .*Trade"):
        frame_of([], "Trad")


def test_combined_frames_are_in_position_order_with_a_type_column_and_nullable_gaps() -> None:
    events = stored([
        Event("t1", "x:trades", 1, 1, "s1", Trade(1.0, 2.0, "buy", "1")),
        Event("d1", "x:book", 2, 2, "s1", BookDelta(((1.0, 1.0),), (), 7, 8)),
        Event("t2", "x:trades", 3, 3, "s1", Trade(1.5, 1.0, "sell", "2")),
    ])  # fmt: skip
    frames = {Trade: frame_of(events, Trade), BookDelta: frame_of(events, BookDelta)}

    frame = combined_frame(frames)

    assert list(frame["id"]) == ["t1", "d1", "t2"]
    assert list(frame["type"]) == ["Trade", "BookDelta", "Trade"]
    assert list(frame.columns[:11]) == [*ENVELOPE_DTYPES, "type"]
    assert list(frame.columns[11:]) == ["price", "amount", "side", "trade_id", "bids", "asks", "first_sequence",
                                        "last_sequence", "previous_sequence"]  # fmt: skip
    assert str(frame["first_sequence"].dtype) == "Int64"
    assert frame["first_sequence"].isna().tolist() == [True, False, True]
    assert frame["price"].isna().tolist() == [False, True, False]


def test_a_combined_frame_of_nothing_has_the_envelope_and_type_columns() -> None:
    frame = combined_frame({})
    assert list(frame.columns) == [*ENVELOPE_DTYPES, "type"]
    assert len(frame) == 0


def test_docs_list_the_columns_of_every_type() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "export.md").read_text()
    listed = dict(re.findall(r"^\| `(\w+)` \| (`.*) \|$", docs, re.MULTILINE))
    short = {**{k: v for k, v in SCALAR_DTYPES.items() if k[0] != "json"}, ("float", True): "float64 (NaN)"}

    assert sorted(listed) == sorted(REGISTRY.names())
    for name, text in listed.items():
        columns = payload_columns(payload_class(name))
        expected = ", ".join(f"`{c.name}` {short.get((c.kind, c.nullable), 'JSON')}" for c in columns)
        assert text == expected, name
