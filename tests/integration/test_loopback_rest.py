"""Real ccxt (``ccxt.async_support.binance``) against the loopback exchange's REST half, faults included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio

from tests.conftest import require_data, shared_data
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
FIRST_TRADE_ID = 3735683259  # the capture's first trade
DATA_FILES = (
    "gocryptotrader/testdata/http_mock/binance/binance.json",
    "cryptofeed/sample_data/BINANCE_FUTURES.0",
    "cryptofeed/sample_data/BINANCE_DELIVERY.0",
    CAPTURE,
)


def data_dir() -> Path:
    for relative in DATA_FILES:
        require_data(relative)
    return shared_data()


async def started(**options: Any) -> LoopbackExchange:
    exchange = LoopbackExchange(data_dir(), speed=0, capture_files=(CAPTURE,), **options)
    await exchange.start()
    return exchange


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loopback() -> AsyncIterator[LoopbackExchange]:
    """One exchange for the read-only tests (``served`` accumulates across them)."""
    exchange = await started()
    yield exchange
    await exchange.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(loopback: LoopbackExchange) -> AsyncIterator[Any]:
    """One ccxt client with markets loaded, shared by the read-only tests."""
    client = await with_ccxt(loopback)
    yield client
    await client.close()


module_loop = pytest.mark.asyncio(loop_scope="module")


async def with_ccxt(loopback: LoopbackExchange, **config: Any) -> Any:
    client = ccxt_async.binance(loopback.ccxt_config(**config))
    async with asyncio.timeout(10):
        await client.load_markets()
    return client


@module_loop
async def test_load_markets_makes_only_the_three_exchange_info_calls(loopback: LoopbackExchange, client: Any) -> None:
    markets = client.markets

    assert {"BTC/USDT", "BTC/USDT:USDT", "BTC/USD:BTC"} <= set(markets)
    assert len(markets) == 944  # 786 spot (GCT) + 138 swap + 20 future (cryptofeed)
    paths = [path for path, _, _ in loopback.served.requests[:3]]
    assert paths == ["/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"]


@module_loop
async def test_constructor_urls_deep_merge_so_every_url_is_loopback(loopback: LoopbackExchange, client: Any) -> None:
    urls = [url for name in ("api", "test") for url in _leaves(client.urls[name])]

    assert len(urls) > 20
    assert all(url.startswith((loopback.rest_url, loopback.ws_url)) for url in urls), urls


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


@module_loop
async def test_fetch_trades_pages_by_from_id_over_consecutive_ids(loopback: LoopbackExchange, client: Any) -> None:
    ids: list[int] = []
    served_before = len(loopback.served.trade_ids("BTCUSDT", "rest"))
    async with asyncio.timeout(10):
        for _ in range(3):
            page = await client.fetch_trades("BTC/USDT", limit=1000, params={"fromId": FIRST_TRADE_ID + len(ids)})
            ids += [int(trade["id"]) for trade in page]

    assert ids == list(range(FIRST_TRADE_ID, FIRST_TRADE_ID + 3000))
    assert loopback.served.trade_ids("BTCUSDT", "rest")[served_before:] == ids


@module_loop
async def test_fetch_trades_since_uses_start_time(loopback: LoopbackExchange, client: Any) -> None:
    first = (await client.fetch_trades("BTC/USDT", limit=5, params={"fromId": FIRST_TRADE_ID + 100}))[0]
    since = await client.fetch_trades("BTC/USDT", since=first["timestamp"], limit=5)
    latest = await client.fetch_trades("BTC/USDT", limit=3)

    assert since[0]["timestamp"] == first["timestamp"]
    assert int(since[0]["id"]) <= FIRST_TRADE_ID + 100  # inclusive start: trades of the same ms come first
    assert [int(t["id"]) for t in latest] == loopback.served.trade_ids("BTCUSDT", "rest")[-3:]
    assert int(latest[-1]["id"]) == 3735693015  # the capture's last trade


@module_loop
async def test_trade_paging_refuses_what_binance_refuses(client: Any) -> None:
    with pytest.raises(ccxt_async.BadRequest, match="-1127"):
        await client.fetch_trades("BTC/USDT", since=1, params={"until": 1 + 3_600_001})
    with pytest.raises(ccxt_async.BadRequest, match="-1130"):
        await client.fetch_trades("BTC/USDT", limit=1001)
    with pytest.raises(ccxt_async.BadSymbol):
        await client.public_get_aggtrades({"symbol": "NOPEUSDT"})


@module_loop
async def test_ohlcv_order_book_and_tickers(client: Any) -> None:
    daily = await client.fetch_ohlcv("BTC/USDT", "1d", since=1546300800000, limit=1000)
    minutes = await client.fetch_ohlcv("BTC/USDT", "1m", since=1588740088000 + 600_000, limit=10)
    book = await client.fetch_order_book("BTC/USDT", 1000)
    ticker = await client.fetch_ticker("BTC/USDT")
    tickers = await client.fetch_tickers()

    assert [len(daily), daily[0][0]] == [365, 1546300800000]
    assert len(minutes) == 10
    assert minutes[0][0] >= 1588740088000 + 600_000
    assert (len(book["bids"]), len(book["asks"]), book["nonce"]) == (1000, 1000, 50093239218)
    assert book["bids"][0] == [61837.63, 3.78826]  # the capture's REST snapshot, line 8
    assert (ticker["symbol"], ticker["last"]) == ("BTC/USDT", 6705.82)
    assert len(tickers) == 786


@pytest.mark.asyncio
async def test_gct_trade_lists_are_available() -> None:
    exchange = await started(trade_source="gct")
    try:
        client = await with_ccxt(exchange)
        try:
            agg = await client.fetch_trades("BTC/USDT", limit=1000)
            raw = await client.fetch_trades("BTC/USDT", limit=1000, params={"fetchTradesMethod": "publicGetTrades"})
        finally:
            await client.close()
    finally:
        await exchange.stop()

    assert [int(t["id"]) for t in agg] == list(range(284861205, 284862205))
    assert [int(t["id"]) for t in raw] == list(range(399088278, 399089278))


FAULT_CASES = [
    ("429:2", ccxt_async.DDoSProtection, "2"),  # ccxt 4.5.90 maps 429 to DDoSProtection (a NetworkError)
    ("418", ccxt_async.DDoSProtection, "1"),
    ("500", ccxt_async.ExchangeNotAvailable, None),
    ("502", ccxt_async.ExchangeNotAvailable, None),
    ("503", ccxt_async.ExchangeNotAvailable, None),
    ("504", ccxt_async.RequestTimeout, None),
    ("slow:0.6", ccxt_async.RequestTimeout, None),
    ("truncated", ccxt_async.ExchangeError, None),  # ccxt reports a cut body as a bare ExchangeError
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("action", "expected", "retry_after"), FAULT_CASES)
async def test_each_rest_fault_surfaces_in_ccxt(
    action: str, expected: type[Exception], retry_after: str | None
) -> None:
    exchange = await started(faults=f"rest:/api/v3/depth#2={action}")
    try:
        client = ccxt_async.binance(exchange.ccxt_config(timeout=200))  # the raw endpoint needs no markets
        try:
            async with asyncio.timeout(5):
                first = await client.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
                with pytest.raises(expected):
                    await client.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
                third = await client.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
        finally:
            await client.close()
    finally:
        await exchange.stop()

    assert first["lastUpdateId"] == third["lastUpdateId"] == 50093239218
    (fault,) = exchange.served.faults
    assert (fault.where, fault.action) == ("rest:/api/v3/depth#2", action.split(":", maxsplit=1)[0])
    if retry_after is not None:
        assert f'"seconds": {float(retry_after)}' in fault.detail


@pytest.mark.asyncio
async def test_rate_limit_answers_carry_retry_after() -> None:
    import aiohttp

    exchange = await started(faults="rest:/api/v3/ping#1=429:3,rest:/api/v3/ping#2=418:60")
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(5):
            first = await session.get(exchange.rest_url + "/api/v3/ping")
            second = await session.get(exchange.rest_url + "/api/v3/ping")
            third = await session.get(exchange.rest_url + "/api/v3/ping")
            body = await first.json()
    finally:
        await exchange.stop()

    assert (first.status, first.headers["Retry-After"]) == (429, "3")
    assert (second.status, second.headers["Retry-After"]) == (418, "60")
    assert third.status == 200
    assert body["code"] == -1003


@pytest.mark.asyncio
async def test_malformed_json_is_not_an_error_in_ccxt() -> None:
    """Recorded behaviour of ccxt 4.5.90: a 200 body that starts like JSON but is not parses to nothing.

    ccxt falls back to the raw text and the unified method returns an empty structure, no exception:
    a recorder must validate what it gets.
    """
    exchange = await started(faults="rest:/api/v3/depth#1=malformed,rest:/api/v3/ticker/24hr#1=malformed")
    try:
        client = await with_ccxt(exchange)
        try:
            book = await client.fetch_order_book("BTC/USDT", 5)
            ticker = await client.fetch_ticker("BTC/USDT")
        finally:
            await client.close()
    finally:
        await exchange.stop()

    assert (book["bids"], book["asks"], book["nonce"]) == ([], [], None)
    assert ticker["last"] is None
    assert [fault.action for fault in exchange.served.faults] == ["malformed", "malformed"]
