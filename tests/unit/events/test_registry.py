"""The type registry (registration, upcaster chains) and deterministic event ids."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.errors import EventDecodeError, UnknownEventType, UsageError
from virtuoso.events import REGISTRY, EventIdFactory, Payload, Trade, TypeRegistry

BUILTIN = [
    "Bar",
    "BookDelta",
    "BookSnapshot",
    "BreakerStateChanged",
    "ChannelRestarted",
    "ConfluenceScore",
    "EquityMarked",
    "FileImported",
    "Gap",
    "HandlerFailed",
    "HealthReported",
    "IndicatorValue",
    "MarketsLoaded",
    "Note",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "PayloadRejected",
    "PositionChanged",
    "ProcessorStats",
    "Quote",
    "SessionEnded",
    "SessionResumed",
    "SessionStarted",
    "Signal",
    "Ticker",
    "Trade",
]


class Ping(Payload, frozen=True):
    TYPE: ClassVar[str] = "Ping"
    TOPIC: ClassVar[str] = "test.ping"

    n: int


class OtherPing(Payload, frozen=True):
    TYPE: ClassVar[str] = "Ping"
    TOPIC: ClassVar[str] = "test.other"

    n: int


class Nameless(Payload, frozen=True):
    n: int


class Reading(Payload, frozen=True):
    """Schema 3 of a reading: 1 had ``celsius``, 2 had ``kelvin``, 3 adds ``unit``."""

    TYPE: ClassVar[str] = "Reading"
    SCHEMA: ClassVar[int] = 3
    TOPIC: ClassVar[str] = "test.reading"

    kelvin: float
    unit: str


def celsius_to_kelvin(raw: dict[str, Any]) -> dict[str, Any]:
    return {"kelvin": raw["celsius"] + 273.0}


def add_unit(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "unit": "K"}


# -- registration -------------------------------------------------------------------


def test_builtin_types_are_registered_with_the_global_registry() -> None:
    assert REGISTRY.names() == BUILTIN
    assert REGISTRY.class_for("Trade") is Trade


def test_register_returns_the_class_and_lists_it() -> None:
    registry = TypeRegistry()
    assert registry.register(Ping) is Ping
    assert registry.register(Reading) is Reading
    assert registry.names() == ["Ping", "Reading"]
    assert registry.class_for("Ping") is Ping


def test_registering_the_same_class_again_is_harmless() -> None:
    registry = TypeRegistry()
    registry.register(Ping)
    registry.register(Ping)
    assert registry.names() == ["Ping"]


def test_a_name_taken_by_another_class_is_refused() -> None:
    registry = TypeRegistry()
    registry.register(Ping)
    with pytest.raises(UsageError, match=r"'Ping' is already registered to Ping"):
        registry.register(OtherPing)
    assert registry.class_for("Ping") is Ping


def test_a_class_without_type_is_refused() -> None:
    registry = TypeRegistry()
    with pytest.raises(UsageError, match="Nameless must set TYPE"):
        registry.register(Nameless)
    assert registry.names() == []


def test_unknown_names_are_unknown_event_types() -> None:
    registry = TypeRegistry()
    with pytest.raises(UnknownEventType, match="'Ping'"):
        registry.class_for("Ping")
    with pytest.raises(UnknownEventType, match=r"'Ping' \(schema 1\) at position 3"):
        registry.kind("Ping", 1, position=3)


# -- kinds and upcasters ------------------------------------------------------------


def test_kind_of_the_current_schema_decodes_directly() -> None:
    registry = TypeRegistry()
    registry.register(Ping)
    kind = registry.kind("Ping", 1)
    assert (kind.type_name, kind.schema, kind.cls, kind.upcasters) == ("Ping", 1, Ping, ())
    assert kind.decode(b'{"n":7}') == Ping(7)
    assert registry.kind("Ping", 1) is kind


@pytest.mark.parametrize("schema", [0, -1, 4])
def test_schemas_outside_one_to_current_are_unknown(schema: int) -> None:
    registry = TypeRegistry()
    registry.register(Reading)
    for version in (1, 2):
        registry.register_upcaster("Reading", version, celsius_to_kelvin if version == 1 else add_unit)
    with pytest.raises(UnknownEventType, match=rf"\(schema {schema}\)"):
        registry.kind("Reading", schema)


def test_upcaster_chain_applies_every_step_in_order() -> None:
    registry = TypeRegistry()
    registry.register(Reading)
    registry.register_upcaster("Reading", 2, add_unit)
    assert registry.upcaster("Reading", 1)(celsius_to_kelvin) is celsius_to_kelvin
    assert registry.kind("Reading", 1).decode(b'{"celsius":20.5}') == Reading(293.5, "K")
    assert registry.kind("Reading", 2).decode(b'{"kelvin":1.0}') == Reading(1.0, "K")
    assert registry.kind("Reading", 3).decode(b'{"kelvin":1.0,"unit":"mK"}') == Reading(1.0, "mK")


def test_upcaster_chain_missing_a_step_is_unknown() -> None:
    registry = TypeRegistry()
    registry.register(Reading)
    registry.register_upcaster("Reading", 2, add_unit)
    with pytest.raises(UnknownEventType, match=r"'Reading' \(schema 1\) at position 12") as caught:
        registry.kind("Reading", 1, position=12)
    assert (caught.value.type_name, caught.value.schema, caught.value.position) == ("Reading", 1, 12)
    assert registry.kind("Reading", 2).decode(b'{"kelvin":3.0}') == Reading(3.0, "K")


def test_registering_an_upcaster_later_completes_the_chain() -> None:
    registry = TypeRegistry()
    registry.register(Reading)
    registry.register_upcaster("Reading", 2, add_unit)
    with pytest.raises(UnknownEventType):
        registry.kind("Reading", 1)
    registry.register_upcaster("Reading", 1, celsius_to_kelvin)
    assert registry.kind("Reading", 1).decode(b'{"celsius":0.0}') == Reading(273.0, "K")


def test_upcaster_meeting_an_old_payload_without_its_field_is_a_decode_error() -> None:
    registry = TypeRegistry()
    registry.register(Reading)
    registry.register_upcaster("Reading", 1, celsius_to_kelvin)
    registry.register_upcaster("Reading", 2, add_unit)
    with pytest.raises(EventDecodeError, match=r"cannot decode Reading event at position 5") as caught:
        registry.kind("Reading", 1).decode(b'{"fahrenheit":70}', position=5)
    assert (caught.value.type_name, caught.value.position) == ("Reading", 5)


def test_payload_of_the_wrong_shape_is_a_decode_error() -> None:
    registry = TypeRegistry()
    registry.register(Ping)
    with pytest.raises(EventDecodeError, match=r"cannot decode Ping event at position 8"):
        registry.kind("Ping", 1).decode(b'{"n":"seven"}', position=8)
    with pytest.raises(EventDecodeError, match=r"cannot decode Ping event:"):
        registry.kind("Ping", 1).decode(b"[]")


def test_the_global_trade_upcaster_is_schema_1_to_2() -> None:
    raw = msgspec.json.encode({"price": 61837.63, "qty": 0.02, "buyer_maker": False, "id": 3735683260})
    assert REGISTRY.kind("Trade", 1).decode(raw) == Trade(61837.63, 0.02, "buy", "3735683260")


# -- event ids ----------------------------------------------------------------------


def test_event_ids_are_deterministic_per_namespace() -> None:
    stamps = [1_723_161_255_342_000_000, 1_723_161_255_342_000_000, 1_723_161_255_400_000_000]
    first, again, other = EventIdFactory("session-1"), EventIdFactory("session-1"), EventIdFactory("session-2")
    ids = [first(ts) for ts in stamps]
    assert ids == [again(ts) for ts in stamps]
    assert set(ids).isdisjoint(other(ts) for ts in stamps)
    assert len(set(ids)) == 3


def test_event_id_layout() -> None:
    ts = 1_723_161_255_342_000_000
    event_id = EventIdFactory("session-1", start=41)(ts)
    assert len(event_id) == 32
    assert int(event_id, 16) >= 0
    assert event_id == event_id.lower()
    assert event_id[:16] == f"{ts:016x}"
    assert event_id[24:] == f"{42:08x}"
    assert event_id[16:24] == EventIdFactory("session-1")(0)[16:24]


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=2, max_size=50))
def test_event_ids_grow_with_time(stamps: list[int]) -> None:
    ids = EventIdFactory("producer")
    made = [ids(ts) for ts in sorted(stamps)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


@given(st.integers(min_value=0, max_value=2**64 - 2), st.text(max_size=10), st.text(max_size=10))
def test_ids_of_different_producers_order_by_time(ts: int, one: str, two: str) -> None:
    assert EventIdFactory(one)(ts) < EventIdFactory(two)(ts + 1)
