"""Laps: the capture served again and again, ids and times shifted so the streams stay consecutive."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import require_data, shared_data
from virtuoso.book import DepthSync, OrderBook, SyncRule, Verdict
from virtuoso.clock import ReplayClock
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
STREAMS = "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
PREFIX = 1500  # capture frames a lap: ~300 trades, ~100 depth updates
START_NS = 1_000_000_000_000


def exchange(**options: Any) -> LoopbackExchange:
    for relative in ("gocryptotrader/testdata/http_mock/binance/binance.json", CAPTURE):
        require_data(relative)
    options.setdefault("max_messages", PREFIX)
    options.setdefault("speed", 0)
    return LoopbackExchange(shared_data(), capture_files=(CAPTURE,), **options)


async def frames(session: aiohttp.ClientSession, ex: LoopbackExchange, count: int) -> list[dict[str, Any]]:
    """The first ``count`` combined frames of the three BTCUSDT streams."""
    received: list[dict[str, Any]] = []
    async with session.ws_connect(f"{ex.ws_url}/stream?streams={STREAMS}") as ws, asyncio.timeout(20):
        while len(received) < count:
            received.append(json.loads(await ws.receive_str()))
    return received


def of(received: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [frame["data"] for frame in received if frame["stream"].endswith(suffix)]


def rebuilt(snapshot: dict[str, Any], updates: list[dict[str, Any]]) -> OrderBook:
    """A client's book: the recorded snapshot plus the updates received, by Binance's rules."""
    book = OrderBook(levels(snapshot["bids"]), levels(snapshot["asks"]))
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(BookSnapshot((), (), int(snapshot["lastUpdateId"])))
    for update in updates:
        verdict = sync.on_delta(BookDelta((), (), update["U"], update["u"])).verdict
        assert verdict in (Verdict.APPLY, Verdict.STALE)
        if verdict is Verdict.APPLY:
            book.apply(levels(update["b"]), levels(update["a"]))
    return book


def levels(raw: list[list[str]]) -> list[tuple[float, float]]:
    return [(float(price), float(size)) for price, size in raw]


@pytest.mark.asyncio
async def test_three_laps_keep_ids_update_ids_and_times_consecutive() -> None:
    async with exchange(laps=3) as ex, aiohttp.ClientSession() as session:
        received = await frames(session, ex, 3 * len(ex.capture.frames) + 2)  # two bridge updates
        depth_body = await (await session.get(f"{ex.rest_url}/api/v3/depth?symbol=BTCUSDT&limit=1000")).json()
        lap = ex.capture.trades("BTCUSDT")
        trades, depth = of(received, "@trade"), of(received, "@100ms")
        later = await (
            await session.get(f"{ex.rest_url}/api/v3/aggTrades?symbol=BTCUSDT&fromId={trades[-5]['t']}")
        ).json()

    ids = [trade["t"] for trade in trades]
    assert ids == list(range(ids[0], ids[0] + 3 * len(lap)))
    assert all(a["T"] <= b["T"] for a, b in pairwise(trades))
    assert trades[len(lap)]["T"] - trades[0]["T"] == ex.laps.time_ms  # lap 1 is lap 0 moved by one lap's time
    assert all(b["U"] == a["u"] + 1 for a, b in pairwise(depth))  # no gap, bridges included
    bridges = [update for update in depth if update["U"] == update["u"] and len(update["b"]) + len(update["a"]) > 100]
    assert len(bridges) == 2
    tickers = [ticker["u"] for ticker in of(received, "@bookTicker")]
    assert all(a <= b for a, b in pairwise(tickers))
    assert ex.served.laps == 3
    assert depth_body["lastUpdateId"] == depth[-1]["u"]
    assert [row["a"] for row in later] == ids[-5:]
    book = rebuilt(ex.capture.snapshots["BTCUSDT"], depth)
    assert ex.book_at_end("BTCUSDT").bids(1000) == book.bids(1000)
    assert ex.book_at_end("BTCUSDT").asks(1000) == book.asks(1000)
    assert OrderBook(levels(depth_body["bids"]), levels(depth_body["asks"])).bids(1000) == book.bids(1000)
    assert book.best_bid[0] < book.best_ask[0]  # the bridge takes the book back: never crossed at a boundary


@pytest.mark.asyncio
async def test_rest_trades_page_across_the_lap_boundary_by_id_and_by_time() -> None:
    async with exchange(laps=2) as ex, aiohttp.ClientSession() as session:
        lap = [int(frame.data["t"]) for frame in ex.capture.trades("BTCUSDT")]
        span = lap[-1] - lap[0] + 1
        by_id = await (await session.get(f"{ex.rest_url}/api/v3/trades?symbol=BTCUSDT&limit=4")).json()
        url = f"{ex.rest_url}/api/v3/aggTrades?symbol=BTCUSDT&fromId={lap[-2]}&limit=4"
        across = await (await session.get(url)).json()
        start, end = across[0]["T"], across[-1]["T"]
        url = f"{ex.rest_url}/api/v3/aggTrades?symbol=BTCUSDT&startTime={start}&endTime={end}&limit=1000"
        by_time = await (await session.get(url)).json()
        beyond = await (
            await session.get(f"{ex.rest_url}/api/v3/aggTrades?symbol=BTCUSDT&fromId={lap[0] + 2 * span}")
        ).json()

    assert [row["id"] for row in by_id] == [lap[-1] + span - 3 + n for n in range(4)]  # the latest of the last lap
    assert [row["a"] for row in across] == [lap[-2], lap[-1], lap[0] + span, lap[0] + span + 1]
    times = [row["a"] for row in by_time]
    assert times == list(range(times[0], times[0] + len(times)))  # the trades of that time span, in one piece
    assert set(times) >= {row["a"] for row in across}
    assert all(start <= row["T"] <= end for row in by_time)
    assert beyond == []


@pytest.mark.asyncio
async def test_an_endless_loop_keeps_memory_flat() -> None:
    async with exchange(loop=True, max_messages=300) as ex, aiohttp.ClientSession() as session:
        url = f"{ex.ws_url}/ws/btcusdt@trade"
        async with session.ws_connect(url) as ws, asyncio.timeout(30):
            await _laps(ws, ex, 5)
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            await _laps(ws, ex, 45)
            grown = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
        latest = await (await session.get(f"{ex.rest_url}/api/v3/trades?symbol=BTCUSDT&limit=1")).json()
        laps = ex.served.laps

    assert ex.served.laps >= 45
    per_lap = len(ex.capture.trades("BTCUSDT"))
    assert ex.served.trade_ids("BTCUSDT")[-1] - ex.served.trade_ids("BTCUSDT")[0] + 1 >= 44 * per_lap
    assert grown < 400_000  # 40 laps; the served record grows by 8 bytes a trade
    first = ex.served.trade_ids("BTCUSDT")[0]
    lap_ends = {first + lap * per_lap - 1 for lap in (laps - 1, laps)}
    assert latest[0]["id"] in lap_ends  # on REST, the trades of the lap the playback has reached


async def _laps(ws: aiohttp.ClientWebSocketResponse, ex: LoopbackExchange, laps: int) -> None:
    while ex.served.laps < laps:
        await ws.receive_str()


@pytest.mark.asyncio
async def test_a_connection_is_closed_once_open_the_lifetime_of_playback_time() -> None:
    async with exchange(laps=3) as ex:
        hours = 1.5 * ex.laps.time_ns / 3_600_000_000_000
    async with exchange(laps=3, connection_hours=hours) as ex, aiohttp.ClientSession() as session:
        total = 3 * len(ex.capture.trades("BTCUSDT"))
        async with asyncio.timeout(20):
            async with session.ws_connect(f"{ex.ws_url}/ws/btcusdt@trade") as ws:
                ids = [json.loads(message.data)["t"] async for message in ws]  # until the server closes
                closed = ws.close_code
            async with session.ws_connect(f"{ex.ws_url}/ws/btcusdt@trade") as ws:
                while len(ids) < total:
                    ids.append(json.loads(await ws.receive_str())["t"])

    (aged,) = ex.served.faults_of("reconnect")
    assert (aged.where, aged.connection, closed) == ("ws:age", 1, 1000)
    assert ids == list(range(ids[0], ids[0] + total))  # nothing lost


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"laps": 0}, "laps must be a whole number >= 1"),
        ({"laps": 1.5}, "laps must be a whole number >= 1"),
        ({"connection_hours": 0}, "connection_hours must be > 0"),
        ({"chaos": 1, "chaos_rate": 2.0}, "chaos rate must be between 0 and 1"),
    ],
)
def test_bad_lap_and_chaos_arguments_are_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        LoopbackExchange(Path("."), **options)


@pytest.mark.asyncio
async def test_paced_laps_reveal_rest_trades_and_move_the_depth_book_by_playback_time() -> None:
    clock = ReplayClock(START_NS)
    async with exchange(laps=2, speed=10, clock=clock) as ex, aiohttp.ClientSession() as session:
        lap = [int(frame.data["t"]) for frame in ex.capture.trades("BTCUSDT")]
        span = lap[-1] - lap[0] + 1
        clock.advance_to(
            START_NS + ex.laps.time_ns // 10 + (ex.capture.frames[-1].ts_ns - ex.capture.frames[0].ts_ns) // 10
        )
        latest = await (await session.get(f"{ex.rest_url}/api/v3/trades?symbol=BTCUSDT&limit=2")).json()
        depth = await (await session.get(f"{ex.rest_url}/api/v3/depth?symbol=BTCUSDT&limit=5")).json()

    last_u = int(ex.capture.depth("BTCUSDT")[-1].data["u"])
    assert [row["id"] for row in latest] == [lap[-2] + span, lap[-1] + span]  # the whole of lap 2 has happened
    assert depth["lastUpdateId"] == last_u + ex.laps.depth_shift("BTCUSDT")
