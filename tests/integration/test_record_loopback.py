"""The recorder with real ccxt and ccxt.pro against the loopback exchange (127.0.0.1 only).

The loopback exchange serves the first frames of the BTCUSDT spot capture over
Binance's REST and WebSocket protocols and notes what it sent and what its
faults withheld; each test compares the recorded log with that.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from virtuoso.book import BookBuilder, SyncRule
from virtuoso.events import Bar, BreakerStateChanged, Event, Gap, Ticker, Trade
from virtuoso.exchange import Channel, RecordConfig, ResilienceSettings, record
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
REST_MOCK = "gocryptotrader/testdata/http_mock/binance/binance.json"
FRAMES = 12_000
TIMEOUT_S = 30.0
REST_SPEED = 10
"""The REST cases' playback speed: the 2,278 trades of the first FRAMES frames (81 s of capture) appear over ~8 s,
so trades are still arriving when the recorder, however slow to start, makes its first polls. At 60x they were all
there after 1.4 s, and a recorder started later under load fetched them in one page: no fault was ever met."""
BOOK = "binance:BTC/USDT:book"
MISSING = re.compile(r"trade ids (\d+)\.\.(\d+) missing$")


def _data_dir() -> Path:
    return require_data(CAPTURE).parents[3]


def _config(exchange: LoopbackExchange, **changes: Any) -> RecordConfig:
    base: dict[str, Any] = {
        "exchange": "binance",
        "symbols": ("BTC/USDT",),
        "channels": (Channel("trades"),),
        "ccxt": exchange.ccxt_config(timeout=3000),
        "poll_interval_s": 0.02,
        "book_limit": 5000,
        "resilience": ResilienceSettings(base_delay_s=0.01, max_delay_s=0.05, seed=1),
    }
    return RecordConfig(**{**base, **changes})


def _last_capture_trade(exchange: LoopbackExchange) -> int:
    return max(int(f.data["t"]) for f in exchange.capture.frames if f.event == "trade")


def _last_depth_update(exchange: LoopbackExchange) -> int:
    return max(int(f.data["u"]) for f in exchange.capture.frames if f.event == "depth")


def _stop_at_trade(last_id: int, stop: asyncio.Event) -> Callable[[Event], None]:
    def watch(event: Event) -> None:
        if isinstance(event.payload, Trade) and int(event.payload.trade_id) >= last_id:
            stop.set()

    return watch


def _stop_at_both(last_trade: int, last_update: int) -> Callable[[asyncio.Event], Callable[[Event], None]]:
    """Stop once the last trade and the book at the last depth update are both recorded."""

    def until(stop: asyncio.Event) -> Callable[[Event], None]:
        seen = {"trade": False, "book": False}

        def watch(event: Event) -> None:
            payload = event.payload
            if isinstance(payload, Trade) and int(payload.trade_id) >= last_trade:
                seen["trade"] = True
            sequence = getattr(payload, "last_sequence", getattr(payload, "sequence", None))
            if event.stream == BOOK and sequence is not None and sequence >= last_update:
                seen["book"] = True
            if all(seen.values()):
                stop.set()

        return watch

    return until


async def _record(
    db: Path, config: RecordConfig, exchange: LoopbackExchange, *, until: Callable[[asyncio.Event], Any] | None = None
) -> dict[str, Any]:
    stop = asyncio.Event()
    handlers = [until(stop)] if until is not None else [_stop_at_trade(_last_capture_trade(exchange), stop)]
    run = record(config, db, stop=stop, handlers=handlers)
    return await asyncio.wait_for(run, TIMEOUT_S)


async def _log(db: Path) -> list[Event]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [e async for e in store.read(EventFilter())]
    finally:
        await store.close()


def _trade_ids(events: list[Event]) -> list[int]:
    return [int(e.payload.trade_id) for e in events if isinstance(e.payload, Trade)]


def _gap_ids(events: list[Event]) -> list[int]:
    ids: list[int] = []
    for event in events:
        if isinstance(event.payload, Gap) and (found := MISSING.search(event.payload.reason)):
            ids.extend(range(int(found[1]), int(found[2]) + 1))
    return ids


@pytest.mark.asyncio
async def test_ws_trades_each_once_and_a_gap_exactly_where_a_disconnect_withheld_them(db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=FRAMES, faults="ws:disconnect@700:25") as ex:
        summary = await _record(db_path, _config(ex), ex)
        served, withheld = ex.served.trade_ids("BTCUSDT", "ws"), ex.served.withheld_trade_ids("BTCUSDT")
    events = await _log(db_path)
    assert _trade_ids(events) == served
    assert withheld
    assert _gap_ids(events) == withheld
    assert summary["counts"]["Gap"] == 1
    assert summary["gaps"][0]["reason"].startswith("NetworkError")


@pytest.mark.asyncio
async def test_rest_trades_each_once_through_rate_limits_and_errors(db_path: Path) -> None:
    faults = "rest:/api/v3/aggTrades#2=429:0.05,rest:/api/v3/aggTrades#4-5=503"
    async with LoopbackExchange(_data_dir(), speed=REST_SPEED, max_messages=FRAMES, faults=faults) as ex:
        config = _config(ex, mode="rest", trades_limit=100)
        summary = await _record(db_path, config, ex)
        served = ex.served.trade_ids("BTCUSDT", "rest")
        applied = [f.action for f in ex.served.faults]
    events = await _log(db_path)
    recorded = _trade_ids(events)
    assert recorded == sorted(set(served))
    assert recorded == list(range(recorded[0], recorded[-1] + 1))
    assert _gap_ids(events) == []
    assert applied == ["429", "503", "503"]
    assert summary["status"] == "closed"


@pytest.mark.asyncio
async def test_ws_book_rebuilt_from_the_log_equals_the_served_book(db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=FRAMES) as ex:
        config = _config(ex, channels=(Channel("trades"), Channel("book")))
        await _record(db_path, config, ex, until=_stop_at_both(_last_capture_trade(ex), _last_depth_update(ex)))
        served_book = ex.book_at_end("BTCUSDT")
    builder = BookBuilder(SyncRule.SPOT, BOOK)
    gaps = [builder.apply(e) for e in await _log(db_path) if e.stream == BOOK]
    assert not any(gaps)
    assert builder.in_sync
    assert builder.book == served_book


@pytest.mark.asyncio
async def test_the_breaker_opens_after_the_failures_and_closes_after_recovery(db_path: Path) -> None:
    async with LoopbackExchange(
        _data_dir(), speed=REST_SPEED, max_messages=FRAMES, faults="rest:/api/v3/aggTrades#2-4=503"
    ) as ex:
        settings = ResilienceSettings(
            max_attempts=2, base_delay_s=0.01, max_delay_s=0.02, failure_threshold=3, open_s=0.2
        )
        config = _config(ex, mode="rest", trades_limit=100, resilience=settings)
        summary = await _record(db_path, config, ex)
        served = ex.served.trade_ids("BTCUSDT", "rest")
    events = await _log(db_path)
    changes = [e for e in events if isinstance(e.payload, BreakerStateChanged)]
    moves = [(c.payload.breaker, c.payload.old, c.payload.new) for c in changes]  # type: ignore[attr-defined]
    name = "binance:BTC/USDT:trades"
    assert moves == [(name, "closed", "open"), (name, "open", "half_open"), (name, "half_open", "closed")]
    assert changes[0].payload.failures == 3  # type: ignore[attr-defined]
    assert {c.stream for c in changes} == {f"system:{summary['session']}:breakers"}
    assert [(t["old"], t["new"]) for t in summary["breaker_transitions"]] == [m[1:] for m in moves]
    assert _trade_ids(events) == sorted(set(served))


def _served_rest(path: str, wanted: str) -> list[Any]:
    """The bodies the REST mock holds for ``path`` whose query string has every ``key=value`` of ``wanted``."""
    routes = json.loads(require_data(REST_MOCK).read_text())["routes"][path]["GET"]
    parts = set(wanted.split("&"))
    return [entry["data"] for entry in routes if parts <= set(entry["queryString"].split("&"))]


def _stop_at_bars_and_a_ticker(bars: int) -> Callable[[asyncio.Event], Callable[[Event], None]]:
    def until(stop: asyncio.Event) -> Callable[[Event], None]:
        seen = {"bars": 0, "tickers": 0}

        def watch(event: Event) -> None:
            seen["bars"] += isinstance(event.payload, Bar)
            seen["tickers"] += isinstance(event.payload, Ticker)
            if seen["bars"] >= bars and seen["tickers"]:
                stop.set()

        return watch

    return until


@pytest.mark.asyncio
async def test_rest_ohlcv_and_ticker_equal_what_the_exchange_served(db_path: Path) -> None:
    served_candles = _served_rest("/api/v3/klines", "symbol=BTCUSDT&interval=1m")
    candles = sorted({int(c[0]): c for body in served_candles for c in body}.items())
    async with LoopbackExchange(_data_dir(), speed=60, max_messages=FRAMES) as ex:
        config = _config(ex, mode="rest", channels=(Channel.parse("ohlcv:1m"), Channel("ticker")))
        summary = await _record(db_path, config, ex, until=_stop_at_bars_and_a_ticker(len(candles) - 1))
    events = await _log(db_path)
    bars = [e.payload for e in events if isinstance(e.payload, Bar)]
    # Every served candle but the newest (it may still be open), once each, in time order.
    assert [(b.open_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (t * 1_000_000, *map(float, c[1:6])) for t, c in candles[:-1]
    ]
    assert {b.timeframe for b in bars} == {"1m"}
    (served,) = _served_rest("/api/v3/ticker/24hr", "symbol=BTCUSDT")
    tickers = [e for e in events if isinstance(e.payload, Ticker)]
    assert tickers
    ticker = tickers[0]
    assert ticker.ts_event == served["closeTime"] * 1_000_000
    assert (ticker.payload.last, ticker.payload.bid, ticker.payload.ask, ticker.payload.base_volume) == tuple(
        float(served[k]) for k in ("lastPrice", "bidPrice", "askPrice", "volume")
    )
    assert summary["counts"]["Bar"] == len(candles) - 1
    assert summary["status"] == "closed"
