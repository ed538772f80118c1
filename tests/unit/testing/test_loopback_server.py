"""The loopback exchange's own behaviour over plain HTTP: pacing by the injected clock, the depth
book following the playback, the served record, and its arguments."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import require_data, shared_data
from virtuoso.book import OrderBook
from virtuoso.clock import ReplayClock
from virtuoso.errors import UsageError
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
START_NS = 1_000_000_000_000


def exchange(**options: Any) -> LoopbackExchange:
    for relative in (
        "gocryptotrader/testdata/http_mock/binance/binance.json",
        "cryptofeed/sample_data/BINANCE_FUTURES.0",
        "cryptofeed/sample_data/BINANCE_DELIVERY.0",
        CAPTURE,
    ):
        require_data(relative)
    return LoopbackExchange(shared_data(), capture_files=(CAPTURE,), max_messages=3000, **options)


async def get(session: aiohttp.ClientSession, ex: LoopbackExchange, path: str) -> Any:
    async with session.get(ex.rest_url + path) as response:
        return await response.json()


@pytest.mark.asyncio
async def test_rest_trades_appear_as_recorded_time_passes_at_the_given_speed() -> None:
    clock = ReplayClock(START_NS)
    async with exchange(speed=10, clock=clock) as ex, aiohttp.ClientSession() as session:
        frames = ex.capture.trades("BTCUSDT")
        origin = ex.capture.frames[0].ts_ns
        at_start = await get(session, ex, "/api/v3/trades?symbol=BTCUSDT&limit=1000")
        clock.advance_to(START_NS + -(-(frames[99].ts_ns - origin) // 10))  # rounded up: trade 99 is due
        later = await get(session, ex, "/api/v3/trades?symbol=BTCUSDT&limit=1000")

    assert at_start == []  # the capture starts with depth updates; its first trade comes 0.15 s in
    assert [row["id"] for row in later] == [t.data["t"] for t in frames[:100]]
    assert frames[100].ts_ns > frames[99].ts_ns


@pytest.mark.asyncio
async def test_depth_answers_follow_the_websocket_playback() -> None:
    async with exchange(speed=0, faults="ws:pause@30") as ex, aiohttp.ClientSession() as session:
        before = await get(session, ex, "/api/v3/depth?symbol=BTCUSDT&limit=5")
        async with session.ws_connect(ex.ws_url + "/ws/btcusdt@depth") as ws, asyncio.timeout(5):
            for _ in range(29):
                await ws.receive_str()
            # message 30 is held until resume(), so the playback stands at 29 updates
            during = await get(session, ex, "/api/v3/depth?symbol=BTCUSDT&limit=5")
            ex.resume()
            await ws.receive_str()

    depth = ex.capture.depth("BTCUSDT")
    assert before["lastUpdateId"] == ex.capture.snapshots["BTCUSDT"]["lastUpdateId"]  # the recorded snapshot
    assert during["lastUpdateId"] == depth[28].data["u"]  # 29 updates played
    assert len(during["bids"]) == len(during["asks"]) == 5
    assert ex.served.snapshots["BTCUSDT"] == [before, during]


@pytest.mark.asyncio
async def test_book_at_end_stops_at_a_gap() -> None:
    async with exchange(speed=0, faults="ws:skip@5") as ex, aiohttp.ClientSession() as session:
        url = ex.ws_url + "/ws/btcusdt@depth@100ms"
        async with session.ws_connect(url) as ws, asyncio.timeout(5):
            for _ in range(9):
                await ws.receive_str()

    depth = ex.capture.depth("BTCUSDT")
    (withheld,) = ex.served.withheld
    assert withheld.depth_ids == ((depth[4].data["U"], depth[4].data["u"]),)
    assert ex.served.ws_depth["BTCUSDT"][3:5] == [(d.data["U"], d.data["u"]) for d in (depth[3], depth[5])]
    # the recorded snapshot lies inside update 2: updates 2 and 3 apply, then the gap stops it
    expected = OrderBook(floats(ex.capture.snapshots["BTCUSDT"]["bids"]), ())
    for update in depth[2:4]:
        expected.apply(floats(update.data["b"]), ())
    assert ex.book_at_end("BTCUSDT").bids(1000) == expected.bids(1000)


def floats(levels: list[list[str]]) -> list[tuple[float, float]]:
    return [(float(price), float(size)) for price, size in levels]


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="speed must be >= 0"):
        LoopbackExchange(tmp_path, speed=-1)
    with pytest.raises(UsageError, match="trade_source must be one of capture, gct"):
        LoopbackExchange(tmp_path, trade_source="csv")
    with pytest.raises(UsageError, match="fault rule"):
        LoopbackExchange(tmp_path, faults="ws:nope@1")


@pytest.mark.asyncio
async def test_missing_data_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"data file .*binance.json does not exist"):
        await LoopbackExchange(tmp_path).start()


@pytest.mark.asyncio
async def test_a_client_that_leaves_and_returns_goes_on_where_its_stream_stopped() -> None:
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    clock = ReplayClock(START_NS)
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:  # holds the player until the test opens the gate
        await gate.wait()
        clock.advance_to(clock.now_ns() + round(seconds * 1e9))

    async with exchange(speed=1, clock=clock, sleep=sleep) as ex, aiohttp.ClientSession() as session:
        url = ex.ws_url + "/stream?streams=btcusdt@trade"
        async with session.ws_connect(url) as ws, asyncio.timeout(5):
            first = await ws.receive_str()  # the first frame is due at once; the next waits for the gate
        gate.set()
        async with session.ws_connect(url) as ws, asyncio.timeout(5):
            second = [await ws.receive_str() for _ in range(3)]

    trades = [frame.combined for frame in ex.capture.trades("BTCUSDT")]
    assert [first, *second] == trades[:4]
    assert ex.served.trade_ids("BTCUSDT")[:4] == [int(f.data["t"]) for f in ex.capture.trades("BTCUSDT")[:4]]
    assert errors == []


@pytest.mark.asyncio
async def test_paced_depth_answers_follow_the_recorded_time_without_websocket() -> None:
    clock = ReplayClock(START_NS)
    async with exchange(speed=10, clock=clock) as ex, aiohttp.ClientSession() as session:
        depth = ex.capture.depth("BTCUSDT")
        origin = ex.capture.frames[0].ts_ns
        at_start = await get(session, ex, "/api/v3/depth?symbol=BTCUSDT&limit=5")
        clock.advance_to(START_NS + -(-(depth[50].ts_ns - origin) // 10))
        later = await get(session, ex, "/api/v3/depth?symbol=BTCUSDT&limit=5")

    recorded = ex.capture.snapshots["BTCUSDT"]["lastUpdateId"]
    assert at_start["lastUpdateId"] == recorded  # update 0 (recorded at the origin) lies before the snapshot
    assert later["lastUpdateId"] == depth[50].data["u"]
