"""Backtests end to end on a real Binance capture (../shared/data): the sample strategies, the log, the report."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json
from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, StrategySpec, VenueConfig, read_ledger, run_backtest
from virtuoso.importers import import_files
from virtuoso.replay import ReplaySelection, analyzers_named
from virtuoso.store import EventFilter, open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
REPLAYS = Path(__file__).parents[2] / "replays"
MA_CROSS = {"timeframe": "1s", "fast": 5, "slow": 20, "amount": 0.01}


@pytest.fixture(scope="module")
def capture_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The BTC/USDT spot capture imported once (tests copy the file before writing to it)."""
    source = require_data(CAPTURE)
    path = tmp_path_factory.mktemp("capture") / "btc.sqlite"

    async def load() -> str:
        store = await open_sqlite_store(path)
        try:
            return (await import_files(store, "binance-capture", [source])).session
        finally:
            await store.close()

    return path, asyncio.run(load())


@pytest.fixture
def log(capture_log: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "btc.sqlite"
    shutil.copyfile(capture_log[0], path)
    return path, capture_log[1]


def _config(session: str, **params: object) -> BacktestConfig:
    spec = StrategySpec.named("virtuoso.strategies:MovingAverageCross", {**MA_CROSS, **params})
    selection = ReplaySelection(sessions=(session,), order="exchange-time")
    venue = VenueConfig(mark_interval_s=10.0)
    return BacktestConfig(selection, spec, venue, analyzers_named(spec.cls.analyzers_for(spec.config)))


async def _recorded_prices(path: Path, session: str) -> tuple[float, float]:
    store = await open_sqlite_store(path, readonly=True)
    try:
        prices = [e.payload.price async for e in store.read(EventFilter(session=session, types=("Trade",)))]
    finally:
        await store.close()
    return min(prices), max(prices)


def test_a_moving_average_cross_runs_end_to_end_and_reports(log: tuple[Path, str], tmp_path: Path) -> None:
    path, session = log
    result = asyncio.run(run_backtest(AppConfig(db=path), _config(session)))
    assert result.events_in == 41_252
    assert len(result.fills) > 0
    assert set(result.fills["liquidity"]) == {"taker"}  # market orders only
    low, high = asyncio.run(_recorded_prices(path, session))
    assert result.fills["price"].between(low * 0.999, high * 1.001).all()
    assert (result.fills["fee"] > 0).all()
    assert result.metrics["fills"] == len(result.fills)
    assert result.metrics["orders"] == len(result.orders)
    html = result.report(tmp_path / "report")
    assert html.read_text().count("<table") >= 1
    assert (tmp_path / "report" / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = result.to_parquet(tmp_path / "parquet")
    fills = pd.read_parquet(tmp_path / "parquet" / "fills.parquet")
    assert len(fills) == len(result.fills)
    assert len(written) == 8  # seven frames and metrics.json


def test_the_same_backtest_is_found_in_the_log_and_recomputes_to_the_same_bytes(log: tuple[Path, str]) -> None:
    path, session = log
    first = asyncio.run(run_backtest(AppConfig(db=path), _config(session)))
    again = asyncio.run(run_backtest(AppConfig(db=path), _config(session)))
    forced = asyncio.run(run_backtest(AppConfig(db=path), _config(session), force=True))
    assert (again.cached, again.run, again.digest) == (True, first.run, first.digest)
    assert again.metrics == first.metrics
    assert (forced.cached, forced.digest) == (False, first.digest)
    assert forced.run != first.run
    pd.testing.assert_frame_equal(forced.fills, first.fills)
    other = asyncio.run(run_backtest(AppConfig(db=path), _config(session, fast=4)))
    assert other.digest != first.digest


def test_the_ledger_is_in_the_log(log: tuple[Path, str]) -> None:
    path, session = log
    result = asyncio.run(run_backtest(AppConfig(db=path), _config(session)))

    async def stored() -> tuple[list[str], str]:
        store = await open_sqlite_store(path, readonly=True)
        try:
            info = await store.session(result.run)
            return [e.type for e in await read_ledger(store, result.run)], info.source
        finally:
            await store.close()

    types, source = asyncio.run(stored())
    assert source == "backtest"
    assert types.count("OrderFilled") == len(result.fills)
    assert types.count("OrderSubmitted") == len(result.orders)
    assert types.count("EquityMarked") == len(result.equity)


def test_the_cli_runs_a_replays_example_file(log: tuple[Path, str], tmp_path: Path) -> None:
    path, session = log
    args = ["--param", "timeframe=1s", "--param", "fast=5", "--param", "slow=20"]
    out = cli_json(
        "backtest", "--db", path, "--session", session[:8], "--config", REPLAYS / "backtest-ma-cross.toml",
        *args, "--report", tmp_path / "report",
    )  # fmt: skip
    assert {"run", "digest", "metrics", "events_in", "report"} <= set(out)
    assert {"total_return", "sharpe", "sortino", "max_drawdown", "trades", "fees", "win_rate"} <= set(out["metrics"])
    assert out["metrics"]["fills"] > 0
    assert Path(out["report"]).is_file()
    text = cli(
        "backtest", "--db", path, "--session", session[:8], "--config", REPLAYS / "backtest-ma-cross.toml", *args
    )
    assert text.exit_code == 0
    assert out["digest"] in text.stdout
    assert "total_return" in text.stdout


def test_the_confluence_strategy_trades_on_the_analyzers_signals(log: tuple[Path, str]) -> None:
    path, session = log
    spec = StrategySpec.named(
        "virtuoso.strategies:ConfluenceThreshold", {"timeframes": ["1s", "5s"], "long": 55.0, "short": 45.0}
    )
    analyzers = analyzers_named(spec.cls.analyzers_for(spec.config))
    assert [a.name for a in analyzers] == ["bars", "confluence"]
    selection = ReplaySelection(sessions=(session,), order="exchange-time")
    result = asyncio.run(run_backtest(AppConfig(db=path), BacktestConfig(selection, spec, VenueConfig(), analyzers)))
    assert len(result.orders) > 0
    assert set(result.orders["side"]) == {"buy", "sell"}
    assert result.orders["symbol"].eq("BTC/USDT").all()
