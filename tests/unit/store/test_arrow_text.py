"""Column reads (``ColumnReader(arrow_text=True)``): text as Arrow, the very strings in every stored form; numbers
that may be ``None`` masked."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pytest

from virtuoso.errors import CorruptDatabaseError
from virtuoso.events import Bar, Event, EventIdFactory, Payload, Trade, TypeRegistry
from virtuoso.store import _batch_columns as col
from virtuoso.store._arrow_text import repeated
from virtuoso.store._batch_codec import ColumnReader, decode_columns, encode_batch

T0 = 1_723_161_255_000_000_000


class Labelled(Payload, frozen=True):
    TYPE: ClassVar[str] = "Labelled"
    TOPIC: ClassVar[str] = "test.labelled"

    label: str | None
    mood: Literal["up", "down"] | None


class Mood(Payload, frozen=True):
    TYPE: ClassVar[str] = "Mood"
    TOPIC: ClassVar[str] = "test.mood"

    mood: str


class StrictMood(Payload, frozen=True):
    TYPE: ClassVar[str] = "Mood"
    TOPIC: ClassVar[str] = "test.mood"

    mood: Literal["up", "down"]


def _registry(*classes: type[Payload]) -> TypeRegistry:
    registry = TypeRegistry()
    for cls in classes:
        registry.register(cls)
    return registry


def _events(payloads: list[Payload], ids: list[str] | None = None, sessions: list[str] | None = None) -> list[Event]:
    ids = ids or [f"e{i}" for i in range(len(payloads))]
    sessions = sessions or ["s"] * len(payloads)
    return [
        Event(ids[i], "x:BTC/USDT:trades", T0 + i, T0 + i + 5, sessions[i], p, None, i + 1, i + 1)
        for i, p in enumerate(payloads)
    ]


def _both(blob: bytes, names: list[str], registry: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    kwargs = {} if registry is None else {"registry": registry}
    arrow = ColumnReader(blob, arrow_text=True, **kwargs).columns(names)
    objects = decode_columns(blob, names, **kwargs)
    return arrow, objects


@pytest.mark.parametrize(
    ("trade_ids", "form"),
    [
        ([str(1_000_000_001 + i) for i in range(50)], col.IntText),
        (["-5", "0", "17", "-900719925474099312", "-1", "-2"], col.IntText),
        (["007", "é漢", "", "a\x00b", "+1"], col.PlainText),
        (["x"] * 10, col.DictText),
        (["", "ü"] * 10, col.DictText),
    ],
    ids=["decimal", "signed", "plain-unicode-empty-nul", "one-value", "dictionary-with-empty"],
)
def test_each_string_form_reads_as_the_same_strings(trade_ids: list[str], form: type) -> None:
    trades: list[Payload] = [Trade(1.0, 0.5, "buy" if i % 2 else "sell", t) for i, t in enumerate(trade_ids)]
    blob = encode_batch(_events(trades))
    arrow, objects = _both(blob, ["id", "stream", "session", "side", "trade_id"])
    for name, values in arrow.items():
        assert isinstance(values, pa.StringArray), name
        assert values.to_pylist() == objects[name].tolist(), name
    assert arrow["trade_id"].to_pylist() == trade_ids
    assert isinstance(_stored_form(blob), form)


def _stored_form(blob: bytes) -> col.Text:
    from virtuoso.store._batch_codec import _open

    block = _open(blob).blocks[0]
    return block.fields[3]  # type: ignore[union-attr,return-value]


def test_hex_ids_and_a_session_dictionary_read_as_their_strings() -> None:
    make = EventIdFactory("s")
    ids = [make(T0 + i) for i in range(40)] + ["f" * 32, "0" * 32]
    sessions = ["s-one", "s-två"] * 21
    blob = encode_batch(_events([Trade(2.0, 1.0, "buy", str(i)) for i in range(42)], ids, sessions))
    arrow, _ = _both(blob, ["id", "session"])
    assert arrow["id"].to_pylist() == ids
    assert arrow["session"].to_pylist() == sessions


def test_text_that_may_be_none_reads_with_nulls() -> None:
    registry = _registry(Labelled)
    payloads: list[Payload] = [
        Labelled(None if i % 3 == 0 else f"l{i % 2}", None if i % 4 else "up") for i in range(12)
    ]
    blob = encode_batch(_events(payloads))
    arrow, objects = _both(blob, ["label", "mood"], registry)
    assert arrow["label"].to_pylist() == [p.label for p in payloads]  # type: ignore[attr-defined]
    assert arrow["mood"].to_pylist() == [p.mood for p in payloads]  # type: ignore[attr-defined]
    assert arrow["label"].null_count == 4
    assert arrow["label"].to_pylist() == objects["label"].tolist()


@pytest.mark.parametrize("moods", [["up", "sideways"] * 4, ["up", "down", "sideways"]], ids=["dictionary", "plain"])
def test_a_string_outside_its_choices_is_damage(moods: list[str]) -> None:
    blob = encode_batch(_events([Mood(m) for m in moods]))  # written when the field took any string
    reader = ColumnReader(blob, _registry(StrictMood), arrow_text=True)
    with pytest.raises(CorruptDatabaseError, match="outside its choices"):
        reader.columns(["mood"])


def test_repeated_text_is_the_value_each_time() -> None:
    assert repeated("", 3).to_pylist() == ["", "", ""]
    assert repeated("binance:ÉTH/USDT:trades", 2).to_pylist() == ["binance:ÉTH/USDT:trades"] * 2
    assert repeated("x", 0).to_pylist() == []


def test_filters_read_the_text_columns_once() -> None:
    blob = encode_batch(_events([Trade(1.0, 1.0, "buy", str(i)) for i in range(6)], sessions=["a", "b"] * 3))
    reader = ColumnReader(blob, arrow_text=True)
    assert reader.equals("session", "b").tolist() == [False, True] * 3
    assert reader.of_types({"Trade"}).all()
    assert reader.types_among(np.ones(6, np.bool_)) == ["Trade"]
    assert reader.columns(["session"])["session"] is reader.envelope("session")


def test_numbers_that_may_be_none_read_masked_and_booleans_as_bools() -> None:
    bars: list[Payload] = [
        Bar("1m", 60 * i, 1.0, 2.0, 0.5, 1.5, 3.0, None if i % 3 else i, i % 2 == 0, None if i % 2 else 0.25 * i)
        for i in range(9)
    ]
    columns = ColumnReader(encode_batch(_events(bars)), arrow_text=True).columns(["trades", "closed", "buy_volume"])
    assert columns["trades"].dtype == np.int64
    assert columns["trades"].tolist() == [b.trades for b in bars]  # type: ignore[attr-defined]
    assert columns["buy_volume"].tolist() == [b.buy_volume for b in bars]  # type: ignore[attr-defined]
    assert columns["closed"].dtype == np.bool_
    assert columns["closed"].tolist() == [b.closed for b in bars]  # type: ignore[attr-defined]
