"""Replaying a session to a no-op subscriber against a raw ``SELECT`` plus msgspec decoding of the same rows.

Ours: ``build_container("replay", AppConfig(db=...))`` on a copy of the trades log,
a no-op subscriber on ``Trade``; timed is ``Runtime.run(session)`` in a fresh
scope: the Replayer reads the session in position order, moves the ReplayClock
to each event's ``ts_recv`` and publishes every event on the bus.

Baseline: the read benchmark's raw side (``benchmarks/test_store_read.py``):
stdlib ``sqlite3``, ``SELECT * ... ORDER BY position``, ``fetchmany`` and a
``msgspec.json.Decoder`` per payload class.

The figure is also set against NautilusTrader's backtest engine with a no-op
strategy on the same trades, measured at about 220,000 trade ticks/s on this
machine (quoted, not run here): ``extra_info["vs_nautilus"]``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_store_read import baseline
from benchmarks.workloads import SESSION_ID, TradeWorkload
from virtuoso.app import AnalyzerRecipe, AppConfig, EventHandler, Runtime, build_container
from virtuoso.bus import EventBus
from virtuoso.events import Event, Trade
from virtuoso.replay import Replayer
from virtuoso.store import EventStore

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.7
NAUTILUS_TICKS_PER_S = 220_000.0
"""NautilusTrader's backtest engine, no-op strategy, the same 1M trades, on this machine (quoted)."""


def _nothing(event: Event) -> None:
    return None


def ours(
    runner: asyncio.Runner,
    log: Path,
    expected: int,
    *,
    analyzers: Sequence[AnalyzerRecipe] = (),
    handlers: Sequence[EventHandler] = (),
) -> Side:
    """Our side: the container built and the store opened untimed; the replay of the session is timed.

    ``analyzers`` and ``handlers`` go to ``build_container`` (none: the replay alone, to a no-op subscriber).
    """

    def side(directory: Path) -> Prepared:
        path = directory / log.name
        shutil.copyfile(log, path)
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


def test_replay_to_a_no_op_subscriber(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    case = RatioCase(
        "replay to a no-op subscriber",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, expected),
        baseline=baseline(work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    benchmark.extra_info["vs_nautilus"] = round(result.events_per_s / NAUTILUS_TICKS_PER_S, 2)  # type: ignore[attr-defined]
    benchmark.extra_info["nautilus_ticks_per_s"] = NAUTILUS_TICKS_PER_S  # type: ignore[attr-defined]
    assert len(result.ours_s) == len(result.baseline_s) >= 1
