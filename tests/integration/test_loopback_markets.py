"""The loopback exchange changes a market's rules mid-session: ``LoopbackExchange.change_market`` with real ccxt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio

from tests.conftest import require_data, shared_data
from virtuoso.errors import UsageError
from virtuoso.testing import LoopbackExchange, MarketChange
from virtuoso.testing._restdata import DELIVERY_INFO, FUTURES_INFO, GCT_MOCK, load_rest_data

SPOT_INFO = "/api/v3/exchangeInfo"
LINEAR_INFO = "/fapi/v1/exchangeInfo"


def data_dir() -> Path:
    for relative in (GCT_MOCK, FUTURES_INFO, DELIVERY_INFO):
        require_data(relative)
    return shared_data()


def recorded_entry(market: str, symbol: str) -> dict[str, Any]:
    """A symbol of the recorded exchange info (the process-wide cached one the exchange serves from)."""
    data = load_rest_data(data_dir())
    info = data.exchange_info if market == "spot" else data.futures_info
    entry: dict[str, Any] = next(entry for entry in info["symbols"] if entry["symbol"] == symbol)
    return entry


def recorded_filter(market: str, symbol: str, filter_type: str) -> dict[str, Any]:
    return filters(recorded_entry(market, symbol))[filter_type]


@pytest_asyncio.fixture
async def loopback() -> AsyncIterator[LoopbackExchange]:
    async with LoopbackExchange(data_dir(), speed=0, capture_files=()) as exchange:
        yield exchange


async def loaded(exchange: LoopbackExchange) -> Any:
    client = ccxt_async.binance(exchange.ccxt_config())
    try:
        async with asyncio.timeout(10):
            await client.load_markets()
    except BaseException:
        await client.close()
        raise
    return client


async def reload(client: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        markets: dict[str, Any] = await client.load_markets(reload=True)
    return markets


async def served_entry(exchange: LoopbackExchange, path: str, symbol: str) -> dict[str, Any]:
    """``symbol``'s entry in the exchangeInfo body the server answers now (plain HTTP, no ccxt)."""
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.get(exchange.rest_url + path) as response,
    ):
        body = await response.json()
    entry: dict[str, Any] = next(entry for entry in body["symbols"] if entry["symbol"] == symbol)
    return entry


def filters(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in entry["filters"]}


@pytest.mark.asyncio
async def test_a_tick_size_change_reaches_ccxt_on_reload_and_nothing_else_changes(loopback: LoopbackExchange) -> None:
    recorded_tick = recorded_filter("spot", "BTCUSDT", "PRICE_FILTER")["tickSize"]
    client = await loaded(loopback)
    try:
        before = dict(client.markets)
        assert before["BTC/USDT"]["precision"]["price"] == float(recorded_tick)

        change = loopback.change_market("BTCUSDT", tick_size="0.10000000")
        after = await reload(client)
    finally:
        await client.close()

    assert after["BTC/USDT"]["precision"]["price"] == 0.1
    assert after["BTC/USDT"]["limits"] == before["BTC/USDT"]["limits"]
    assert {s: m for s, m in after.items() if s != "BTC/USDT"} == {s: m for s, m in before.items() if s != "BTC/USDT"}
    assert change == MarketChange("BTCUSDT", "spot", (("tick_size", "0.10000000"),), (("tick_size", recorded_tick),), 1)
    assert loopback.served.market_changes == [change]


@pytest.mark.asyncio
async def test_a_second_exchange_in_the_process_still_serves_the_recorded_rules(loopback: LoopbackExchange) -> None:
    recorded_tick = recorded_filter("spot", "BTCUSDT", "PRICE_FILTER")["tickSize"]
    loopback.change_market("BTCUSDT", tick_size="0.10000000")

    async with LoopbackExchange(data_dir(), speed=0, capture_files=()) as other:
        client = await loaded(other)
        await client.close()
        untouched = await served_entry(other, SPOT_INFO, "BTCUSDT")
    changed = await served_entry(loopback, SPOT_INFO, "BTCUSDT")

    assert client.markets["BTC/USDT"]["precision"]["price"] == float(recorded_tick) != 0.1
    assert filters(untouched)["PRICE_FILTER"]["tickSize"] == recorded_tick
    assert filters(changed)["PRICE_FILTER"]["tickSize"] == "0.10000000"
    assert recorded_filter("spot", "BTCUSDT", "PRICE_FILTER")["tickSize"] == recorded_tick
    assert other.served.market_changes == []


@pytest.mark.asyncio
async def test_changes_accumulate_and_record_which_load_saw_them(loopback: LoopbackExchange) -> None:
    recorded_lot = recorded_filter("spot", "ETHUSDT", "LOT_SIZE")
    first_load = await served_entry(loopback, SPOT_INFO, "ETHUSDT")
    first = loopback.change_market("ETHUSDT", tick_size=0.5)
    second_load = await served_entry(loopback, SPOT_INFO, "ETHUSDT")
    second = loopback.change_market("ETHUSDT", step_size="0.001", min_qty=Decimal("0.002"), status="HALT")
    third_load = await served_entry(loopback, SPOT_INFO, "ETHUSDT")

    assert first_load == recorded_entry("spot", "ETHUSDT")
    assert filters(second_load)["PRICE_FILTER"]["tickSize"] == "0.50000000"
    assert filters(second_load)["LOT_SIZE"] == recorded_lot
    assert filters(third_load)["PRICE_FILTER"]["tickSize"] == "0.50000000"
    assert (filters(third_load)["LOT_SIZE"]["stepSize"], filters(third_load)["LOT_SIZE"]["minQty"]) == (
        "0.00100000",
        "0.00200000",
    )
    assert (second_load["status"], third_load["status"]) == ("TRADING", "HALT")
    assert (first.requests_before, second.requests_before) == (1, 2)
    assert [loopback.served.changes_seen(n) for n in (1, 2, 3)] == [[], [first], [first, second]]
    assert loopback.served.exchange_infos == {SPOT_INFO: 3}


@pytest.mark.asyncio
async def test_a_linear_change_is_written_trimmed_and_leaves_spot_alone(loopback: LoopbackExchange) -> None:
    client = await loaded(loopback)
    try:
        spot_before = client.markets["BTC/USDT"]
        change = loopback.change_market(
            "BTCUSDT", market="linear", tick_size="0.10000000", min_notional=100, status="PENDING_TRADING"
        )
        after = await reload(client)
    finally:
        await client.close()

    swap = after["BTC/USDT:USDT"]
    assert (swap["precision"]["price"], swap["limits"]["cost"]["min"], swap["active"]) == (0.1, 100.0, False)
    assert after["BTC/USDT"] == spot_before
    assert change.fields == (("tick_size", "0.1"), ("min_notional", "100"), ("status", "PENDING_TRADING"))
    assert dict(change.previous)["min_notional"] == recorded_filter("linear", "BTCUSDT", "MIN_NOTIONAL")["notional"]


@pytest.mark.parametrize(
    ("market", "value", "served"),
    [
        ("spot", 1, "1.00000000"),
        ("spot", "1e-8", "0.00000001"),
        ("spot", Decimal("0.5"), "0.50000000"),
        ("spot", 0.1, "0.10000000"),
        ("linear", "0.0100", "0.01"),
        ("linear", 100.0, "100"),
    ],
)
@pytest.mark.asyncio
async def test_values_are_written_as_binance_writes_them(
    loopback: LoopbackExchange, market: str, value: Any, served: str
) -> None:
    change = loopback.change_market("BTCUSDT", market=market, tick_size=value)

    assert change.fields == (("tick_size", served),)


@pytest.mark.asyncio
async def test_exchange_info_count_leaves_out_answers_a_fault_replaced() -> None:
    async with LoopbackExchange(data_dir(), speed=0, capture_files=(), faults=f"rest:{SPOT_INFO}#1=503") as ex:
        with pytest.raises(aiohttp.ContentTypeError):
            await served_entry(ex, SPOT_INFO, "BTCUSDT")
        change = ex.change_market("BTCUSDT", tick_size="0.1")
        await served_entry(ex, SPOT_INFO, "BTCUSDT")

    assert [status for path, _, status in ex.served.requests if path == SPOT_INFO] == [503, 200]
    assert ex.served.exchange_infos == {SPOT_INFO: 1}
    assert change.requests_before == 0
    assert ex.served.changes_seen(1) == [change]


def test_change_market_before_start_is_a_usage_error() -> None:
    exchange = LoopbackExchange(Path("nowhere"), speed=0)

    with pytest.raises(UsageError, match=r"change_market\(\) before start\(\)"):
        exchange.change_market("BTCUSDT", tick_size="0.1")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"symbol": "NOPEUSDT", "tick_size": "0.1"}, "unknown symbol 'NOPEUSDT': /api/v3/exchangeInfo"),
        ({"symbol": "BTCUSDT", "market": "linear", "tick_size": "0.1", "status": "BREAK"}, "status must be one of"),
        ({"symbol": "BTCUSDT", "market": "inverse", "tick_size": "0.1"}, "market must be one of spot, linear"),
        ({"symbol": "BTCUSDT"}, r"change_market\('BTCUSDT'\) changes nothing"),
        ({"symbol": "BTCUSDT", "tick_size": "0"}, "tick_size must be > 0"),
        ({"symbol": "BTCUSDT", "min_notional": -1}, "min_notional must be >= 0"),
        ({"symbol": "BTCUSDT", "step_size": "0.000000001"}, "more than 8 decimals"),
        ({"symbol": "BTCUSDT", "min_qty": "abc"}, "min_qty must be a decimal number, got 'abc'"),
        ({"symbol": "BTCUSDT", "tick_size": "nan"}, "tick_size must be a finite decimal number"),
    ],
)
@pytest.mark.asyncio
async def test_bad_changes_are_usage_errors_and_change_nothing(
    loopback: LoopbackExchange, call: dict[str, Any], message: str
) -> None:
    symbol = call.pop("symbol")
    with pytest.raises(UsageError, match=message):
        loopback.change_market(symbol, **call)

    assert loopback.served.market_changes == []
    assert await served_entry(loopback, SPOT_INFO, "BTCUSDT") == recorded_entry("spot", "BTCUSDT")
    assert await served_entry(loopback, LINEAR_INFO, "BTCUSDT") == recorded_entry("linear", "BTCUSDT")
