"""The harness every benchmark case uses: our code against a raw baseline, in the same run.

A case never asserts a duration. It times two *sides* doing the same work on the
same data — ours, and a raw baseline (plain ``sqlite3``, plain ``msgspec``) — and
reports the ratio of their throughputs, which stays meaningful on a slower or a
busier machine where absolute figures do not.

Each round gives each side a fresh, empty directory. A side is a function that
prepares its work there (untimed: open files, build tables) and returns a
:class:`Prepared` whose ``run`` is the timed part and whose ``cleanup`` releases
what the preparation opened. Rounds interleave the sides — baseline, then ours —
so both see the same machine state; the best round of each side gives its
throughput (the least disturbed measurement of a fixed amount of work).

The inputs a case builds before timing (a million pre-built events, say) are
moved out of the garbage collector's sight with :func:`gc.freeze` while the
case runs: otherwise every full collection triggered by either side would walk
them, a cost of the harness (tens of ms per collection), not of the code measured.
Garbage made by the sides themselves is collected as usual. Likewise each
timed part starts after :func:`os.sync`, so that neither side pays for writing
back the files of the rounds before it.

Adding a case is writing its two sides and calling :func:`measure`::

    def test_my_case(benchmark, trade_workload, tmp_path):
        case = RatioCase("my.case", target=0.8, events=len(trade_workload.events),
                         rounds=trade_workload.scale.rounds, ours=my_side, baseline=raw_side)
        measure(benchmark, case, tmp_path)

:func:`measure` records the result in ``benchmark.extra_info`` under the keys of
:data:`EXTRA_INFO_KEYS`; ``virtuoso bench`` turns every benchmark carrying them
into one row of its report, so a new case needs no change anywhere else.

The scale comes from the environment (:meth:`Scale.from_env`):
``VIRTUOSO_BENCH_QUICK=1`` for the smoke run, ``VIRTUOSO_BENCH_EVENTS`` and
``VIRTUOSO_BENCH_ROUNDS`` to override either number.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUICK_ENV = "VIRTUOSO_BENCH_QUICK"
EVENTS_ENV = "VIRTUOSO_BENCH_EVENTS"
ROUNDS_ENV = "VIRTUOSO_BENCH_ROUNDS"

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 50_000
FULL_ROUNDS = 5

EXTRA_INFO_KEYS = ("case", "events", "rounds", "events_per_s", "baseline_per_s", "ratio", "target", "ok")
"""What :func:`measure` puts in ``benchmark.extra_info`` (plus the round times and ``load_1m``)."""


@dataclass(frozen=True)
class Scale:
    """How much work each case does: events per round and rounds per side."""

    events: int
    rounds: int
    quick: bool

    @classmethod
    def from_env(cls) -> Scale:
        """Full size, or the smoke size under ``VIRTUOSO_BENCH_QUICK=1``; either number overridable."""
        quick = os.environ.get(QUICK_ENV, "") not in ("", "0")
        events = _positive_env(EVENTS_ENV, QUICK_EVENTS if quick else FULL_EVENTS)
        rounds = _positive_env(ROUNDS_ENV, 1 if quick else FULL_ROUNDS)
        return cls(events, rounds, quick)


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    value = int(raw.replace("_", ""))
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return value


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Prepared:
    """One side of one round, ready to time: ``run`` is timed, ``cleanup`` is not."""

    run: Callable[[], object]
    cleanup: Callable[[], object] = _nothing


Side = Callable[[Path], Prepared]
"""Prepares one side's work in the fresh, empty directory it is given."""


@dataclass(frozen=True)
class RatioCase:
    """Our side against a baseline side doing the same ``events`` of work."""

    name: str
    target: float
    """The lowest acceptable ``ours / baseline`` throughput ratio."""
    events: int
    rounds: int
    ours: Side
    baseline: Side


@dataclass(frozen=True)
class RatioResult:
    """The round times of both sides of a case, and what follows from them."""

    name: str
    target: float
    events: int
    ours_s: list[float]
    baseline_s: list[float]
    load: tuple[float, float] = (0.0, 0.0)
    """The 1-minute load average before and after the case (noise from other processes shows here)."""
    unit: str = "s"
    """What ``ours_s`` and ``baseline_s`` count: seconds for every timed case; ``MiB`` for the cases that
    measure bytes on disk or peak memory, whose "events/s" is then events per MiB (see :func:`record`)."""

    @property
    def events_per_s(self) -> float:
        """Our throughput in the best round."""
        return self.events / min(self.ours_s)

    @property
    def baseline_per_s(self) -> float:
        """The baseline's throughput in its best round."""
        return self.events / min(self.baseline_s)

    @property
    def ratio(self) -> float:
        """Our throughput as a fraction of the baseline's."""
        return self.events_per_s / self.baseline_per_s

    @property
    def ok(self) -> bool:
        """Whether the ratio reaches the target."""
        return self.ratio >= self.target

    def extra_info(self) -> dict[str, Any]:
        """The conventional ``benchmark.extra_info`` record of this result."""
        return {
            "case": self.name,
            "events": self.events,
            "rounds": len(self.ours_s),
            "events_per_s": round(self.events_per_s, 1),
            "baseline_per_s": round(self.baseline_per_s, 1),
            "ratio": round(self.ratio, 4),
            "target": self.target,
            "ok": self.ok,
            "ours_seconds": [round(s, 6) for s in self.ours_s],
            "baseline_seconds": [round(s, 6) for s in self.baseline_s],
            "load_1m": [round(value, 2) for value in self.load],
            "unit": self.unit,
        }


RESULTS: list[RatioResult] = []
"""Every result of this pytest run, for the summary ``conftest.py`` prints."""


@dataclass
class _Rounds:
    """The per-round setup, timed run and teardown that pedantic mode calls."""

    case: RatioCase
    workdir: Path
    ours_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    _round: int = 0
    _pending: Prepared | None = None
    _pending_dir: Path | None = None

    def setup(self) -> tuple[tuple[Prepared], dict[str, Any]]:
        """Time one baseline round, then prepare our side (pytest-benchmark times ``run``)."""
        self.teardown()
        self._round += 1
        self.baseline_s.append(self._time_baseline())
        self._pending_dir = self._fresh("ours")
        self._pending = self.case.ours(self._pending_dir)
        os.sync()
        return (self._pending,), {}

    def run(self, prepared: Prepared) -> None:
        """Our timed part (timed here too, so results do not depend on pytest-benchmark's stats)."""
        start = time.perf_counter()
        prepared.run()
        self.ours_s.append(time.perf_counter() - start)

    def teardown(self, *_: object) -> None:
        """Release our side of the round and delete its files."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                pending.cleanup()
        finally:
            if self._pending_dir is not None:
                shutil.rmtree(self._pending_dir, ignore_errors=True)
                self._pending_dir = None

    def _time_baseline(self) -> float:
        directory = self._fresh("baseline")
        try:
            prepared = self.case.baseline(directory)
            try:
                os.sync()
                start = time.perf_counter()
                prepared.run()
                return time.perf_counter() - start
            finally:
                prepared.cleanup()
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _fresh(self, side: str) -> Path:
        directory = self.workdir / f"round{self._round}-{side}"
        directory.mkdir(parents=True)
        return directory


def measure(benchmark: Any, case: RatioCase, workdir: Path) -> RatioResult:
    """Run ``case`` for its rounds under pytest-benchmark's pedantic mode; record and return the result."""
    rounds = _Rounds(case, workdir)
    load_before = os.getloadavg()[0]
    gc.collect()
    gc.freeze()
    try:
        benchmark.pedantic(
            rounds.run, setup=rounds.setup, teardown=rounds.teardown, rounds=case.rounds, iterations=1, warmup_rounds=0
        )
    finally:
        rounds.teardown()  # pedantic skips teardown when benchmarks are disabled or a round raised
        gc.unfreeze()
    load = (load_before, os.getloadavg()[0])
    result = RatioResult(case.name, case.target, case.events, rounds.ours_s, rounds.baseline_s, load)
    benchmark.extra_info.update(result.extra_info())
    RESULTS.append(result)
    return result


def record(benchmark: Any, result: RatioResult, **extra: Any) -> RatioResult:
    """Record a result measured without :func:`measure`: against a fixed budget, or a size.

    Some of issue 21's targets are budgets, not a baseline side timed in the same
    run: a day of trades replayed in 5 s, 25 bytes a trade on disk, 400 MiB of peak
    memory. Such a result keeps the shape of a ratio case, the budget standing in
    for the baseline: ``baseline_s`` is the budget (seconds for the work, or MiB),
    ``ours_s`` what was measured in the same unit, so the ratio is budget over
    measure and ``>= 1.0`` means within budget; a size against a measured size (a
    log against its capture's gzip) is the same with a real baseline. ``extra``
    goes into ``extra_info`` beside the usual keys. The caller has run
    ``benchmark.pedantic`` around the measured work, so that pytest-benchmark
    reports the case.
    """
    benchmark.extra_info.update(result.extra_info())
    benchmark.extra_info.update(extra)
    RESULTS.append(result)
    return result


def mib(size_bytes: int) -> float:
    """``size_bytes`` in MiB (the unit of the size and memory cases)."""
    return size_bytes / 2**20


def in_memory(prepare: Callable[[], Callable[[], object] | Prepared]) -> Side:
    """A side whose work needs no files: ``prepare()`` runs untimed and returns the timed part.

    For in-memory cases (the container, say), which ignore the round's directory.
    ``prepare`` returns the timed callable, or a :class:`Prepared` when something
    must be released after the round.
    """

    def side(_: Path) -> Prepared:
        prepared = prepare()
        return prepared if isinstance(prepared, Prepared) else Prepared(run=prepared)

    return side
