"""Payloads and envelopes survive encoding and both stores unchanged; old and bad payloads fail clearly."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property.strategies import PAYLOAD_STRATEGIES, batches, payloads
from virtuoso.errors import EventDecodeError, UnknownEventType
from virtuoso.events import REGISTRY, Event, Note, Payload, Trade, TypeRegistry, encode_payload
from virtuoso.store import EventFilter, EventStore, MemoryEventStore, open_sqlite_store

SESSION = "codec-session"
BINANCE_V1 = {"price": 58123.45, "qty": 0.0015, "buyer_maker": True, "id": 3735683259}
"""A schema-1 Trade as Virtuoso 0.0 stored it: Binance's own vocabulary."""


# -- payload codec --------------------------------------------------------------------


def test_every_registered_type_has_a_strategy() -> None:
    assert sorted(PAYLOAD_STRATEGIES) == REGISTRY.names()


@pytest.mark.parametrize("type_name", REGISTRY.names())
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_payload_round_trips_through_its_kind(type_name: str, data: st.DataObject) -> None:
    payload = data.draw(PAYLOAD_STRATEGIES[type_name])
    cls = REGISTRY.class_for(type_name)
    assert type(payload) is cls
    kind = REGISTRY.kind(type_name, cls.SCHEMA)
    assert kind.decode(encode_payload(payload)) == payload


@settings(max_examples=100, deadline=None)
@given(payload=payloads())
def test_encoding_is_deterministic_json(payload: Payload) -> None:
    encoded = encode_payload(payload)
    assert encode_payload(REGISTRY.kind(payload.TYPE, payload.SCHEMA).decode(encoded)) == encoded
    assert isinstance(msgspec.json.decode(encoded), dict)


# -- envelopes through both stores ----------------------------------------------------


def _run(factory: Callable[[Path], Awaitable[EventStore]], events: list[Event]) -> tuple[list[Event], Any]:
    async def scenario(path: Path) -> tuple[list[Event], Any]:
        store = await factory(path)
        try:
            await store.begin_session("codec", "hypothesis", started_ns=0, session_id=SESSION)
            result = await store.append(events)
            stored = [e async for e in store.read(EventFilter(session=SESSION, after_position=1))]
            return stored, (result, await store.verify())
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(scenario(Path(tmp) / "x.sqlite"))


async def _memory(_: Path) -> EventStore:
    return MemoryEventStore()


async def _sqlite(path: Path) -> EventStore:
    return await open_sqlite_store(path)


@pytest.mark.parametrize("factory", [_memory, _sqlite], ids=["memory", "sqlite"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=batches(SESSION, max_size=12))
def test_envelopes_round_trip_through_store(
    factory: Callable[[Path], Awaitable[EventStore]], events: list[Event]
) -> None:
    stored, (result, report) = _run(factory, events)
    assert (result.written, result.duplicates) == (len(events), 0)
    assert [msgspec.structs.replace(e, position=0, version=0) for e in stored] == events
    assert [e.position for e in stored] == list(range(2, len(events) + 2))
    versions: dict[str, int] = {}
    for event in stored:
        versions[event.stream] = versions.get(event.stream, 0) + 1
        assert event.version == versions[event.stream]
    assert report.ok, report.problem


# -- schema evolution: Trade v1 ------------------------------------------------------


class TradeV1(Payload, frozen=True):
    """Trade as schema 1 stored it, registered only in a private registry."""

    TYPE: ClassVar[str] = "Trade"
    SCHEMA: ClassVar[int] = 1
    TOPIC: ClassVar[str] = "market.trade"

    price: float
    qty: float
    buyer_maker: bool
    id: int


def _registry_with(cls: type[Payload]) -> TypeRegistry:
    """Today's types, except that ``cls`` takes the place of the one sharing its name."""
    registry = TypeRegistry()
    registry.register(cls)
    for name in REGISTRY.names():
        if name != cls.TYPE:
            registry.register(REGISTRY.class_for(name))
    return registry


def test_trade_v1_upcasts_through_the_registry() -> None:
    raw = msgspec.json.encode(BINANCE_V1)
    trade = REGISTRY.kind("Trade", 1).decode(raw, position=12)
    assert trade == Trade(price=58123.45, amount=0.0015, side="sell", trade_id="3735683259")
    buyer_took = REGISTRY.kind("Trade", 1).decode(msgspec.json.encode({**BINANCE_V1, "buyer_maker": False}))
    assert isinstance(buyer_took, Trade)
    assert buyer_took.side == "buy"


@pytest.mark.asyncio
async def test_trade_stored_as_schema_1_reads_as_todays_trade(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    store = await open_sqlite_store(path, registry=_registry_with(TradeV1))
    try:
        session = await store.begin_session("v0 recording", "binance", started_ns=1, session_id="old")
        await store.append(
            [
                Event(
                    "t1",
                    "binance:BTC/USDT:trades",
                    1_723_161_255_342_000_000,
                    1_723_161_254_087_896_568,
                    session.id,
                    TradeV1(**BINANCE_V1),
                )
            ]
        )
    finally:
        await store.close()
    store = await open_sqlite_store(path)
    try:
        (event,) = [e async for e in store.read(EventFilter(types=("Trade",)))]
        report = await store.verify()
    finally:
        await store.close()
    assert event.payload == Trade(58123.45, 0.0015, "sell", "3735683259")
    assert (event.schema, event.position, event.version) == (2, 2, 1)
    assert report.ok, report.problem


def test_trade_v1_missing_a_field_is_a_decode_error() -> None:
    raw = msgspec.json.encode({k: v for k, v in BINANCE_V1.items() if k != "buyer_maker"})
    with pytest.raises(EventDecodeError, match=r"Trade event at position 9"):
        REGISTRY.kind("Trade", 1).decode(raw, position=9)


# -- stored payloads the reader cannot decode ---------------------------------------


class Mystery(Payload, frozen=True):
    """A type today's registry has never heard of."""

    TYPE: ClassVar[str] = "Mystery"
    TOPIC: ClassVar[str] = "test.mystery"

    clue: str


class TradeWithTextPrice(Payload, frozen=True):
    """A 'Trade' of today's schema but with a shape today's Trade cannot read."""

    TYPE: ClassVar[str] = "Trade"
    SCHEMA: ClassVar[int] = 2
    TOPIC: ClassVar[str] = "market.trade"

    price: str


async def _write_with(path: Path, payload: Payload) -> None:
    store = await open_sqlite_store(path, registry=_registry_with(type(payload)))
    try:
        session = await store.begin_session("odd", "test", started_ns=1, session_id="odd")
        await store.append([Event("n1", "notes", 5, 5, session.id, Note("first"))])
        await store.append([Event("x1", "odd", 6, 6, session.id, payload)])
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_unknown_stored_type_names_position_and_type(tmp_path: Path) -> None:
    path = tmp_path / "mystery.sqlite"
    await _write_with(path, Mystery("who"))
    store = await open_sqlite_store(path)
    try:
        with pytest.raises(UnknownEventType, match=r"'Mystery'.*at position 3") as caught:
            _ = [e async for e in store.read()]
        report = await store.verify()
        readable = [e.id async for e in store.read(EventFilter(until_position=2))]
    finally:
        await store.close()
    assert (caught.value.type_name, caught.value.position) == ("Mystery", 3)
    assert not report.ok
    assert report.first_bad_position == 3
    assert "Mystery" in report.problem
    assert readable[-1] == "n1"


@pytest.mark.asyncio
async def test_malformed_stored_payload_names_position_and_type(tmp_path: Path) -> None:
    path = tmp_path / "malformed.sqlite"
    await _write_with(path, TradeWithTextPrice("58123.45"))
    store = await open_sqlite_store(path)
    try:
        with pytest.raises(EventDecodeError, match=r"cannot decode Trade event at position 3") as caught:
            _ = [e async for e in store.read()]
        report = await store.verify()
    finally:
        await store.close()
    assert (caught.value.type_name, caught.value.position) == ("Trade", 3)
    assert not report.ok
    assert report.first_bad_position == 3


def test_unknown_type_and_schema_in_registry_name_the_position() -> None:
    with pytest.raises(UnknownEventType, match=r"'Mystery' \(schema 1\) at position 41"):
        REGISTRY.kind("Mystery", 1, position=41)
    with pytest.raises(UnknownEventType, match=r"'Trade' \(schema 3\) at position 42"):
        REGISTRY.kind("Trade", 3, position=42)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"price": "high"}', b""])
def test_malformed_bytes_are_decode_errors(raw: bytes) -> None:
    with pytest.raises(EventDecodeError, match=r"cannot decode Trade event at position 77"):
        REGISTRY.kind("Trade", 2).decode(raw, position=77)
