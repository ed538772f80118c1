"""Replaying trades through the default analyzer set, against the same replay with a no-op subscriber only.

Ours: ``build_container("replay", AppConfig(db=...), analyzers=resolve("default"))``
on a copy of the trades log, plus the no-op ``Trade`` subscriber; timed is
``Runtime.run(session)``: the Replayer publishes every trade, the processor hands
it to the analyzer pipeline (the bar builder on every trade, the indicators and
the confluence score on every closed bar) and the derived events are published.

Baseline: ``benchmarks/test_replay.py``'s side, the same replay with the no-op
subscriber and no analyzers. The ratio is what the default analyzers cost a
replay (target 0.5x).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.harness import RatioCase, measure
from benchmarks.test_replay import ours as replay_side
from benchmarks.workloads import TradeWorkload
from virtuoso.analysis import resolve
from virtuoso.events import Event

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.5


def _no_op_handler(event: Event) -> None:
    return None


def test_replay_with_the_default_analyzers(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    case = RatioCase(
        "replay with the default analyzers",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=replay_side(runner, work.log, expected, analyzers=resolve("default")),
        baseline=replay_side(runner, work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_replay_with_a_no_op_processor_handler(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    """Context for the case above: what handing every event to the processor costs, with nothing to do there."""
    work = trade_workload
    expected = len(work.events) + 2
    case = RatioCase(
        "replay with a no-op processor handler",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=replay_side(runner, work.log, expected, handlers=[_no_op_handler]),
        baseline=replay_side(runner, work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
