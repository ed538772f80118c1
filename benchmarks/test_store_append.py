"""Appending trades through the buffered writer against the floor: ``executemany`` into a minimal table.

Ours: ``store.writer()`` on a fresh SQLite log of the default (columnar) layout
(session already begun; ``test_store_rows.py`` times the row layout), then
``write_many`` of the pre-built events and ``close`` — row building, the hash
chain, the bookkeeping and every commit included.

Floor: stdlib ``sqlite3`` inserting ``(seq, ts, type, payload)`` rows, the payloads
the very JSON our store wrote for the same trades, into a fresh file holding only
the minimal table ``(seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, payload BLOB)``
(WAL, ``synchronous=NORMAL`` like our writer), one ``executemany`` in one transaction.
Issue 21's target: at least as fast as the floor (1.0x).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.workloads import (
    MINIMAL_INSERT,
    MINIMAL_TABLE,
    Layout,
    Row,
    TradeWorkload,
    fresh_store,
    minimal_rows,
    raw_writer,
)
from virtuoso.events import Event

pytestmark = pytest.mark.timeout(3600)

TARGET = 1.0


def ours(runner: asyncio.Runner, events: list[Event], layout: Layout | None = None) -> Side:
    """Our side: a fresh log (in ``layout``, by default the store's) is opened untimed; writing and closing the
    writer are timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(fresh_store(directory / "events.sqlite", layout))

        async def write() -> None:
            writer = store.writer()
            await writer.write_many(events)
            await writer.close()
            assert writer.written == len(events)

        return Prepared(run=lambda: runner.run(write()), cleanup=lambda: runner.run(store.close()))

    return side


def floor(rows: list[Row]) -> Side:
    """The floor: a fresh file with the minimal table; BEGIN, executemany, COMMIT are timed."""

    def side(directory: Path) -> Prepared:
        db = raw_writer(directory / "floor.sqlite", [MINIMAL_TABLE])

        def run() -> None:
            db.execute("BEGIN")
            db.executemany(MINIMAL_INSERT, rows)
            db.execute("COMMIT")

        return Prepared(run=run, cleanup=db.close)

    return side


def test_append_buffered_writer(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    rows = [row for row in minimal_rows(work.log) if row[2] == "Trade"]
    assert len(rows) == len(work.events), "the floor must insert one row per trade our store appends"
    case = RatioCase(
        "store.writer append vs floor",
        target=TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=ours(runner, work.events),
        baseline=floor(rows),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
