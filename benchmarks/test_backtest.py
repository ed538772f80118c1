"""A backtest over the trades log with a running-mean strategy, against a no-op replay of the same log.

Ours: :func:`virtuoso.backtest.run_backtest` on a copy of the trades log (1M
trades at full size) in exchange-time order, with :class:`RunningMean`: every
trade updates an exponential running mean of the price; when the price is more
than ``band_bps`` above it and the strategy is flat it buys at market, when it
is that far below and long it sells. On the benchmark's saw-tooth prices that
is about one round trip per 1,000 trades. Timed: the whole run, from opening
the run session to committing its ledger (orders, fills, positions, equity marks
each minute of exchange time) and closing it.

Baseline: ``benchmarks/test_replay.py``'s side, the replay of the same log to a
no-op subscriber (target 0.4x). The absolute figure is set against
NautilusTrader's backtest engine with a comparable running-mean strategy, about
200,000 trade ticks/s on this machine (quoted, not run here); the issue asks for
at least 1.5x that, 300,000 trades/s: ``extra_info["vs_nautilus"]``.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_replay import ours as replay_side
from benchmarks.workloads import SESSION_ID, TradeWorkload
from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, Strategy, StrategyConfig, StrategySpec, VenueConfig, run_backtest
from virtuoso.events import Event, Trade
from virtuoso.replay import ReplaySelection

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.4
NAUTILUS_TICKS_PER_S = 200_000.0
"""NautilusTrader's backtest engine with a running-mean strategy on 1M trades, on this machine (quoted)."""
TRADES_PER_S_TARGET = 1.5 * NAUTILUS_TICKS_PER_S


class RunningMeanConfig(StrategyConfig, frozen=True, kw_only=True):
    """The mean's smoothing, the band around it, and the amount one entry buys."""

    alpha: float = 0.001
    band_bps: float = 0.5
    amount: float = 0.01


class RunningMean(Strategy):
    """Buys when the price is ``band_bps`` above its running mean, sells when it is as far below."""

    Config = RunningMeanConfig

    def __init__(self, config: RunningMeanConfig | None = None) -> None:
        super().__init__(config)
        params: RunningMeanConfig = self.config  # type: ignore[assignment]
        self.alpha, self.band, self.amount = params.alpha, params.band_bps / 10_000, params.amount
        self.mean = 0.0
        self.long = False
        self.orders = 0

    def on_trade(self, event: Event, trade: Trade) -> None:
        price = trade.price
        mean = self.mean = self.mean + self.alpha * (price - self.mean) if self.mean else price
        if not self.long and price > mean * (1 + self.band):
            self.buy(self.amount)
            self.long, self.orders = True, self.orders + 1
        elif self.long and price < mean * (1 - self.band):
            self.sell(self.amount)
            self.long, self.orders = False, self.orders + 1


def backtest_side(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """Our side: a backtest of :class:`RunningMean` over a copy of ``log``; the whole run is timed."""
    spec = StrategySpec("benchmarks.test_backtest:RunningMean", RunningMean, RunningMeanConfig())
    selection = ReplaySelection(sessions=(SESSION_ID,), order="exchange-time")
    config = BacktestConfig(selection, spec, VenueConfig(initial_cash=1_000_000.0))

    def side(directory: Path) -> Prepared:
        path = directory / log.name
        shutil.copyfile(log, path)

        def run() -> None:
            result = runner.run(run_backtest(AppConfig(db=path), config))
            assert result.events_in == expected
            assert len(result.fills) > 0

        return Prepared(run=run)

    return side


def test_backtest_with_a_running_mean_strategy(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    case = RatioCase(
        "backtest, running-mean strategy",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=backtest_side(runner, work.log, expected),
        baseline=replay_side(runner, work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    benchmark.extra_info["trades_per_s_target"] = TRADES_PER_S_TARGET  # type: ignore[attr-defined]
    benchmark.extra_info["vs_nautilus"] = round(result.events_per_s / NAUTILUS_TICKS_PER_S, 2)  # type: ignore[attr-defined]
    benchmark.extra_info["nautilus_ticks_per_s"] = NAUTILUS_TICKS_PER_S  # type: ignore[attr-defined]
    assert len(result.ours_s) == len(result.baseline_s) >= 1
