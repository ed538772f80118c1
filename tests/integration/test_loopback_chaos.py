"""The full fault catalogue as real ccxt / ccxt.pro see it, and seeded chaos over real connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from tests.conftest import require_data, shared_data
from tests.integration._dead_loop import run_past_loop_death
from virtuoso.testing import CHAOS_KINDS, LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
DATA_FILES = (
    "gocryptotrader/testdata/http_mock/binance/binance.json",
    "cryptofeed/sample_data/BINANCE_FUTURES.0",
    "cryptofeed/sample_data/BINANCE_DELIVERY.0",
    CAPTURE,
)
FIRST = {"fromId": 3735683259}  # the capture's first trade: see the capture test's "consecutive ids"


def loopback(faults: str = "", **options: Any) -> LoopbackExchange:
    for relative in DATA_FILES:
        require_data(relative)
    options.setdefault("max_messages", 2000)
    return LoopbackExchange(shared_data(), speed=0, faults=faults or None, capture_files=(CAPTURE,), **options)


def capture_ids(exchange: LoopbackExchange) -> list[int]:
    return [int(frame.data["t"]) for frame in exchange.capture.trades("BTCUSDT")]


REST_KINDS = (
    "empty",
    "html",
    "object",
    "missing",
    "bad-values",
    "ids-backwards",
    "ids-repeat",
    "unordered",
    "far-time",
)


@pytest.mark.asyncio
async def test_rest_body_and_row_faults_as_ccxt_returns_them() -> None:
    spec = ",".join(f"rest:/api/v3/aggTrades#{n}={kind}" for n, kind in enumerate(REST_KINDS, 1))
    async with loopback(spec) as exchange:
        client = ccxt_async.binance(exchange.ccxt_config())
        seen: dict[str, Any] = {}
        try:
            await client.load_markets()
            for kind in REST_KINDS:
                try:
                    seen[kind] = await client.fetch_trades("BTC/USDT", limit=5, params={**FIRST})
                except Exception as exc:
                    seen[kind] = exc
            clean = await client.fetch_trades("BTC/USDT", limit=5, params={**FIRST})
        finally:
            await client.close()
        ids = capture_ids(exchange)[:5]

    def trade_ids(kind: str) -> list[Any]:
        return [trade["id"] for trade in seen[kind]]

    assert seen["empty"] == []  # no exception: an empty page
    assert all(trade["id"] is None for trade in seen["html"] + seen["object"])  # trades made of Nones
    assert trade_ids("missing") == [str(ids[0]), None, *map(str, ids[1:2] + ids[3:])]  # the middle row lost 'a'
    assert isinstance(seen["bad-values"], ValueError)  # not even a ccxt error: int('-Infinity')
    assert trade_ids("ids-backwards")[1] == str(ids[0] - 1)
    assert trade_ids("ids-repeat") == [str(tid) for tid in (ids[1], ids[2], ids[2], ids[3], ids[4])]
    assert trade_ids("unordered") == [str(tid) for tid in ids]  # ccxt sorts by time: the order is restored
    assert seen["far-time"][-1]["timestamp"] - seen["far-time"][0]["timestamp"] > 9 * 365 * 86_400_000
    assert [trade["id"] for trade in clean] == [str(tid) for tid in ids]
    served = exchange.served
    assert [fault.action for fault in served.faults] == list(REST_KINDS)
    assert served.faults[0].trade_ids == tuple(ids)  # a spoiled body spoils every row it held
    assert {fault.trade_ids for fault in served.faults[3:]} == {(ids[2],), ()}  # row faults: the middle row
    assert served.spoiled_trade_ids("BTCUSDT", "rest") == []  # every row was served intact at last
    assert served.clean_trade_ids("BTCUSDT", "rest") == ids


@pytest.mark.asyncio
async def test_rest_depth_faults_leave_the_last_intact_snapshot_as_the_served_book() -> None:
    kinds = ("missing", "bad-values", "object", "html")
    spec = ",".join(f"rest:/api/v3/depth#{n}={kind}" for n, kind in enumerate(kinds, 2))
    async with loopback(spec, max_messages=200) as exchange:
        client = ccxt_async.binance(exchange.ccxt_config())
        try:
            await client.load_markets()
            books = [await client.fetch_order_book("BTC/USDT", limit=1000) for _ in range(1 + len(kinds))]
        finally:
            await client.close()

    intact, missing, bad, wrapped, html = books
    assert any(level[1] is None for level in missing["bids"])
    assert any(not all(math.isfinite(value) and value > 0 for value in level) for level in bad["bids"])
    assert wrapped["bids"] == html["bids"] == []
    assert wrapped["nonce"] is None
    assert len(exchange.served.snapshots["BTCUSDT"]) == 1
    assert [tuple(level) for level in intact["bids"]] == exchange.book_at_end("BTCUSDT").bids(1000)
    assert [f.depth_ids for f in exchange.served.faults] == [((intact["nonce"], intact["nonce"]),)] * len(kinds)


async def watch(client: Any, exchange: LoopbackExchange, count: int, seconds: float) -> tuple[list[Any], Any]:
    """Trades watched until ``count`` arrived, an error, or ``seconds``; and the error (or None)."""
    trades: list[Any] = []
    try:
        async with asyncio.timeout(seconds):
            while len(trades) < count:
                trades += await client.watch_trades("BTC/USDT")
    except Exception as exc:
        return trades, exc
    return trades, None


def pro(exchange: LoopbackExchange) -> Any:
    return ccxt_pro.binance(exchange.ccxt_config(options={"tradesLimit": 100_000}))


@pytest.mark.asyncio
async def test_a_wrong_shape_frame_reaches_ccxt_pro_as_a_trade_without_id() -> None:
    async with loopback("ws:wrong-shape@20") as exchange:
        client = pro(exchange)
        try:
            trades, error = await watch(client, exchange, 30, 5)
        finally:
            await client.close()
        ids = capture_ids(exchange)

    assert error is None
    assert [trade["id"] for trade in trades[18:21]] == [str(ids[18]), None, str(ids[20])]
    assert exchange.served.spoiled_trade_ids("BTCUSDT", "ws") == [ids[19]]
    assert ids[19] not in exchange.served.clean_trade_ids("BTCUSDT", "ws")


@pytest.mark.asyncio
async def test_garbage_values_kill_ccxt_pros_receive_loop() -> None:
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    trades: list[Any] = []

    async def collect() -> None:
        while len(trades) < 30:
            trades.extend(await client.watch_trades("BTC/USDT"))

    async with loopback("ws:garbage@20") as exchange:
        client = pro(exchange)
        try:
            watching = await run_past_loop_death(
                collect(), errors, lambda context: isinstance(context.get("exception"), ValueError)
            )
        finally:
            await client.close()

    (fault,) = exchange.served.faults
    assert watching.cancelled()  # the watch call never returns
    assert len(trades) == 19
    assert fault.trade_ids == (capture_ids(exchange)[19],)
    assert "NaN" in fault.action or fault.action == "garbage"


@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "code"), [("cut", "1006"), ("reconnect", "1000")])
async def test_a_cut_or_a_forced_reconnect_is_a_network_error_then_the_stream_goes_on(kind: str, code: str) -> None:
    async with loopback(f"ws:{kind}@20") as exchange:
        client = pro(exchange)
        try:
            first, error = await watch(client, exchange, 30, 5)
            rest, _ = await watch(client, exchange, 40, 5)
        finally:
            await client.close()
        ids = [int(trade["id"]) for trade in first + rest]
        expected = capture_ids(exchange)

    assert isinstance(error, ccxt_pro.NetworkError)
    assert code in str(error)
    (fault,) = exchange.served.faults
    lost = [expected[19]] if kind == "cut" else []  # a cut frame is half sent; a reconnect loses nothing
    assert fault.connection == 1
    assert exchange.served.spoiled_trade_ids("BTCUSDT", "ws") == lost
    assert ids == [tid for tid in expected[: len(ids) + len(lost)] if tid not in lost]


@pytest.mark.asyncio
async def test_a_stall_holds_the_stream_silent_then_it_goes_on() -> None:
    async with loopback("ws:stall@20:0.6") as exchange:
        client = pro(exchange)
        try:
            before, _ = await watch(client, exchange, 19, 5)
            started = time.monotonic()
            after, error = await watch(client, exchange, 10, 5)
            silent = time.monotonic() - started
        finally:
            await client.close()

    assert error is None
    assert silent >= 0.55
    assert [int(t["id"]) for t in before + after] == capture_ids(exchange)[: len(before) + len(after)]
    assert exchange.served.faults[0].detail == "silent 0.6 s before btcusdt@trade"


@pytest.mark.asyncio
async def test_a_depth_sequence_reset_freezes_ccxt_pros_book_and_a_new_snapshot_follows_the_new_ids() -> None:
    async with loopback("ws:pause@40,ws:reset@100", max_messages=3000) as exchange:
        client = pro(exchange)
        nonces: list[int] = []
        try:
            async with asyncio.timeout(10):
                await client.watch_order_book("BTC/USDT")
                exchange.resume()
                with pytest.raises(TimeoutError):  # noqa: PT012 (updates after the reset are dropped silently)
                    async with asyncio.timeout(1.5):
                        while True:
                            nonces.append((await client.watch_order_book("BTC/USDT"))["nonce"])
            fresh = await client.fetch_order_book("BTC/USDT", limit=1000)
        finally:
            await client.close()

    (reset,) = exchange.served.faults_of("reset")
    ((was, now),) = reset.depth_ids
    sent = exchange.served.ws_depth["BTCUSDT"]
    assert now < was
    assert max(nonces) < was  # ccxt.pro's book froze at the reset
    assert sent[-1][1] < was  # the stream went on in the new numbering
    assert fresh["nonce"] == sent[-1][1]  # and a new snapshot matches it
    assert exchange.book_at_end("BTCUSDT").bids(500) == [tuple(level) for level in fresh["bids"][:500]]


@pytest.mark.asyncio
async def test_binance_24_hour_forced_reconnect_fires_in_an_endless_loop() -> None:
    """cryptofeed's 30 s spot recording holds one NKNUSDT aggTrade: looped, 24 h of playback is ~2,800 laps."""
    files = ("cryptofeed/sample_data/BINANCE.ws.1.0", "cryptofeed/sample_data/BINANCE.http.0.0")
    for relative in (*files, "cryptofeed/sample_data/BINANCE.0", *DATA_FILES[:3]):
        require_data(relative)
    async with LoopbackExchange(
        shared_data(), speed=0, capture_files=files, spot_info="cryptofeed", loop=True
    ) as exchange:
        client = ccxt_pro.binance(exchange.ccxt_config(options={"tradesLimit": 100_000}))
        params = {"name": "aggTrade"}
        before: list[Any] = []
        try:
            async with asyncio.timeout(60):
                with pytest.raises(ccxt_pro.NetworkError, match="1000"):  # noqa: PT012 (watch until it raises)
                    while True:
                        before += await client.watch_trades("NKN/USDT", params=params)
                after = await client.watch_trades("NKN/USDT", params=params)
        finally:
            await client.close()

    (aged,) = exchange.served.faults_of("reconnect")
    ids = [int(trade["id"]) for trade in before + after]
    hours = (before[-1]["timestamp"] - before[0]["timestamp"]) / 3_600_000
    assert aged.where == "ws:age"
    assert aged.detail.startswith("open 24.0")
    assert 24 - exchange.laps.time_ms / 3_600_000 <= hours < 24  # the next trade would have been past 24 h
    assert exchange.served.laps > 2_700
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive across ~2,800 laps and the reconnect


async def chaos_run(seed: int, streams: str, frames: int, **options: Any) -> LoopbackExchange:
    """Read ``frames`` frames of ``streams`` through chaos, reconnecting whenever the server drops us."""
    exchange = loopback(chaos=seed, chaos_seconds=0.01, loop=True, **options)
    async with exchange, aiohttp.ClientSession() as session, asyncio.timeout(60):
        received = 0
        while received < frames:
            async with session.ws_connect(f"{exchange.ws_url}/stream?streams={streams}") as ws:
                try:
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                        received += 1
                except aiohttp.ClientError:
                    pass  # a cut frame
    return exchange


def lost(exchange: LoopbackExchange) -> set[int]:
    """The frames a disconnect withheld: a fault drawn for one of them is never applied."""
    return {index for item in exchange.served.withheld if item.reason.startswith("disconnect") for index in item.frames}


def trade_channel(exchange: LoopbackExchange, count: int, skip: set[int]) -> list[tuple[int, str]]:
    faults = [(f.frame, f.action) for f in exchange.served.faults if f.stream == "btcusdt@trade"]
    return [fault for fault in faults if fault[0] not in skip][:count]


@pytest.mark.asyncio
async def test_the_same_seed_draws_the_same_faults_on_a_channel_whatever_else_is_subscribed() -> None:
    alone = await chaos_run(42, "btcusdt@trade", 1500, chaos_rate=0.02)
    mixed = await chaos_run(42, "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker", 6000, chaos_rate=0.02)
    other = await chaos_run(43, "btcusdt@trade", 1500, chaos_rate=0.02)

    skip = lost(alone) | lost(mixed)
    shared = min(len(trade_channel(alone, 1000, skip)), len(trade_channel(mixed, 1000, skip)))
    assert shared >= 10
    assert trade_channel(alone, shared, skip) == trade_channel(mixed, shared, skip)
    assert trade_channel(other, shared, skip) != trade_channel(alone, shared, skip)


@pytest.mark.asyncio
async def test_a_long_enough_chaos_run_injects_every_kind() -> None:
    streams = "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
    exchange = loopback(chaos=7, chaos_rate=0.2, chaos_seconds=0.01, laps=3)
    async with exchange, aiohttp.ClientSession() as session, asyncio.timeout(60):
        for _ in range(120):
            url = f"{exchange.rest_url}/api/v3/aggTrades?symbol=BTCUSDT&limit=20"
            async with session.get(url) as response:
                with contextlib.suppress(aiohttp.ClientError):  # a truncated body
                    await response.read()
        for _ in range(60):
            async with session.ws_connect(f"{exchange.ws_url}/stream?streams={streams}") as ws:
                try:
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                except aiohttp.ClientError:
                    pass

    applied = {
        f"{'rest' if fault.where.startswith('rest') else 'ws'}:{fault.action}" for fault in exchange.served.faults
    }
    assert applied >= set(CHAOS_KINDS)
    spoiled = exchange.served.spoiled_trade_ids("BTCUSDT", "ws")
    assert spoiled
    assert not set(spoiled) & set(exchange.served.clean_trade_ids("BTCUSDT", "ws"))
    assert all(json.dumps(f.trade_ids) for f in exchange.served.faults)


@pytest.mark.asyncio
async def test_ccxt_pro_follows_the_book_and_the_trades_across_laps() -> None:
    async with loopback("ws:pause@40", max_messages=1500, laps=3) as exchange:
        client = pro(exchange)
        last_u = exchange.laps.depth_shift("BTCUSDT") * 2 + int(exchange.capture.depth("BTCUSDT")[-1].data["u"])
        try:
            async with asyncio.timeout(20):
                await client.watch_order_book("BTC/USDT")
                exchange.resume()
                while client.orderbooks["BTC/USDT"]["nonce"] != last_u:
                    await client.watch_order_book("BTC/USDT")
            book = client.orderbooks["BTC/USDT"]
            bids, asks = [tuple(level) for level in book["bids"]], [tuple(level) for level in book["asks"]]
        finally:
            await client.close()

    served = exchange.book_at_end("BTCUSDT")
    assert exchange.served.laps == 3
    assert bids[:500] == served.bids(500)
    assert asks[:500] == served.asks(500)
    assert bids[0][0] < asks[0][0]


@pytest.mark.asyncio
async def test_a_client_that_gives_up_on_a_stall_gets_the_frame_on_its_next_connection() -> None:
    exchange = loopback(chaos=1, chaos_rate=1.0, chaos_kinds=("stall",), chaos_seconds=5)
    ids: list[int] = []
    async with exchange, aiohttp.ClientSession() as session, asyncio.timeout(20):
        while len(ids) < 3:
            async with session.ws_connect(f"{exchange.ws_url}/ws/btcusdt@trade") as ws:
                with contextlib.suppress(TimeoutError):  # the client's stall timeout: give up, reconnect
                    while True:
                        ids.append(json.loads((await ws.receive(timeout=0.3)).data)["t"])

    assert ids == capture_ids(exchange)[: len(ids)]  # each frame once, in order: a spent stall is not repeated
    assert len(exchange.served.faults_of("stall")) >= len(ids)
