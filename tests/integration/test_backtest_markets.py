"""A backtest on a real import whose markets came from Binance's real exchangeInfo (``import --markets``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.integration.test_import_ccxt import unified_trades
from tests.integration.test_import_markets import exchange_info
from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, StrategySpec, VenueConfig, run_backtest
from virtuoso.importers import import_files
from virtuoso.replay import ReplaySelection
from virtuoso.store import open_sqlite_store

STRATEGY = '''
from virtuoso.backtest import Strategy


class TwoBids(Strategy):
    """On the first trade: a bid a tenth of a tick off the grid, and one on it, both well under the market."""

    def on_trade(self, event, trade):
        if not self.open_orders() and self.now_ns and not getattr(self, "sent", False):
            self.sent = True
            self.buy(0.01, 5000.005)
            self.buy(0.01, 5000.01)
'''


def test_an_order_off_the_recorded_tick_grid_is_rejected(tmp_path: Path) -> None:
    trades, markets, db = tmp_path / "trades.json", tmp_path / "info.json", tmp_path / "log.sqlite"
    trades.write_text(json.dumps(unified_trades()))
    markets.write_text(json.dumps(exchange_info()))
    strategy = tmp_path / "two_bids.py"
    strategy.write_text(STRATEGY)

    async def imported() -> str:
        store = await open_sqlite_store(db)
        try:
            return (await import_files(store, "ccxt-json", [trades], exchange="binance", markets=markets)).session
        finally:
            await store.close()

    session = asyncio.run(imported())
    spec = StrategySpec.named(f"{strategy}:TwoBids", {})
    config = BacktestConfig(ReplaySelection(sessions=(session,)), spec, VenueConfig())
    result = asyncio.run(run_backtest(AppConfig(db=db), config, write=False))
    assert list(result.orders["status"]) == ["rejected", "open"]
    assert list(result.orders["reason"]) == ["price 5000.005 is off the tick grid (0.01)", ""]
