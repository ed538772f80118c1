"""Real ccxt.pro (``ccxt.pro.binance``) against the loopback exchange's WebSocket half, faults included."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt.pro as ccxt_pro
import pytest

from tests.conftest import require_data, shared_data
from tests.integration._dead_loop import run_past_loop_death
from virtuoso.book import DepthSync, OrderBook, SyncRule, Verdict
from virtuoso.clock import ReplayClock
from virtuoso.events import BookDelta, BookSnapshot
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
DATA_FILES = (
    "gocryptotrader/testdata/http_mock/binance/binance.json",
    "cryptofeed/sample_data/BINANCE_FUTURES.0",
    "cryptofeed/sample_data/BINANCE_DELIVERY.0",
    CAPTURE,
)
PREFIX = 4000  # capture frames served: ~650 trades and ~330 depth updates, a few seconds of ccxt work


def loopback(faults: str = "", *, speed: float = 0, **options: Any) -> LoopbackExchange:
    for relative in DATA_FILES:
        require_data(relative)
    return LoopbackExchange(
        shared_data(), speed=speed, faults=faults or None, capture_files=(CAPTURE,), max_messages=PREFIX, **options
    )


def pro(exchange: LoopbackExchange) -> Any:
    return ccxt_pro.binance(exchange.ccxt_config(options={"tradesLimit": 100_000}))


def capture_trade_ids(exchange: LoopbackExchange) -> list[int]:
    return [int(frame.data["t"]) for frame in exchange.capture.trades("BTCUSDT")]


async def collect_trades(client: Any, count: int) -> list[int]:
    ids: list[int] = []
    while len(ids) < count:
        ids += [int(trade["id"]) for trade in await client.watch_trades("BTC/USDT")]
    return ids


@pytest.mark.asyncio
async def test_watch_trades_yields_the_capture_trades_in_order_at_max_speed() -> None:
    async with loopback() as exchange:
        client = pro(exchange)
        try:
            expected = capture_trade_ids(exchange)
            async with asyncio.timeout(10):
                received = await collect_trades(client, len(expected))
        finally:
            await client.close()

    assert len(expected) > 500
    assert received == expected
    assert exchange.served.trade_ids("BTCUSDT") == expected
    assert exchange.served.ws_messages == len(expected)  # one subscription: only its stream is sent


@pytest.mark.asyncio
async def test_watch_order_book_syncs_and_ends_at_the_served_book() -> None:
    # Pausing at message 40 lets ccxt.pro fetch its snapshot mid-capture, so it then applies live deltas.
    async with loopback("ws:pause@40") as exchange:
        client = pro(exchange)
        try:
            last_u = int(exchange.capture.depth("BTCUSDT")[-1].data["u"])
            async with asyncio.timeout(10):
                await client.watch_order_book("BTC/USDT")
                exchange.resume()
                while client.orderbooks["BTC/USDT"]["nonce"] != last_u:
                    await client.watch_order_book("BTC/USDT")
            book = client.orderbooks["BTC/USDT"]
            bids, asks = [tuple(level) for level in book["bids"]], [tuple(level) for level in book["asks"]]
        finally:
            await client.close()

    snapshot_id = exchange.served.snapshots["BTCUSDT"][-1]["lastUpdateId"]
    recorded_id = exchange.capture.snapshots["BTCUSDT"]["lastUpdateId"]
    assert recorded_id < snapshot_id < last_u  # a book moved forward from the recording's, then deltas
    served = exchange.book_at_end("BTCUSDT")
    assert min(len(bids), len(asks)) > 900
    # ccxt.pro keeps at most 1000 levels a side and drops the rest, so its deepest levels
    # drift from a full book; the top 500 must match exactly.
    assert bids[:500] == served.bids(500)
    assert asks[:500] == served.asks(500)
    assert served.bids(500) == rebuilt_from_recording(exchange).bids(500)


def rebuilt_from_recording(exchange: LoopbackExchange) -> OrderBook:
    """The recorded snapshot plus every recorded delta, by Binance's rules: what the served book must equal."""
    recorded = exchange.capture.snapshots["BTCUSDT"]
    book = OrderBook(levels(recorded["bids"]), levels(recorded["asks"]))
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(BookSnapshot((), (), int(recorded["lastUpdateId"])))
    for frame in exchange.capture.depth("BTCUSDT"):
        if sync.on_delta(BookDelta((), (), frame.data["U"], frame.data["u"])).verdict is Verdict.APPLY:
            book.apply(levels(frame.data["b"]), levels(frame.data["a"]))
    return book


def levels(raw: list[list[str]]) -> list[tuple[float, float]]:
    return [(float(price), float(size)) for price, size in raw]


@pytest.mark.asyncio
async def test_disconnect_is_a_network_error_and_the_gap_is_exactly_what_was_withheld() -> None:
    async with loopback("ws:disconnect@100:30") as exchange:
        client = pro(exchange)
        received: list[int] = []
        try:
            async with asyncio.timeout(10):
                with pytest.raises(ccxt_pro.NetworkError, match="1001"):  # noqa: PT012 (watch until it raises)
                    while True:
                        received += [int(t["id"]) for t in await client.watch_trades("BTC/USDT")]
                expected = capture_trade_ids(exchange)
                received += await collect_trades(client, len(expected) - len(received) - 30)
        finally:
            await client.close()

    (withheld,) = exchange.served.withheld
    assert (withheld.reason, len(withheld.trade_ids)) == ("disconnect@100", 30)
    assert received[:100] == expected[:100]
    assert received[100:] == expected[130:]
    assert list(withheld.trade_ids) == expected[100:130] == exchange.served.withheld_trade_ids("BTCUSDT")
    assert exchange.served.trade_ids("BTCUSDT") == received


@pytest.mark.asyncio
async def test_a_skipped_depth_update_makes_ccxt_pro_raise_and_is_recorded() -> None:
    async with loopback("ws:pause@40,ws:skip-depth@60") as exchange:
        client = pro(exchange)
        try:
            async with asyncio.timeout(10):
                await client.watch_order_book("BTC/USDT")
                exchange.resume()
                with pytest.raises(ccxt_pro.InvalidNonce):  # noqa: PT012 (ChecksumError, once the gap arrives)
                    while True:
                        await client.watch_order_book("BTC/USDT")
        finally:
            await client.close()

    (withheld,) = exchange.served.withheld
    assert withheld.reason == "skip-depth@60"
    ((first, last),) = withheld.depth_ids
    sent = exchange.served.ws_depth["BTCUSDT"]
    assert (first, last) not in sent
    assert (sent[58][1] + 1, sent[59][0] - 1) == (first, last)  # the hole is exactly the withheld update


@pytest.mark.asyncio
async def test_a_malformed_frame_kills_ccxt_pros_receive_loop() -> None:
    """Recorded behaviour of ccxt 4.5.90: the JSON error escapes into the event loop's exception handler
    and the watch call never returns, so a recorder needs its own stall timeout."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    async with loopback("ws:malformed@20") as exchange:
        client = pro(exchange)
        try:
            watching = await run_past_loop_death(
                collect_trades(client, 25), errors, lambda context: "JSONDecodeError" in repr(context.get("exception"))
            )
        finally:
            await client.close()

    assert watching.cancelled()  # the watch call never returns
    assert [fault.action for fault in exchange.served.faults] == ["malformed"]
    assert exchange.served.withheld[0].trade_ids == (capture_trade_ids(exchange)[19],)


@pytest.mark.asyncio
async def test_combined_stream_frames_are_the_recorded_lines_and_pace_by_speed() -> None:
    clock = ReplayClock(1_000_000_000)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        clock.advance_to(clock.now_ns() + round(seconds * 1e9))

    async with loopback(speed=4, clock=clock, sleep=sleep) as exchange, aiohttp.ClientSession() as session:
        recorded = exchange.capture.frames
        url = f"{exchange.ws_url}/stream?streams=btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
        async with session.ws_connect(url) as ws, asyncio.timeout(5):
            frames = [await ws.receive_str() for _ in recorded]

    assert frames == [f.combined for f in recorded]
    span_s = (recorded[-1].ts_ns - recorded[0].ts_ns) / 1e9
    assert sum(delays) == pytest.approx(span_s / 4, abs=1e-6)
    assert len(delays) > 100
    assert {f.event for f in recorded} == {"trade", "depth", "bookTicker"}


@pytest.mark.asyncio
async def test_cryptofeed_recordings_serve_klines_and_agg_trades() -> None:
    files = ("cryptofeed/sample_data/BINANCE.ws.1.0", "cryptofeed/sample_data/BINANCE.http.0.0")
    for relative in (*files, "cryptofeed/sample_data/BINANCE.0"):
        require_data(relative)
    async with LoopbackExchange(shared_data(), speed=0, capture_files=files, spot_info="cryptofeed") as exchange:
        client = pro(exchange)
        try:
            async with asyncio.timeout(10):
                candles = await client.watch_ohlcv("NKN/USDT", "1m")
                trades = await client.watch_trades("NKN/USDT", params={"name": "aggTrade"})
        finally:
            await client.close()

    recorded = next(f.data["k"] for f in exchange.capture.frames if f.stream == "nknusdt@kline_1m")
    assert candles[0][:2] == [recorded["t"], float(recorded["o"])]
    assert [int(t["id"]) for t in trades] == exchange.served.trade_ids("NKNUSDT")
    assert set(exchange.capture.snapshots) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
