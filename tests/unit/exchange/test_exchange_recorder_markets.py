"""The recorder's markets: written at the start, refreshed, deduplicated, and cached when the exchange is down.

A scripted exchange with ccxt's interface stands in for ccxt (a foreign
library); the recorder, the log (a real SQLite file), the cache file and the
clock are real. The loopback tests run the same with real ccxt.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from virtuoso.clock import LiveClock
from virtuoso.events import Event, HealthReported, MarketsLoaded, Note
from virtuoso.exchange import RecordConfig, RecordingFailed, ResilienceSettings, record
from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.store import EventFilter, open_sqlite_store

TIMEOUT_S = 10.0
NS = 1_000_000_000


def _market(symbol: str, tick: float) -> dict[str, Any]:
    base, quote = symbol.split("/")
    return {
        "symbol": symbol,
        "id": base + quote,
        "base": base,
        "quote": quote,
        "precision": {"price": tick, "amount": 0.001},
        "limits": {"cost": {"min": 5.0}},
        "taker": 0.001,
    }


class Exchange:
    """ccxt's load_markets / set_markets / watch_trades.

    Each load answers with the next entry of ``script``: a tick size for BTC/USDT and ETH/USDT, or an
    exception to raise (the last entry repeats). ``loaded`` is set once ``wanted_loads`` loads were made.
    """

    has: ClassVar[dict[str, bool]] = {"watchTrades": True}

    def __init__(self, *script: float | BaseException, wanted_loads: int = 1, trade_id: int = 1) -> None:
        self.trade_id = trade_id
        self.script = list(script) or [0.01]
        self.wanted_loads = wanted_loads
        self.loads = 0
        self.markets: dict[str, Any] | None = None
        self.loaded = asyncio.Event()
        self.traded = asyncio.Event()

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        answer = self.script[min(self.loads, len(self.script) - 1)]
        self.loads += 1
        if self.loads >= self.wanted_loads:
            self.loaded.set()
        if isinstance(answer, BaseException):
            raise answer
        self.markets = {s: _market(s, answer) for s in ("BTC/USDT", "ETH/USDT")}
        return self.markets

    def set_markets(self, markets: dict[str, Any]) -> None:
        self.markets = markets

    async def watch_trades(self, symbol: str) -> Any:
        if self.traded.is_set():
            await asyncio.Event().wait()
        self.traded.set()
        ts = 1_700_000_000_000 + self.trade_id
        return [{"id": str(self.trade_id), "timestamp": ts, "price": 100.0, "amount": 0.5, "side": "buy"}]


def _config(**changes: Any) -> RecordConfig:
    base: dict[str, Any] = {
        "exchange": "binance",
        "symbols": ("BTC/USDT",),
        "health_interval_s": 0.02,
        "resilience": ResilienceSettings(max_attempts=2, base_delay_s=0.001, max_delay_s=0.01, seed=3),
    }
    return RecordConfig(**{**base, **changes})


async def _record(db: Path, exchange: Exchange, done: asyncio.Event, **options: Any) -> dict[str, Any]:
    stop = asyncio.Event()

    async def stopper() -> None:
        await done.wait()
        await exchange.traded.wait()
        stop.set()

    task = asyncio.create_task(stopper())
    try:
        config = options.pop("config", None) or _config()
        return await asyncio.wait_for(record(config, db, stop=stop, exchange=exchange, **options), TIMEOUT_S)
    finally:
        task.cancel()


async def _events(db: Path) -> list[Event]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [e async for e in store.read(EventFilter())]
    finally:
        await store.close()


def _loaded(events: list[Event]) -> list[MarketsLoaded]:
    return [e.payload for e in events if isinstance(e.payload, MarketsLoaded)]


def _notes(events: list[Event]) -> list[Note]:
    return [e.payload for e in events if isinstance(e.payload, Note)]


def _markets_health(events: list[Event]) -> list[tuple[str, str]]:
    return [
        (c.status, c.reason)
        for e in events
        if isinstance(e.payload, HealthReported)
        for c in e.payload.components
        if c.name == "markets binance"
    ]


@pytest.mark.asyncio
async def test_the_recorded_symbols_markets_come_first_and_fresh(tmp_path: Path) -> None:
    exchange = Exchange()
    summary = await _record(tmp_path / "log.sqlite", exchange, exchange.loaded)
    events = await _events(tmp_path / "log.sqlite")
    first_market_data = next(e for e in events if e.stream.startswith("binance:"))
    assert first_market_data.stream == "binance:markets"
    [loaded] = _loaded(events)
    assert (loaded.source, loaded.stale_age_s, [m.symbol for m in loaded.markets]) == ("exchange", None, ["BTC/USDT"])
    assert (loaded.markets[0].tick_size, loaded.markets[0].min_notional, loaded.markets[0].taker_fee_bps) == (
        0.01,
        5.0,
        10.0,
    )
    assert summary["counts"]["MarketsLoaded"] == 1
    assert (tmp_path / "binance.markets.json").is_file()  # every market, for a database that has none yet


@pytest.mark.asyncio
async def test_refreshes_write_only_when_the_markets_change(tmp_path: Path) -> None:
    exchange = Exchange(0.01, 0.01, 0.1, wanted_loads=5)
    await _record(tmp_path / "log.sqlite", exchange, exchange.loaded, config=_config(markets_ttl_s=0.01))
    ticks = [loaded.markets[0].tick_size for loaded in _loaded(await _events(tmp_path / "log.sqlite"))]
    assert exchange.loads >= 5
    assert ticks == [0.01, 0.1]


@pytest.mark.asyncio
async def test_exchange_down_at_start_records_from_the_log_markets_marked_stale(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    up = Exchange()
    await _record(db, up, up.loaded)
    (tmp_path / "binance.markets.json").unlink()  # only the log can help now
    down = Exchange(ccxt_module().NetworkError("exchangeInfo: 503 Service Unavailable"), trade_id=2)
    later = LiveClock(offset_ns=120 * NS)
    run = record(_config(), db, duration_s=0.5, exchange=down, clock=later)  # time for health reports
    summary = await asyncio.wait_for(run, TIMEOUT_S)
    assert (summary["status"], summary["counts"]["Trade"]) == ("closed", 1)
    session = [e for e in await _events(db) if e.session == summary["session"]]
    [stale] = _loaded(session)
    assert stale.source == "log"
    assert stale.stale_age_s is not None
    assert 119 < stale.stale_age_s < 130
    assert stale.markets[0].tick_size == 0.01
    [note] = _notes(session)
    assert note.level == "warning"
    assert note.message.startswith("binance markets are stale: from the event log, 12")
    assert "NetworkError" in note.message
    assert {status for status, _ in _markets_health(session)} == {"degraded"}
    assert down.markets is not None  # handed to ccxt, which would otherwise fail on its own load
    assert down.markets["BTC/USDT"]["precision"]["price"] == 0.01


@pytest.mark.asyncio
async def test_a_new_database_uses_the_cache_file_of_its_folder(tmp_path: Path) -> None:
    up = Exchange()
    await _record(tmp_path / "first.sqlite", up, up.loaded, config=_config(symbols=("ETH/USDT",)))
    down = Exchange(TimeoutError("no answer"), trade_id=2)
    summary = await _record(tmp_path / "second.sqlite", down, down.traded)
    [stale] = _loaded(await _events(tmp_path / "second.sqlite"))
    assert (stale.source, [m.symbol for m in stale.markets]) == ("cache-file", ["BTC/USDT"])
    assert summary["status"] == "closed"


@pytest.mark.asyncio
async def test_stale_then_fresh_again_is_noted_once_each_and_unchanged_markets_are_not_rewritten(
    tmp_path: Path,
) -> None:
    down = TimeoutError("no answer")
    exchange = Exchange(0.01, down, down, down, down, 0.01, wanted_loads=7)  # two refreshes fail, each tried twice
    await _record(tmp_path / "log.sqlite", exchange, exchange.loaded, config=_config(markets_ttl_s=0.01))
    events = await _events(tmp_path / "log.sqlite")
    assert [(n.level, n.message.split(":")[0]) for n in _notes(events)] == [
        ("warning", "binance markets are stale"),
        ("info", "binance markets fresh from the exchange again"),
    ]
    assert [loaded.source for loaded in _loaded(events)] == ["exchange"]


@pytest.mark.asyncio
async def test_a_symbol_the_exchange_does_not_list_fails_the_recording_loudly(tmp_path: Path) -> None:
    exchange = Exchange()
    with pytest.raises(RecordingFailed, match=r"BadSymbol: .*no market DOGE/XYZ in the exchange's markets"):
        await asyncio.wait_for(
            record(_config(symbols=("DOGE/XYZ",)), tmp_path / "log.sqlite", exchange=exchange), TIMEOUT_S
        )
    assert not _loaded(await _events(tmp_path / "log.sqlite"))


@pytest.mark.asyncio
async def test_a_symbol_never_listed_is_not_served_from_the_cache_either(tmp_path: Path) -> None:
    up = Exchange()
    await _record(tmp_path / "log.sqlite", up, up.loaded)
    down = Exchange(TimeoutError("no answer"))
    with pytest.raises(RecordingFailed, match=r"no market DOGE/XYZ in the cached markets"):
        await asyncio.wait_for(
            record(_config(symbols=("DOGE/XYZ",)), tmp_path / "log.sqlite", exchange=down), TIMEOUT_S
        )


@pytest.mark.asyncio
async def test_the_cache_file_goes_where_the_config_says_and_an_unwritable_one_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = Exchange()
    where = tmp_path / "cache" / "markets.json"
    await _record(tmp_path / "log.sqlite", exchange, exchange.loaded, config=_config(markets_cache=str(where)))
    assert where.is_file()
    assert not (tmp_path / "binance.markets.json").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    again = Exchange(trade_id=2)
    config = _config(markets_cache=str(blocked / "markets.json"))
    summary = await _record(tmp_path / "log.sqlite", again, again.loaded, config=config)
    assert summary["status"] == "closed"
    assert "markets cache file not written" in caplog.text
