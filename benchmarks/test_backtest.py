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
no-op subscriber (target 0.4x). The peer, NautilusTrader's backtest engine
running the same strategy on the same trades, is run in ``test_peer_nautilus.py``.
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


def backtest_side(runner: asyncio.Runner, log: Path, expected: int, fills: list[int] | None = None) -> Side:
    """Our side: a backtest of :class:`RunningMean` over a copy of ``log``; the whole run is timed.

    Each round's fill count is appended to ``fills`` when given.
    """
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
            if fills is not None:
                fills.append(len(result.fills))

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
    assert len(result.ours_s) == len(result.baseline_s) >= 1
