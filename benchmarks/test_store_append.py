"""Appending trades through the buffered writer against raw ``sqlite3.executemany``.

Ours: ``store.writer()`` on a fresh SQLite log (session already begun), then
``write_many`` of the pre-built events and ``close`` — row building, the hash
chain, the bookkeeping and every commit included.

Baseline: stdlib ``sqlite3`` inserting the very rows our store writes into a
fresh file holding only our ``events`` table (same definition, indexes and
triggers, WAL, ``synchronous=NORMAL``), one ``executemany`` in one transaction.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.workloads import STREAM, Row, TradeWorkload, events_table_ddl, fresh_store, raw_writer, stored_rows
from virtuoso.events import Event

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.8


def ours(runner: asyncio.Runner, events: list[Event]) -> Side:
    """Our side: a fresh log is opened untimed; writing and closing the writer are timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(fresh_store(directory / "events.sqlite"))

        async def write() -> None:
            writer = store.writer()
            await writer.write_many(events)
            await writer.close()
            assert writer.written == len(events)

        return Prepared(run=lambda: runner.run(write()), cleanup=lambda: runner.run(store.close()))

    return side


def baseline(rows: list[Row], ddl: list[str]) -> Side:
    """The raw side: a fresh file with our events table; BEGIN, executemany, COMMIT are timed."""
    insert = f"INSERT INTO events VALUES ({','.join('?' * len(rows[0]))})"

    def side(directory: Path) -> Prepared:
        db = raw_writer(directory / "raw.sqlite", ddl)

        def run() -> None:
            db.execute("BEGIN")
            db.executemany(insert, rows)
            db.execute("COMMIT")

        return Prepared(run=run, cleanup=db.close)

    return side


def test_append_buffered_writer(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    rows = stored_rows(work.log, STREAM)
    assert len(rows) == len(work.events), "the baseline must insert the same rows as our store"
    case = RatioCase(
        "store.writer append",
        target=TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=ours(runner, work.events),
        baseline=baseline(rows, events_table_ddl(work.log)),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
