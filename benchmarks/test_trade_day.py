"""A day of trades: a generated 2,000,000-trade Binance dump imported, replayed and backtested, against budgets.

Issue 21's targets for one day of BTCUSDT trades are absolute: the import at
500,000 trades/s or more, the replay with the default analyzers and a backtest
with ``MovingAverageCross`` each under 5 s (400,000 trades/s for 2M trades), peak
RSS under 400 MiB, and under 25 bytes a trade on disk once the session is closed.
There is no baseline side to time: each case is recorded against its budget
(:func:`benchmarks.harness.record`), a ratio of 1.0 or more meaning within it.

The day (``benchmarks/trade_day.py``) is generated once, seeded, and cached under
``out/bench-data/`` of the checkout (``VIRTUOSO_BENCH_DATA`` elsewhere); not in
the repository. Every job runs in a fresh child process, which times the job itself
and reports its own peak RSS: a parent that already holds a million events would
otherwise be measured. ``--quick`` uses a day of 50,000 trades
(``VIRTUOSO_BENCH_DAY_TRADES`` sets any size); rounds per case are
``VIRTUOSO_BENCH_DAY_ROUNDS`` (default 1: a round is seconds to minutes here, and
the budgets are far from the figures).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import RatioResult, Scale, mib, record
from benchmarks.trade_day import FILE_STEM, write_day_zip

pytestmark = pytest.mark.timeout(3600)

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "VIRTUOSO_BENCH_DATA"
TRADES_ENV = "VIRTUOSO_BENCH_DAY_TRADES"
ROUNDS_ENV = "VIRTUOSO_BENCH_DAY_ROUNDS"
FULL_TRADES = 2_000_000
QUICK_TRADES = 50_000
SEED = 21
GENERATOR_VERSION = 1
"""Part of the cache key: bump it when ``trade_day.day_rows`` changes what it draws."""

IMPORT_PER_S = 500_000
DAY_SECONDS = 5.0
DAY_PER_S = FULL_TRADES / DAY_SECONDS
"""A full day in 5 s: the rate the replay and backtest budgets ask for, whatever the day's size."""
RSS_BUDGET_MIB = 400.0
BYTES_PER_TRADE = 25

PEAKS: dict[str, float] = {}
"""Peak RSS (MiB) of each job's children in this run, for the peak RSS case."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    value = int(raw.replace("_", "")) if raw else default
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return value


@dataclass(frozen=True)
class Day:
    """The day the cases share: its size, its zip, the rounds per case, and a log it was imported into once."""

    trades: int
    rounds: int
    zip: Path
    log: Path
    imported: dict[str, Any]
    """The report of that first import (a child's JSON: events, seconds, peak RSS)."""


def cached_day_zip(trades: int) -> Path:
    """The day's zip, generated once per size and seed and cached (written aside, then renamed into place)."""
    cache = Path(os.environ.get(DATA_ENV) or REPO / "out" / "bench-data")
    folder = cache / f"day-{trades}-seed{SEED}-v{GENERATOR_VERSION}"
    path = folder / f"{FILE_STEM}.zip"
    if not path.is_file():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        write_day_zip(partial, trades, SEED)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return path


@pytest.fixture(scope="module")
def day(scale: Scale, tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The day (2,000,000 trades, 50,000 with --quick), imported once in a child into a log the cases copy."""
    trades = _env_int(TRADES_ENV, QUICK_TRADES if scale.quick else FULL_TRADES)
    zip_path = cached_day_zip(trades)
    log = tmp_path_factory.mktemp("trade-day") / "day.sqlite"
    imported = run_child("import", str(zip_path), str(log))
    assert imported["events"] == trades, f"the import wrote {imported['events']} trades, not {trades}"
    return Day(trades, _env_int(ROUNDS_ENV, 1), zip_path, log, imported)


def run_child(*args: str) -> dict[str, Any]:
    """``python -m benchmarks.trade_day ARGS`` in a fresh process; its JSON report."""
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.trade_day", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if child.returncode != 0:
        raise AssertionError(f"benchmarks.trade_day {' '.join(args)} failed:\n{child.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(child.stdout)
    return report


def _note_peak(job: str, reports: list[dict[str, Any]]) -> float:
    peak = max(float(report["peak_rss_mib"]) for report in reports)
    PEAKS[job] = peak
    return peak


def fold_wal(log: Path) -> int:
    """Fold the write-ahead log into ``log`` and return the file's size: what the log takes on disk."""
    with closing(sqlite3.connect(log, isolation_level=None)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = log.with_name(log.name + "-wal")
    return log.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _time_jobs(benchmark: Any, job: str, log: Path, rounds: int, workdir: Path) -> list[dict[str, Any]]:
    """``rounds`` children running ``job`` on a fresh copy of ``log`` each (the copy is not timed)."""
    reports: list[dict[str, Any]] = []

    def rounds_of_children() -> None:
        for index in range(rounds):
            folder = workdir / f"{job}-{index}"
            folder.mkdir()
            copy = folder / log.name
            shutil.copyfile(log, copy)
            try:
                reports.append(run_child(job, str(copy)))
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    benchmark.pedantic(rounds_of_children, rounds=1, iterations=1)
    return reports


def _cpu(reports: list[dict[str, Any]]) -> list[float]:
    """The children's CPU seconds: on a shared machine, a better guide than their wall time (not judged)."""
    return [float(report["cpu_seconds"]) for report in reports]


def _budget(name: str, trades: int, seconds: list[float], per_s: float, load: tuple[float, float]) -> RatioResult:
    return RatioResult(name, 1.0, trades, seconds, [trades / per_s], load)


def test_import_a_day_of_trades(benchmark: Any, day: Day, tmp_path: Path) -> None:
    load = os.getloadavg()[0]
    reports = [day.imported]

    def more_imports() -> None:
        for index in range(day.rounds - 1):
            log = tmp_path / f"import-{index}.sqlite"
            reports.append(run_child("import", str(day.zip), str(log)))
            log.unlink()

    benchmark.pedantic(more_imports, rounds=1, iterations=1)
    seconds = [float(report["seconds"]) for report in reports]
    load_range = (load, os.getloadavg()[0])
    result = _budget("day of trades: import binance-vision", day.trades, seconds, IMPORT_PER_S, load_range)
    extra = {"cpu_seconds": _cpu(reports), "budget_trades_per_s": IMPORT_PER_S}
    record(benchmark, result, peak_rss_mib=_note_peak("import", reports), **extra)
    assert all(report["events"] == day.trades for report in reports)


def test_replay_a_day_with_the_default_analyzers(benchmark: Any, day: Day, tmp_path: Path) -> None:
    load = os.getloadavg()[0]
    reports = _time_jobs(benchmark, "replay", day.log, day.rounds, tmp_path)
    seconds = [float(report["seconds"]) for report in reports]
    load_range = (load, os.getloadavg()[0])
    result = _budget("day of trades: replay, default analyzers", day.trades, seconds, DAY_PER_S, load_range)
    extra = {"cpu_seconds": _cpu(reports), "budget_seconds_for_2m": DAY_SECONDS}
    record(benchmark, result, peak_rss_mib=_note_peak("replay", reports), **extra)
    assert all(report["events"] >= day.trades for report in reports)


def test_backtest_a_day_with_moving_average_cross(benchmark: Any, day: Day, tmp_path: Path) -> None:
    load = os.getloadavg()[0]
    reports = _time_jobs(benchmark, "backtest", day.log, day.rounds, tmp_path)
    seconds = [float(report["seconds"]) for report in reports]
    load_range = (load, os.getloadavg()[0])
    result = _budget("day of trades: backtest, MovingAverageCross", day.trades, seconds, DAY_PER_S, load_range)
    extra = {"fills": reports[0]["fills"], "cpu_seconds": _cpu(reports), "budget_seconds_for_2m": DAY_SECONDS}
    record(benchmark, result, peak_rss_mib=_note_peak("backtest", reports), **extra)
    assert all(report["events"] >= day.trades for report in reports)


def test_bytes_a_trade_in_a_closed_session(benchmark: Any, day: Day) -> None:
    load = os.getloadavg()[0]
    size = benchmark.pedantic(fold_wal, args=(day.log,), rounds=1, iterations=1)
    budget = mib(BYTES_PER_TRADE * day.trades)
    result = RatioResult(
        "store bytes: trades, closed session", 1.0, day.trades, [mib(size)], [budget], (load, load), unit="MiB"
    )
    record(
        benchmark,
        result,
        bytes_per_event=round(size / day.trades, 1),
        zip_bytes_per_event=round(day.zip.stat().st_size / day.trades, 1),
        budget_bytes_per_event=BYTES_PER_TRADE,
    )


def test_peak_rss_of_a_day(benchmark: Any, day: Day) -> None:
    if not PEAKS:
        pytest.skip("no day-of-trades job ran in this session (select them with this case: -k day)")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    worst = max(PEAKS.values())
    load = os.getloadavg()[0]
    result = RatioResult("day of trades: peak RSS", 1.0, day.trades, [worst], [RSS_BUDGET_MIB], (load, load), "MiB")
    record(benchmark, result, peak_rss_mib=dict(PEAKS), budget_mib=RSS_BUDGET_MIB)
