"""Measuring a pipeline: an untimed warm-up, then rounds of (floor, pipeline) on a scratch copy of the log.

The pipeline runs the way ``virtuoso replay`` or ``virtuoso backtest`` runs it
(:func:`~virtuoso.replay.replay_run` or :func:`~virtuoso.backtest.run_backtest`,
the container-wired path, writing its run into the log), with a
:class:`~virtuoso.timing.StageTimer`. Writing is part of what is measured, so the
rounds run on a copy of the log in a scratch folder (SQLite's online backup): the
log given is only read.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Any

from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, VenueConfig, run_backtest
from virtuoso.bench._figures import PipelineFigures, stage_figures, stage_spreads, stage_units
from virtuoso.bench._spec import PipelineSpec
from virtuoso.errors import StoreError, UsageError
from virtuoso.replay import AnalyzerSpec, ReplayOptions, ReplaySelection, RunConfig, replay_run, versions
from virtuoso.store import EventFilter, lifecycle_stream, open_sqlite_store
from virtuoso.timing import StageTimer

STAGE_NAMES = {
    "read": "read+decode",
    "ProcessorFeed": "processor",
    "BacktestEngine": "engine",
}
"""Timer stages shown under another name (the bus names a subscriber's stage after its subscription)."""
FLOOR_READS = 3
FLOOR_CPU_NS = 2_000_000_000
"""Reads of the session per floor measurement: up to three, fewer once they took 2 s of CPU (a large session
is sampled enough by one read)."""


@dataclass(frozen=True)
class _Round:
    total_ns: int
    cpu_ns: int
    stages: dict[str, int]
    calls: dict[str, int]
    events: int
    events_out: int
    waits: dict[str, tuple[int, int]]

    def units(self, floor_cpu_ns: int) -> dict[str, float]:
        """Each stage's CPU time over the floor's, estimated: a waiting stage (the read, the writer's commits)
        gets the process CPU of its windows less what the stages that ran meanwhile took; every other stage
        its wall time at the CPU rate of the time outside those windows, when nothing waited. (Shares of wall
        time would hand the waits' stretch on a busy machine to whichever stage waited.)"""
        waited = sum(ns + self.waits[name][1] for name, ns in self.stages.items() if name in self.waits)
        outside_wall = self.total_ns - waited
        outside_cpu = self.cpu_ns - sum(cpu for cpu, _ in self.waits.values())
        rate = outside_cpu / outside_wall if outside_wall > 0 and outside_cpu > 0 else self.cpu_ns / self.total_ns
        cpu = {
            name: max(self.waits[name][0] - self.waits[name][1] * rate, 0.0) if name in self.waits else ns * rate
            for name, ns in self.stages.items()
        }
        scale = self.cpu_ns / (sum(cpu.values()) or 1.0) / max(floor_cpu_ns, 1)
        return {name: value * scale for name, value in cpu.items()}


async def bench_pipeline(
    db: Path, spec: PipelineSpec, *, rounds: int = 5, scratch: Path | None = None
) -> PipelineFigures:
    """Benchmark ``spec`` on session ``spec.session`` of the log ``db`` (see the module): an untimed
    warm-up, then ``rounds`` of (floor, pipeline); the figures of the median round, judged by its CPU
    time over that of the floor measured just before it. ``scratch`` is where the copy of the log goes
    (a temporary folder by default).
    """
    return (await bench_pipelines(db, [spec], rounds=rounds, scratch=scratch))[0]


async def bench_pipelines(
    db: Path, specs: Sequence[PipelineSpec], *, rounds: int = 5, scratch: Path | None = None
) -> list[PipelineFigures]:
    """Benchmark several pipelines on one session **interleaved**: each round measures the floor, then
    runs every pipeline once, so all of them see the same machine (two versions of an analyzer compared
    this way are not told apart by the machine's load changing between two runs). One figures per spec.
    """
    if rounds < 1:
        raise UsageError(f"rounds must be >= 1, not {rounds}")
    benches: list[PipelineBench] = []
    try:
        for spec in specs:
            benches.append(await PipelineBench.prepare(db, spec, scratch))
        for bench in benches:
            await bench.round()  # the warm-up
            bench.forget()
        for _ in range(rounds):
            await benches[0].floor()
            for bench in benches:
                bench.share_floor(benches[0])
                await bench.round()
        return [bench.figures() for bench in benches]
    finally:
        for bench in benches:
            bench.close()


class PipelineBench:
    """A benchmark in progress on a scratch copy of a log: :meth:`floor` and :meth:`round` as often as
    wanted, then :meth:`figures`; :meth:`close` removes the copy. (The ``pipeline_benchmark`` pytest
    fixture drives one of these from pytest-benchmark's rounds.)"""

    def __init__(self, folder: Path, copy: Path, spec: PipelineSpec) -> None:
        self._folder = folder
        self._copy = copy
        self.spec = spec
        self._analyzers = spec.analyzer_specs()
        self._timer = StageTimer()
        self._floors: list[tuple[int, int]] = []
        self._rounds: list[_Round] = []

    @classmethod
    async def prepare(cls, db: Path, spec: PipelineSpec, scratch: Path | None = None) -> PipelineBench:
        """Copy the log ``db`` into a new folder under ``scratch`` and find the session ``spec`` names."""
        if not db.is_file():  # noqa: ASYNC240 -- one stat before any work starts
            raise UsageError(f"no such event log ({db})")
        folder = Path(tempfile.mkdtemp(prefix="virtuoso-bench-", dir=scratch))
        try:
            copy = folder / "log.sqlite"
            _copy_log(db, copy)
            spec = replace(spec, session=await _session_id(copy, spec.session, db))
            return cls(folder, copy, spec)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    async def floor(self) -> None:
        """Measure the floor once: the session read and decoded alone."""
        self._floors.append(await _floor(self._copy, self.spec.session))

    async def round(self) -> None:
        """Run the pipeline once, its stages timed."""
        self._rounds.append(await _pipeline_round(self._copy, self.spec, self._analyzers, self._timer))

    def share_floor(self, other: PipelineBench) -> None:
        """Take the floor ``other`` measured last as this one's next (interleaved benchmarks of one session)."""
        if other is not self:
            self._floors.append(other._floors[-1])

    def forget(self) -> None:
        """Drop what was measured so far (after a warm-up)."""
        self._floors.clear()
        self._rounds.clear()

    def figures(self) -> PipelineFigures:
        """The figures of the median round (by its CPU time over the CPU time of the floor before it)."""
        if not self._rounds or not self._floors:
            raise UsageError("a pipeline benchmark needs at least one floor and one round measured")
        return _figures(self.spec, self._rounds, self._floors)

    def close(self) -> None:
        """Remove the scratch copy of the log."""
        shutil.rmtree(self._folder, ignore_errors=True)


def _copy_log(source: Path, target: Path) -> None:
    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            writer = sqlite3.connect(target)
            try:
                reader.backup(writer)
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot copy the event log for the benchmark: {exc} ({source})") from exc


async def _session_id(db: Path, session: str, named: Path) -> str:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return (await store.session(session)).id
    except StoreError as exc:
        raise UsageError(f"{exc} ({named})") from None
    finally:
        await store.close()


async def _floor(db: Path, session: str) -> tuple[int, int]:
    """Reading and decoding the session alone, in the chunks a replay reads: (wall, CPU) nanoseconds, the
    least-CPU of up to :data:`FLOOR_READS` reads (the floor is short next to a round, so it is sampled more)."""
    store = await open_sqlite_store(db, readonly=True)
    try:
        reads: list[tuple[int, int]] = []
        while len(reads) < FLOOR_READS and sum(r[1] for r in reads) < FLOOR_CPU_NS:
            began, cpu = perf_counter_ns(), process_time_ns()
            async for _ in store.read_chunks(EventFilter(session=session), ReplayOptions().chunk_size):
                pass
            reads.append((perf_counter_ns() - began, process_time_ns() - cpu))
        return min(reads, key=lambda r: r[1])
    finally:
        await store.close()


async def _pipeline_round(db: Path, spec: PipelineSpec, specs: tuple[AnalyzerSpec, ...], timer: StageTimer) -> _Round:
    config = AppConfig(db=db, workers=spec.workers)
    cpu = process_time_ns()
    timer.reset()
    if spec.strategy is None:
        selection = ReplaySelection(sessions=(spec.session,))
        result = await replay_run(config, RunConfig(selection, specs, spec.seed), force=True, timer=timer)
        events, events_out = result.events_in, result.events_out
    else:
        selection = ReplaySelection(sessions=(spec.session,), order="exchange-time")
        backtest = BacktestConfig(selection, spec.strategy, VenueConfig(), specs, spec.seed)
        outcome = await run_backtest(config, backtest, force=True, timer=timer)
        events, events_out = outcome.events_in, -1
    timer.stop()
    cpu = process_time_ns() - cpu
    if events_out < 0:
        events_out = await _derived_events(db, outcome.run)
    totals, calls = _named(timer)
    waits = {STAGE_NAMES.get(name, name): value for name, value in timer.waits().items()}
    return _Round(timer.elapsed_ns(), cpu, totals, calls, events, events_out, waits)


async def _derived_events(db: Path, run: str) -> int:
    """What a backtest run wrote (its lifecycle events aside): counted after the round, untimed."""
    store = await open_sqlite_store(db, readonly=True)
    try:
        info = await store.session(run)
    finally:
        await store.close()
    lifecycle = lifecycle_stream(info.id)
    return sum(stats.events for name, stats in info.streams.items() if name != lifecycle)


def _named(timer: StageTimer) -> tuple[dict[str, int], dict[str, int]]:
    totals: dict[str, int] = {}
    calls: dict[str, int] = {}
    for stage, ns in timer.totals().items():
        name = STAGE_NAMES.get(stage, stage)
        totals[name] = totals.get(name, 0) + ns
        calls[name] = calls.get(name, 0) + timer.calls(stage)
    return totals, calls


def _figures(spec: PipelineSpec, measured: list[_Round], floors: list[tuple[int, int]]) -> PipelineFigures:
    # Each round is judged against the floor measured just before it (the same machine, the same
    # neighbours), by CPU time (time-slicing by other processes stretches wall time, not CPU time);
    # the round shown is the one whose ratio is the median, which one disturbed round cannot move.
    pairs = sorted(zip(measured, floors, strict=False), key=lambda p: p[0].cpu_ns / max(p[1][1], 1))
    best, (floor, floor_cpu) = pairs[(len(pairs) - 1) // 2]
    units = [r.units(f[1]) for r, f in pairs]
    in_order = [{**r.units(f[1]), "total": r.cpu_ns / max(f[1], 1)} for r, f in zip(measured, floors, strict=False)]
    events = max(best.events, 1)
    return PipelineFigures(
        session=spec.session,
        events=best.events,
        events_out=best.events_out,
        rounds=len(measured),
        total_ns=best.total_ns,
        floor_ns=floor,
        total_cpu_ns=best.cpu_ns,
        floor_cpu_ns=floor_cpu,
        events_per_s=events / best.total_ns * 1e9,
        floor_per_s=events / floor * 1e9 if floor else 0.0,
        ratio=floor / best.total_ns,
        peak_rss_bytes=peak_rss_bytes(),
        stages=stage_figures(best.stages, best.calls, best.events, stage_units(units), stage_spreads(units)),
        config=spec.as_config(),
        config_hash=spec.hash(),
        versions=versions(),
        machine=machine(),
        round_totals_ns=tuple(r.total_ns for r in measured),
        floor_totals_ns=tuple(f[0] for f in floors),
        round_units=tuple(in_order),
    )


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (the benchmark's own included)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def machine() -> dict[str, Any]:
    """What the figures were measured on: platform, processor, cores, the load when they were."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "implementation": platform.python_implementation(),
    }
