"""The Recorder end to end on a real SQLite log, fed by scripted exchanges with ccxt's interface.

The scripted exchanges stand in for ccxt (a foreign library), never for our own
components; the loopback-exchange integration tests run the real ccxt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from virtuoso.events import Bar, BookDelta, BookSnapshot, Event, Gap, HealthReported, SessionEnded, Ticker, Trade
from virtuoso.exchange import Channel, RecordConfig, RecordingFailed, ResilienceSettings, record
from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.resilience import session_health
from virtuoso.store import EventFilter, open_sqlite_store

TIMEOUT_S = 10.0
MARKETS = {
    "BTC/USDT": {"symbol": "BTC/USDT", "id": "BTCUSDT", "base": "BTC", "quote": "USDT", "precision": {"price": 0.01}}
}


def _trade(i: int) -> dict[str, Any]:
    return {"id": str(i), "timestamp": 1_700_000_000_000 + i, "price": 100.0 + i, "amount": 0.5, "side": "buy"}


def _book(bids: dict[float, float], asks: dict[float, float], nonce: int) -> dict[str, Any]:
    return {
        "bids": sorted(([p, a] for p, a in bids.items()), reverse=True),
        "asks": sorted([p, a] for p, a in asks.items()),
        "nonce": nonce,
        "timestamp": None,
    }


class Scripted:
    """ccxt's watch_* calls answered from scripts; an exception in a script is raised. Then it waits forever."""

    has: ClassVar[dict[str, bool]] = {
        "watchTrades": True,
        "watchOrderBook": True,
        "watchOHLCV": True,
        "watchTicker": True,
    }

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = scripts
        self.drained = asyncio.Event()
        self.calls: list[str] = []

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        return MARKETS

    async def _next(self, name: str) -> Any:
        self.calls.append(name)
        script = self.scripts[name]
        if not script:
            if all(not s for s in self.scripts.values()):
                self.drained.set()
            await asyncio.Event().wait()
        item = script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    async def watch_trades(self, symbol: str) -> Any:
        return await self._next("trades")

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> Any:
        return await self._next("book")

    async def watch_ticker(self, symbol: str) -> Any:
        return await self._next("ticker")

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> Any:
        return await self._next("ohlcv")


class Venue:
    """A REST venue holding numbered trades: fetch_trades with ``fromId`` pages, like Binance's aggTrades."""

    has: ClassVar[dict[str, bool]] = {}

    def __init__(self, trades: list[dict[str, Any]], limit_cap: int = 3) -> None:
        self.trades = trades
        self.cap = limit_cap
        self.requests: list[dict[str, Any]] = []
        self.caught_up = asyncio.Event()

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        return MARKETS

    async def fetch_trades(self, symbol: str, since: Any, limit: int, params: dict[str, Any]) -> Any:
        self.requests.append(dict(params))
        start = params.get("fromId")
        rows = [t for t in self.trades if start is None or int(t["id"]) >= start]
        if start is None:
            rows = rows[-self.cap :]
        page = rows[: min(limit, self.cap)]
        if not page:
            self.caught_up.set()
        return page


def _config(**changes: Any) -> RecordConfig:
    base: dict[str, Any] = {
        "exchange": "binance",
        "symbols": ("BTC/USDT",),
        "poll_interval_s": 0.01,
        "resilience": ResilienceSettings(base_delay_s=0.001, max_delay_s=0.01, seed=3),
    }
    return RecordConfig(**{**base, **changes})


async def _record_until(
    db: Path, config: RecordConfig, exchange: Any, done: Callable[[], asyncio.Event]
) -> dict[str, Any]:
    stop = asyncio.Event()

    async def stopper() -> None:
        await done().wait()
        stop.set()

    task = asyncio.create_task(stopper())
    try:
        return await asyncio.wait_for(record(config, db, stop=stop, exchange=exchange), TIMEOUT_S)
    finally:
        task.cancel()


async def _events(db: Path, stream_suffix: str = "") -> list[Event]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [e async for e in store.read(EventFilter()) if e.stream.endswith(stream_suffix)]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_ws_trades_once_each_with_a_gap_where_ids_were_lost(db_path: Path) -> None:
    network = ccxt_module().NetworkError
    exchange = Scripted(
        trades=[
            [_trade(1), _trade(2), _trade(3)],
            [_trade(3), _trade(4)],
            network("connection closed"),
            [_trade(4), _trade(5)],
            network("connection closed"),
            [_trade(8), _trade(9)],
        ]
    )
    summary = await _record_until(db_path, _config(), exchange, lambda: exchange.drained)
    trades = [e.payload for e in await _events(db_path, ":trades") if isinstance(e.payload, Trade)]
    assert [t.trade_id for t in trades] == ["1", "2", "3", "4", "5", "8", "9"]
    gaps = [e.payload for e in await _events(db_path, ":gaps")]
    assert gaps == [
        Gap(
            "binance:BTC/USDT:trades",
            (1_700_000_000_000 + 5) * 1_000_000,
            (1_700_000_000_000 + 8) * 1_000_000,
            "NetworkError: connection closed: trade ids 6..7 missing",
        )
    ]
    assert summary["counts"]["Trade"] == 7
    assert summary["counts"]["Gap"] == 1
    assert summary["status"] == "closed"
    assert summary["gaps"][0]["reason"].endswith("trade ids 6..7 missing")


@pytest.mark.asyncio
async def test_ws_book_snapshot_deltas_gap_and_resync(db_path: Path) -> None:
    network = ccxt_module().NetworkError
    exchange = Scripted(
        book=[
            _book({100.0: 1.0}, {101.0: 1.0}, 5),
            _book({100.0: 2.0}, {101.0: 1.0}, 6),
            _book({100.0: 2.0, 99.0: 1.0}, {}, 8),
            network("sequence break"),
            _book({100.0: 3.0}, {102.0: 1.0}, 20),
            _book({100.0: 3.0}, {102.0: 2.0}, 21),
        ]
    )
    config = _config(channels=(Channel("book"),))
    await _record_until(db_path, config, exchange, lambda: exchange.drained)
    events = await _events(db_path)
    book = [e.payload for e in events if e.stream.endswith((":book", ":gaps"))]
    assert [type(p).__name__ for p in book] == [
        "BookSnapshot",
        "BookDelta",
        "BookDelta",
        "Gap",
        "BookSnapshot",
        "BookDelta",
    ]
    assert book[2] == BookDelta(((99.0, 1.0),), ((101.0, 0.0),), 7, 8, 6)
    assert book[4] == BookSnapshot(((100.0, 3.0),), ((102.0, 1.0),), 20)
    assert isinstance(book[3], Gap)
    assert book[3].reason == "NetworkError: sequence break"


@pytest.mark.asyncio
async def test_rest_trades_page_without_loss_or_repeat_and_continue_after_a_restart(db_path: Path) -> None:
    venue = Venue([_trade(i) for i in range(10, 20)])
    await _record_until(db_path, _config(mode="rest"), venue, lambda: venue.caught_up)
    assert venue.requests[:2] == [{}, {"fromId": 20}]
    first = [e.payload.trade_id for e in await _events(db_path, ":trades")]
    assert first == ["17", "18", "19"]  # the first poll takes the latest page, then follows by id
    venue2 = Venue([_trade(i) for i in range(10, 31)])
    await _record_until(db_path, _config(mode="rest"), venue2, lambda: venue2.caught_up)
    assert venue2.requests[0] == {"fromId": 20}  # restored from the log
    ids = [int(e.payload.trade_id) for e in await _events(db_path, ":trades")]
    assert ids == list(range(17, 31))


@pytest.mark.asyncio
async def test_a_permanent_error_ends_the_session_with_the_secret_scrubbed(db_path: Path) -> None:
    bad_symbol = ccxt_module().BadSymbol
    exchange = Scripted(trades=[bad_symbol("binance does not have market symbol BTC/XXX (s3cr3t-value)")])
    config = _config(ccxt={"apiKey": "s3cr3t-value"})
    with pytest.raises(RecordingFailed, match=r"failed: BadSymbol: binance watch_trades: .* \(\*\*\*\)$"):
        await asyncio.wait_for(record(config, db_path, exchange=exchange), TIMEOUT_S)
    ended = [e.payload for e in await _events(db_path) if isinstance(e.payload, SessionEnded)]
    assert ended == [
        SessionEnded(
            "closed", "failed: BadSymbol: binance watch_trades: binance does not have market symbol BTC/XXX (***)"
        )
    ]
    assert b"s3cr3t-value" not in await asyncio.to_thread(db_path.read_bytes)


@pytest.mark.asyncio
async def test_duration_ends_a_recording(db_path: Path) -> None:
    exchange = Scripted(trades=[[_trade(1)]])
    summary = await asyncio.wait_for(record(_config(), db_path, duration_s=0.2, exchange=exchange), TIMEOUT_S)
    assert summary["reason"] == "duration reached"
    assert summary["counts"]["Trade"] == 1


@pytest.mark.asyncio
async def test_health_reports_are_appended_and_status_reads_them(db_path: Path) -> None:
    exchange = Scripted(trades=[[_trade(1)], [_trade(2)]])
    config = _config(health_interval_s=0.05)
    summary = await asyncio.wait_for(record(config, db_path, duration_s=0.3, exchange=exchange), TIMEOUT_S)
    reports = [e for e in await _events(db_path) if isinstance(e.payload, HealthReported)]
    assert reports
    assert {e.stream for e in reports} == {f"system:{summary['session']}:health"}
    names = {c.name for c in reports[-1].payload.components}  # type: ignore[attr-defined]
    assert {"stream binance:BTC/USDT:trades", "breaker binance:BTC/USDT:trades", "writer backlog"} <= names
    store = await open_sqlite_store(db_path, readonly=True)
    try:
        health = await session_health(store, None, now_ns=0)
    finally:
        await store.close()
    assert health.last_report is not None
    assert health.session.status == "closed"


def _ticker(last: float) -> dict[str, Any]:
    return {
        "timestamp": 1_700_000_000_000,
        "bid": last - 1,
        "bidVolume": 2.0,
        "ask": last + 1,
        "askVolume": 3.0,
        "last": last,
    }


@pytest.mark.asyncio
async def test_candles_are_written_once_closed_and_unchanged_tickers_not_again(db_path: Path) -> None:
    minute = 60_000
    exchange = Scripted(
        ohlcv=[
            [[minute, 1.0, 2.0, 0.5, 1.5, 10.0]],
            [[minute, 1.0, 2.5, 0.5, 2.0, 12.0], [2 * minute, 2.0, 2.0, 2.0, 2.0, 1.0]],
            [[2 * minute, 2.0, 3.0, 2.0, 3.0, 5.0]],
            [[2 * minute, 2.0, 3.0, 1.0, 1.5, 6.0], [3 * minute, 1.5, 1.5, 1.5, 1.5, 0.5]],
        ],
        ticker=[_ticker(100.0), _ticker(100.0), _ticker(101.0)],
    )
    config = _config(channels=(Channel("ohlcv", "1m"), Channel("ticker")))
    await _record_until(db_path, config, exchange, lambda: exchange.drained)
    events = await _events(db_path)
    bars = [e.payload for e in events if isinstance(e.payload, Bar)]
    assert bars == [
        Bar("1m", minute * 1_000_000, 1.0, 2.5, 0.5, 2.0, 12.0),
        Bar("1m", 2 * minute * 1_000_000, 2.0, 3.0, 1.0, 1.5, 6.0),
    ]
    assert [e.ts_event for e in events if isinstance(e.payload, Bar)] == [b.open_ns for b in bars]
    tickers = [e.payload for e in events if isinstance(e.payload, Ticker)]
    assert [t.last for t in tickers] == [100.0, 101.0]
    assert {e.stream for e in events if isinstance(e.payload, Ticker | Bar)} == {
        "binance:BTC/USDT:ticker",
        "binance:BTC/USDT:bars",
    }
