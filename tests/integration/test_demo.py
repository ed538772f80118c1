"""The demo's whole path (``virtuoso.demo.run_demo`` and ``virtuoso demo``): synthetic log, replay with the
default analyzers, confluence backtest, report; the same seed gives the same digests and metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json
from virtuoso.demo import CAPTURE_PARAMS, STRATEGY, DemoResult, run_demo
from virtuoso.store import open_sqlite_store
from virtuoso.synthetic import MarketConfig

HOURS = 4.0
"""Long enough for the confluence score on 5m bars to warm up (about 3 h) and trade with seed 7."""
SPOT = "hftbacktest/examples/spot/btcusdt_20240808.gz"


def _demo(folder: Path, seed: int, **options: Any) -> DemoResult:
    market = MarketConfig(hours=HOURS)
    return asyncio.run(run_demo(folder / "demo.sqlite", seed, report_dir=folder / "report", market=market, **options))


@pytest.fixture(scope="module")
def seven(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return _demo(tmp_path_factory.mktemp("seven"), 7)


def test_the_same_seed_gives_the_same_digests_and_metrics(seven: DemoResult, tmp_path: Path) -> None:
    again = cli_json("demo", "--db", tmp_path / "again.sqlite", "--report", tmp_path / "report", "--hours", str(HOURS))

    expected = seven.summary()
    assert seven.backtest.metrics["trades"] >= 1
    assert again["session"] == expected["session"]
    assert again["replay"]["digest"] == expected["replay"]["digest"]
    assert again["backtest"]["digest"] == expected["backtest"]["digest"]
    assert again["backtest"]["metrics"] == expected["backtest"]["metrics"]
    assert (tmp_path / "report" / "chart.png").read_bytes() == (seven.report.parent / "chart.png").read_bytes()


def test_another_seed_gives_another_market_and_other_results(seven: DemoResult, tmp_path: Path) -> None:
    other = _demo(tmp_path, 8)

    assert other.session.id == seven.session.id  # named by name, source and start time, not by content
    assert other.replay.digest != seven.replay.digest
    assert other.backtest.digest != seven.backtest.digest
    assert other.backtest.summary()["metrics"] != seven.backtest.summary()["metrics"]


def test_the_session_is_marked_synthetic_with_its_generator_config(seven: DemoResult) -> None:
    session = seven.session
    assert (session.name, session.source, session.status) == ("demo", "synthetic", "closed")
    assert session.symbols == ("BTC/USDT",)
    config = session.manifest["config"]
    assert (config["synthetic"], config["seed"]) == (True, 7)
    assert config["market"] == MarketConfig(hours=HOURS).as_dict()
    assert set(session.streams) >= {"synthetic:BTC/USDT:trades", "synthetic:BTC/USDT:book"}


def test_the_replay_and_the_backtest_are_runs_in_the_log_and_the_report_is_written(seven: DemoResult) -> None:
    async def sessions() -> list[tuple[str, str, str]]:
        store = await open_sqlite_store(seven.db, readonly=True)
        try:
            return [(s.id, s.source, s.status) for s in await store.sessions()]
        finally:
            await store.close()

    assert asyncio.run(sessions()) == [
        (seven.session.id, "synthetic", "closed"),
        (seven.replay.run, "replay", "closed"),
        (seven.backtest.run, "backtest", "closed"),
    ]
    assert seven.replay.events_in == seven.backtest.events_in == seven.session.events
    assert seven.replay.events_out > 0
    assert seven.strategy.ref == STRATEGY
    assert seven.report.name == "report.html"
    assert seven.report.read_text().startswith("<!DOCTYPE html>")
    assert (seven.report.parent / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_real_capture_goes_the_same_way_with_second_bars(tmp_path: Path) -> None:
    capture = require_data(SPOT)

    result = asyncio.run(run_demo(tmp_path / "demo.sqlite", captures=[capture], report_dir=tmp_path / "report"))

    assert result.session.source == "binance-capture"
    assert list(result.strategy.config.as_dict()["timeframes"]) == CAPTURE_PARAMS["timeframes"]
    assert result.replay.events_in == result.session.events > 40_000
    assert result.backtest.metrics["trades"] >= 1
    assert result.report.is_file()


def test_cli_runs_a_capture_and_prints_the_path(tmp_path: Path) -> None:
    capture = require_data(SPOT)

    result = cli("demo", "--db", tmp_path / "c.sqlite", "--report", tmp_path / "r", "--capture", capture)

    assert result.exit_code == 0, result.output
    assert "importing 1 capture file(s)..." in result.stderr
    assert "binance-capture" in result.stdout
    assert f"report: {tmp_path / 'r' / 'report.html'}" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"this is not a capture\n", "bad.gz"),
    ],
)
def test_a_bad_capture_is_a_one_line_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    bad = tmp_path / "bad.gz"
    if content is not None:
        bad.write_bytes(content)

    result = cli("demo", "--db", tmp_path / "c.sqlite", "--report", tmp_path / "r", "--capture", bad)

    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if not line.endswith("...")]  # progress lines aside
    assert line.startswith("error: ")
    assert message in line
    assert not (tmp_path / "r").exists()
