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
import shutil
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_replay import ours as replay_side
from benchmarks.workloads import SESSION_ID, TradeWorkload
from virtuoso.analysis import resolve
from virtuoso.app import AppConfig, Runtime, build_container
from virtuoso.bus import EventBus
from virtuoso.events import Event, Trade
from virtuoso.replay import Replayer
from virtuoso.store import EventStore

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.5


def _nothing(event: Event) -> None:
    return None


def _no_op_handler(event: Event) -> None:
    return None


def with_analyzers(runner: asyncio.Runner, log: Path, expected: int, spec: str = "default") -> Side:
    """Our side: the replay of :func:`benchmarks.test_replay.ours` with the analyzers of ``spec`` in the run
    (``"handler"``: no analyzers, one no-op processor handler instead)."""

    def side(directory: Path) -> Prepared:
        path = directory / log.name
        shutil.copyfile(log, path)
        analyzers = resolve(spec) if spec != "handler" else []
        handlers = [_no_op_handler] if spec == "handler" else []
        container = build_container("replay", AppConfig(db=path), analyzers=analyzers, handlers=handlers)

        async def prepare() -> None:
            await container.aresolve(EventStore)
            (await container.aresolve(EventBus)).subscribe(Trade, _nothing)

        async def replay() -> None:
            async with container.scope() as scope:
                runtime = await scope.aresolve(Runtime)
                await runtime.run(SESSION_ID)
                assert isinstance(runtime.source, Replayer)
                assert runtime.source.events_in == expected

        runner.run(prepare())
        return Prepared(run=lambda: runner.run(replay()), cleanup=lambda: runner.run(container.aclose()))

    return side


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
        ours=with_analyzers(runner, work.log, expected),
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
        ours=with_analyzers(runner, work.log, expected, "handler"),
        baseline=replay_side(runner, work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
