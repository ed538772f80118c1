"""Against the peer a user would pick instead: NautilusTrader's ``BacktestEngine`` on the same trades, run here.

Both cases time our side and NautilusTrader's in the same rounds, interleaved
(NautilusTrader, then ours, each round), and keep each side's best round
(``benchmarks/harness.py``); rounds are at most 3.

* ``replay vs NautilusTrader (no-op)``: ours is ``test_replay.py``'s replay of the
  trades log to a no-op subscriber; theirs is ``engine.run()`` with a strategy that
  subscribes to the trade ticks and does nothing (``peer_nautilus.NoOp``).
  Issue 21's target: 4x.
* ``backtest vs NautilusTrader (running mean)``: ours is ``test_backtest.py``'s
  running-mean backtest, theirs the same strategy in NautilusTrader
  (``peer_nautilus.RunningMean``). Issue 21's target: 3x. Both sides' fill
  counts are in ``extra_info`` (they trade on the same signal; the venues'
  fill rules differ in detail).

The unit is the trade (N of them; our side also reads the session's two lifecycle
events). Building NautilusTrader's ticks, its engine and adding the data are not
timed, nor opening our store or building our container.

NautilusTrader comes from the optional ``bench-peers`` extra (``make bench``
installs it, ``make test`` does not); without it these cases are skipped, and
say so.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_backtest import backtest_side
from benchmarks.test_replay import ours as replay_side
from benchmarks.workloads import TradeWorkload

pytest.importorskip(
    "nautilus_trader",
    reason="NautilusTrader is not installed: the peer cases need the bench-peers extra"
    " (pip install -e '.[bench-peers]'; make bench installs it)",
)

from benchmarks import peer_nautilus  # after the skip: it imports nautilus_trader

pytestmark = pytest.mark.timeout(3600)

NO_OP_TARGET = 4.0
RUNNING_MEAN_TARGET = 3.0
MAX_ROUNDS = 3


@pytest.fixture(scope="module")
def ticks(trade_workload: TradeWorkload) -> list[Any]:
    """The workload's trades as NautilusTrader trade ticks, built once."""
    return peer_nautilus.trade_ticks(trade_workload.events, peer_nautilus.instrument())


def nautilus(ticks: list[Any], strategy: type[peer_nautilus.NoOp], fills: list[int] | None = None) -> Side:
    """NautilusTrader's side: a fresh engine with ``strategy`` (untimed); ``engine.run()`` is timed."""
    on = peer_nautilus.instrument()

    def side(_: Path) -> Prepared:
        instance = strategy(on.id)
        engine = peer_nautilus.engine_with(ticks, on, instance)

        def run() -> None:
            peer_nautilus.run(engine)
            assert instance.ticks == len(ticks)
            if fills is not None:
                fills.append(peer_nautilus.fills(engine))

        return Prepared(run=run, cleanup=engine.dispose)

    return side


def test_replay_against_nautilus_no_op(
    benchmark: Any, runner: asyncio.Runner, trade_workload: TradeWorkload, ticks: list[Any], tmp_path: Path
) -> None:
    work = trade_workload
    case = RatioCase(
        "replay vs NautilusTrader (no-op)",
        target=NO_OP_TARGET,
        events=len(ticks),
        rounds=min(work.scale.rounds, MAX_ROUNDS),
        ours=replay_side(runner, work.log, len(work.events) + 2),
        baseline=nautilus(ticks, peer_nautilus.NoOp),
    )
    result = measure(benchmark, case, tmp_path)
    benchmark.extra_info["peer"] = f"nautilus_trader {_version()}"
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_backtest_against_nautilus_running_mean(
    benchmark: Any, runner: asyncio.Runner, trade_workload: TradeWorkload, ticks: list[Any], tmp_path: Path
) -> None:
    work = trade_workload
    our_fills: list[int] = []
    their_fills: list[int] = []
    case = RatioCase(
        "backtest vs NautilusTrader (running mean)",
        target=RUNNING_MEAN_TARGET,
        events=len(ticks),
        rounds=min(work.scale.rounds, MAX_ROUNDS),
        ours=backtest_side(runner, work.log, len(work.events) + 2, our_fills),
        baseline=nautilus(ticks, peer_nautilus.RunningMean, their_fills),
    )
    result = measure(benchmark, case, tmp_path)
    benchmark.extra_info.update(
        {"peer": f"nautilus_trader {_version()}", "fills": our_fills[:1], "peer_fills": their_fills[:1]}
    )
    assert our_fills
    assert their_fills
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def _version() -> str:
    return version("nautilus_trader")
