"""The columnar layout of the event log against the same floors as the row layout.

Appending: ``store.writer()`` into a fresh columnar log against stdlib ``executemany``
into the minimal table (``test_store_append.py``'s floor). Reading: ``read_chunks``
of a columnar log recorded from the same trades and sealed when its session ended,
against a raw ``SELECT`` and decode of the minimal table (``test_store_read.py``'s
floor). Issue 21's targets: 1.0x and 1.5x.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks import test_store_append as append_case
from benchmarks import test_store_read as read_case
from benchmarks.harness import RatioCase, measure
from benchmarks.workloads import TradeWorkload, minimal_rows, write_log

pytestmark = pytest.mark.timeout(3600)


def test_columnar_writer(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    rows = [row for row in minimal_rows(work.log) if row[2] == "Trade"]
    case = RatioCase(
        "store.writer append (columnar layout) vs floor",
        target=append_case.TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=append_case.ours(runner, work.events, "columnar"),
        baseline=append_case.floor(rows),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_columnar_read_chunks(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    columnar_log = tmp_path / "columnar" / "events.sqlite"
    columnar_log.parent.mkdir()
    runner.run(write_log(columnar_log, work.events, "columnar"))  # sealed when its session ends
    floor_log = read_case.floor_file(work.log, tmp_path)
    case = RatioCase(
        "store.read_chunks (columnar layout, sealed) vs floor",
        target=read_case.TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=read_case.ours(runner, columnar_log, expected),
        baseline=read_case.floor(floor_log, expected),
    )
    result = measure(benchmark, case, tmp_path / "rounds")
    assert len(result.ours_s) == len(result.baseline_s) >= 1
