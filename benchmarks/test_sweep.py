"""A sweep of 64 short backtests on two local processes, against the same sweep run serially in one process.

Work: :func:`virtuoso.sweep.run_sweep` of :class:`MovingAverageCross` over an
8 x 8 grid (``fast`` 2..9, ``slow`` 10..17, 1-second bars) on a demo session
of 8,000 synthetic trades (about 7 minutes of market): 64 backtests of about
50 ms each (quick mode: 16 backtests of a 2,000-trade session).
Both sides do all of a sweep's work, timed: planning against the log, every
backtest, the results table, its Parquet copy and the heat map.

Ours: :class:`~virtuoso.sweep.LocalExecutor` with 2 processes, started and
warmed up before timing (a pool is started once per sweep; its start is
reported as ``pool_start_s``). Baseline: :class:`~virtuoso.sweep.SerialExecutor`,
the backtests one after another in this process. The ratio is their
throughputs in tasks/s; target 1.7x.

``extra_info["dask_overhead_ms"]``: the same tasks through a Dask
``LocalCluster`` of one single-threaded worker process (loopback), less the
same tasks run serially here, per task: what Dask's scheduling, serialization
and transport add to each task (target under 50 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from virtuoso.demo import build_demo_log
from virtuoso.sweep import (
    DaskExecutor,
    Executor,
    Grid,
    LocalExecutor,
    SerialExecutor,
    SweepConfig,
    Task,
    plan_sweep,
    run_sweep,
)
from virtuoso.synthetic import MarketConfig

pytestmark = pytest.mark.timeout(1800)

TARGET = 1.7
DASK_OVERHEAD_TARGET_MS = 50.0
DEMO_HOURS = 1.6
"""About 8,000 synthetic trades."""
QUICK_DEMO_HOURS = 0.4
FULL_TASKS = 64
QUICK_TASKS = 16


LOOPBACK_ANY_PORT = "127.0.0.1:0"
"""The scheduler's HTTP server (health and metrics routes; there is no dashboard without bokeh) on a free
loopback port: with ``dashboard_address=None`` it still tries 8787 and warns when another cluster holds it."""


def sweep_config(log: Path, tasks: int) -> SweepConfig:
    """The sweep of ``tasks`` configurations (a square grid of ``fast`` x ``slow``)."""
    side = int(tasks**0.5)
    grid = Grid.from_mapping({
        "grid": {
            "timeframe": "1s", "amount": 0.1,
            "fast": {"from": 2, "to": 1 + side}, "slow": {"from": 10, "to": 9 + side},
        }
    })  # fmt: skip
    return SweepConfig(log, "virtuoso.strategies:MovingAverageCross", grid)


def sweep_side(config: SweepConfig, tasks: int, executor: Executor | None) -> Side:
    """Runs the whole sweep into the round's directory on ``executor`` (a fresh serial one when ``None``)."""

    def side(directory: Path) -> Prepared:
        def run() -> None:
            report = run_sweep(config, executor or SerialExecutor(), directory / "out")
            assert (report.ran, report.failed) == (tasks, 0)

        return Prepared(run=run)

    return side


def warmed_pool(config: SweepConfig, workers: int) -> tuple[LocalExecutor, float]:
    """A started pool that has run a few tasks (imports done); and how long starting it took."""
    start = time.perf_counter()
    pool = LocalExecutor(workers).start()
    elapsed = time.perf_counter() - start
    plan = asyncio.run(_plan(config))
    assert all(o.status == "ok" for o in pool.run(plan[: 2 * workers]))
    return pool, elapsed


async def _plan(config: SweepConfig) -> list[Task]:
    return list((await plan_sweep(config)).tasks)


def dask_overhead_ms(config: SweepConfig, tasks: int, rounds: int) -> float:
    """Per task: the best round through a one-worker LocalCluster less the best serial round here
    (rounds interleaved, so that both see the same machine)."""
    import distributed  # noqa: PLC0415  # a dev dependency (the sweep-dask extra)

    plan = asyncio.run(_plan(config))
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=LOOPBACK_ANY_PORT
    )
    serial, clustered = [], []
    with cluster, distributed.Client(cluster) as client:
        executor = DaskExecutor(client=client)
        list(executor.run(plan[:2]))  # the worker's imports
        for _ in range(rounds):
            serial.append(_timed(lambda: list(SerialExecutor().run(plan))))
            clustered.append(_timed(lambda: list(executor.run(plan))))
    return (min(clustered) - min(serial)) / tasks * 1000


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def test_sweep_on_two_processes_against_one(benchmark: object, scale: Scale, tmp_path: Path) -> None:
    tasks = QUICK_TASKS if scale.quick else FULL_TASKS
    log = tmp_path / "demo.sqlite"
    hours = QUICK_DEMO_HOURS if scale.quick else DEMO_HOURS
    asyncio.run(build_demo_log(log, 7, MarketConfig(hours=hours)))
    config = sweep_config(log, tasks)
    pool, started_s = warmed_pool(config, 2)
    with pool:
        case = RatioCase(
            "sweep, 2 local processes vs 1",
            target=TARGET,
            events=tasks,
            rounds=scale.rounds,
            ours=sweep_side(config, tasks, pool),
            baseline=sweep_side(config, tasks, None),
        )
        measure(benchmark, case, tmp_path / "rounds")
    overhead = dask_overhead_ms(config, tasks, scale.rounds)
    benchmark.extra_info["pool_start_s"] = round(started_s, 3)  # type: ignore[attr-defined]
    benchmark.extra_info["dask_overhead_ms"] = round(overhead, 2)  # type: ignore[attr-defined]
    benchmark.extra_info["dask_overhead_target_ms"] = DASK_OVERHEAD_TARGET_MS  # type: ignore[attr-defined]
    benchmark.extra_info["dask_overhead_ok"] = overhead < DASK_OVERHEAD_TARGET_MS  # type: ignore[attr-defined]
