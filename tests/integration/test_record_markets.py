"""Market metadata of live recordings, with real ccxt.pro against the loopback exchange (127.0.0.1 only).

* A recording started while the exchange fails ``exchangeInfo`` still records, from the cached markets,
  and says they are stale (the event, a Note, the health reports, ``virtuoso status``).
* A tick size changed by the exchange mid-session is a new ``MarketsLoaded``, and a backtest of the
  session meets the old tick size before it and the new one after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration._cli import cli, cli_json
from tests.integration.test_record_loopback import _config as loopback_config
from tests.integration.test_record_loopback import _data_dir
from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, StrategySpec, VenueConfig, run_backtest
from virtuoso.clock import LiveClock
from virtuoso.events import Event, HealthReported, MarketsLoaded, Note, Trade
from virtuoso.exchange import RecordConfig, RecordingFailed, ResilienceSettings, record
from virtuoso.replay import ReplaySelection
from virtuoso.resilience import session_health
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

TIMEOUT_S = 30.0
MARKETS = "binance:markets"


def _config(exchange: LoopbackExchange, **changes: Any) -> RecordConfig:
    """The loopback recording config, with frequent health reports and a quick give-up on load_markets."""
    quick = ResilienceSettings(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, seed=1)
    return loopback_config(exchange, **{"health_interval_s": 0.05, "resilience": quick, **changes})


def _after_trades(count: int, stop: asyncio.Event) -> Callable[[Event], None]:
    seen = [0]

    def watch(event: Event) -> None:
        if isinstance(event.payload, Trade):
            seen[0] += 1
            if seen[0] >= count:
                stop.set()

    return watch


async def _record_trades(db: Path, config: RecordConfig, count: int, **options: Any) -> dict[str, Any]:
    stop = asyncio.Event()
    run = record(config, db, stop=stop, handlers=[_after_trades(count, stop)], **options)
    return await asyncio.wait_for(run, TIMEOUT_S)


async def _session_events(db: Path, session: str) -> list[Event]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [e async for e in store.read(EventFilter(session=session))]
    finally:
        await store.close()


def _payloads(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e.payload for e in events if isinstance(e.payload, kind)]


@pytest.mark.asyncio
@pytest.mark.parametrize("cached_in", ["log", "cache-file"])
async def test_exchange_info_failing_at_the_start_still_records_from_cached_markets(
    tmp_path: Path, cached_in: str
) -> None:
    first, second = tmp_path / "first.sqlite", tmp_path / ("first.sqlite" if cached_in == "log" else "new.sqlite")
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=2_000) as ex:
        await _record_trades(first, _config(ex), 50)
    if cached_in == "log":
        (tmp_path / "binance.markets.json").unlink()
    async with LoopbackExchange(
        _data_dir(), speed=0, max_messages=4_000, faults="rest:/api/v3/exchangeInfo#*=503"
    ) as down:
        summary = await _record_trades(second, _config(down), 50)
        refused = [r for r in down.served.requests if r[0] == "/api/v3/exchangeInfo"]
    assert refused
    assert {status for _, _, status in refused} == {503}
    events = await _session_events(second, summary["session"])
    assert summary["status"] == "closed"
    assert summary["counts"]["Trade"] >= 50
    [loaded] = _payloads(events, MarketsLoaded)
    assert (loaded.source, [m.symbol for m in loaded.markets]) == (cached_in, ["BTC/USDT"])
    assert loaded.stale_age_s is not None
    assert loaded.stale_age_s >= 0
    assert loaded.markets[0].tick_size == 0.01
    [note] = _payloads(events, Note)
    assert note.level == "warning"
    assert note.message.startswith("binance markets are stale: from the ")
    assert "503" in note.message
    stale_first = next(i for i, e in enumerate(events) if isinstance(e.payload, MarketsLoaded))
    first_trade = next(i for i, e in enumerate(events) if isinstance(e.payload, Trade))
    assert stale_first < first_trade
    shown = await asyncio.to_thread(cli_json, "sessions", "show", "--db", second, summary["session"])
    assert [(m["symbol"], m["source"], m["stale_age_s"]) for m in shown["markets"]] == [
        ("BTC/USDT", cached_in, loaded.stale_age_s)
    ]
    table = await asyncio.to_thread(cli, "sessions", "show", "--db", second, summary["session"])
    assert f"{cached_in}, {loaded.stale_age_s:g} s old" in table.stdout


@pytest.mark.asyncio
async def test_a_symbol_the_exchange_never_listed_fails_the_recording_fresh_or_cached(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=2_000) as ex:
        with pytest.raises(RecordingFailed, match=r"no market DOGE/XYZ in the exchange's markets"):
            await _record_trades(db, _config(ex, symbols=("DOGE/XYZ",)), 1)
    assert (tmp_path / "binance.markets.json").is_file()  # the exchange answered: its markets are cached
    async with LoopbackExchange(
        _data_dir(), speed=0, max_messages=2_000, faults="rest:/api/v3/exchangeInfo#*=503"
    ) as down:
        with pytest.raises(RecordingFailed, match=r"no market DOGE/XYZ in the cached markets \(cache-file\)"):
            await _record_trades(db, _config(down, symbols=("DOGE/XYZ",)), 1)


@pytest.mark.asyncio
async def test_stale_markets_show_in_the_health_reports_and_virtuoso_status(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=2_000) as ex:
        # Another database of the folder: this one's trades start again from the capture's first.
        await _record_trades(tmp_path / "earlier.sqlite", _config(ex), 20)
    async with LoopbackExchange(
        _data_dir(), speed=1, max_messages=4_000, faults="rest:/api/v3/exchangeInfo#*=503"
    ) as down:
        summary = await _record_trades(db, _config(down), 20)  # at recorded pace: several health reports
    reports = _payloads(await _session_events(db, summary["session"]), HealthReported)
    markets = [c for r in reports for c in r.components if c.name == "markets binance"]
    assert markets
    assert {c.status for c in markets} == {"degraded"}
    assert "stale" in markets[-1].reason
    store = await open_sqlite_store(db, readonly=True)
    try:
        health = await session_health(store, summary["session"], now_ns=0)
    finally:
        await store.close()
    assert health.last_report is not None
    assert any(c.name == "markets binance" and c.status == "degraded" for c in health.last_report.components)
    assert [s.stream for s in health.streams] == ["binance:BTC/USDT:trades"]  # the markets stream is not a flow


STRATEGY = '''
from virtuoso.backtest import Strategy


class OffGridBids(Strategy):
    """On every trade, a small bid at half the price on the 0.01 grid but off the 0.1 grid (x.x5): never filled."""

    def on_trade(self, event, trade):
        self.buy(0.001, round(int(trade.price / 2) + 0.05, 2))
'''


class _TickChange:
    """Has the loopback exchange change BTCUSDT's tick size ``before`` trades after the first MarketsLoaded,
    and stops the recording ``after`` trades after the second one.

    The capture is from 2024: the recorder's clock starts at the capture's start and is set to the exchange's
    time at the first trade, so the markets land among the trades received with them (see docs/recording.md).
    """

    def __init__(
        self, exchange: LoopbackExchange, clock: LiveClock, stop: asyncio.Event, *, before: int = 30, after: int = 60
    ) -> None:
        self.exchange, self.clock, self.stop = exchange, clock, stop
        self.before, self.after = before, after
        self.loaded = 0
        self.trades = 0
        self.synced = False

    def __call__(self, event: Event) -> None:
        if isinstance(event.payload, MarketsLoaded):
            self.loaded, self.trades = self.loaded + 1, 0
        elif isinstance(event.payload, Trade) and self.loaded:
            if not self.synced:
                self.clock.offset_ns, self.synced = event.ts_event - time.time_ns(), True
            self.trades += 1
            if self.loaded == 1 and self.trades == self.before:
                self.exchange.change_market("BTCUSDT", tick_size="0.10000000")
            if self.loaded >= 2 and self.trades >= self.after:
                self.stop.set()


async def _record_tick_change(db: Path) -> str:
    async with LoopbackExchange(_data_dir(), speed=1, max_messages=6_000) as ex:
        clock, stop = LiveClock(offset_ns=ex.capture.frames[0].ts_ns - time.time_ns()), asyncio.Event()
        config = _config(ex, markets_ttl_s=0.25)
        run = record(config, db, stop=stop, handlers=[_TickChange(ex, clock, stop)], clock=clock)
        summary = await asyncio.wait_for(run, TIMEOUT_S)
    return str(summary["session"])


@pytest.mark.asyncio
async def test_a_tick_size_change_mid_session_is_a_new_event_and_the_venue_honours_both(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    session = await _record_tick_change(db)
    events = await _session_events(db, session)
    changes = [e for e in events if isinstance(e.payload, MarketsLoaded)]
    assert [e.payload.markets[0].tick_size for e in changes] == [0.01, 0.1]  # refreshes in between stored nothing
    assert {e.payload.source for e in changes} == {"exchange"}
    change_ns = changes[1].ts_event
    strategy = tmp_path / "off_grid.py"
    strategy.write_text(STRATEGY)
    venue = VenueConfig.from_mapping({"initial_cash": 1_000_000.0, "latency": {"ms": 0.0}})
    selection = ReplaySelection(sessions=(session,), order="exchange-time")
    config = BacktestConfig(selection, StrategySpec.named(f"{strategy}:OffGridBids", {}), venue)
    orders = (await run_backtest(AppConfig(db=db), config, write=False)).orders
    arrived = orders["arrives_ns"]
    last_trade_ns = max(e.ts_event for e in events if isinstance(e.payload, Trade))
    before = orders[arrived < change_ns]
    after = orders[(arrived >= change_ns) & (arrived < last_trade_ns)]  # the last trade's order never arrives
    assert len(before) >= 10
    assert len(after) >= 10
    assert set(before["status"]) == {"open"}
    assert set(after["status"]) == {"rejected"}
    assert all(reason.endswith("is off the tick grid (0.1)") for reason in after["reason"])
