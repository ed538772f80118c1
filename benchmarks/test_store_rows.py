"""The row layout of the event log (a row per event, opt-in) against the same floors as the default layout.

Appending: ``store.writer()`` into a fresh row log against stdlib ``executemany``
into the minimal table (``test_store_append.py``'s floor). Reading: ``read_chunks``
of a row log recorded from the same trades, against a raw ``SELECT`` and decode of
the minimal table (``test_store_read.py``'s floor). Issue 21's targets: 1.0x and 1.5x.
Kept beside the default (columnar) cases so the price of the switch stays in view.
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


def test_row_layout_writer(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    rows = [row for row in minimal_rows(work.log) if row[2] == "Trade"]
    case = RatioCase(
        "store.writer append (row layout) vs floor",
        target=append_case.TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=append_case.ours(runner, work.events, "rows"),
        baseline=append_case.floor(rows),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_row_layout_read_chunks(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    row_log = tmp_path / "rows" / "events.sqlite"
    row_log.parent.mkdir()
    runner.run(write_log(row_log, work.events, "rows"))
    floor_log = read_case.floor_file(work.log, tmp_path)
    case = RatioCase(
        "store.read_chunks (row layout) vs floor",
        target=read_case.TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=read_case.ours(runner, row_log, expected),
        baseline=read_case.floor(floor_log, expected),
    )
    result = measure(benchmark, case, tmp_path / "rounds")
    assert len(result.ours_s) == len(result.baseline_s) >= 1
