"""Reading the log back as typed events against the floor: a raw ``SELECT`` of a minimal table plus msgspec.

Ours: ``store.read_chunks()`` over a read-only store of the default (columnar) layout,
its session sealed when it ended (``test_store_rows.py`` reads the row layout), every event of the log
decoded into its envelope and typed payload, in position order.

Floor: stdlib ``sqlite3`` on a file holding the same events in the minimal table
``(seq, ts, type, payload)`` (the same JSON payloads), ``SELECT`` of all of it
``ORDER BY seq`` fetched with ``fetchmany`` in chunks of the store's chunk size, each
payload decoded with a ``msgspec.json.Decoder`` of its type (``Decoder(Trade)`` for all
but the session's two lifecycle events). Issue 21's target: 1.5x the floor.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.workloads import CHUNK, TradeWorkload, minimal_log, minimal_rows, read_only
from virtuoso.events import REGISTRY
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 1.5


def copy_into(log: Path, directory: Path) -> Path:
    """A copy of ``log`` in ``directory`` (each side of each round reads its own copy)."""
    path = directory / log.name
    shutil.copyfile(log, path)
    return path


def ours(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """Our side: a copy of the log opened read-only (untimed); reading it all back is timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(copy_into(log, directory), readonly=True))

        async def read() -> None:
            count = 0
            last = 0
            async for chunk in store.read_chunks():
                assert chunk[0].position > last
                last = chunk[-1].position
                count += len(chunk)
            assert count == expected

        return Prepared(run=lambda: runner.run(read()), cleanup=lambda: runner.run(store.close()))

    return side


def floor_file(log: Path, directory: Path) -> Path:
    """The floor's file: every event of ``log`` as a minimal row, in a file of its own in ``directory``."""
    return minimal_log(directory / "floor.sqlite", minimal_rows(log))


def payload_decoders(floor: Path) -> dict[str, Callable[[bytes], Any]]:
    """A msgspec decoder per type name in the floor's file (``Decoder(Trade)`` for trades)."""
    db = read_only(floor)
    try:
        names = [name for (name,) in db.execute("SELECT DISTINCT type FROM events")]
    finally:
        db.close()
    return {name: msgspec.json.Decoder(REGISTRY.class_for(name)).decode for name in names}


def floor(floor_log: Path, expected: int) -> Side:
    """The floor: a copy of the minimal table through plain sqlite3; the SELECT, the fetches and decoding are timed."""
    decoders = payload_decoders(floor_log)

    def side(directory: Path) -> Prepared:
        db = read_only(copy_into(floor_log, directory))

        def run() -> None:
            cursor = db.execute("SELECT seq, ts, type, payload FROM events ORDER BY seq")
            count = 0
            while rows := cursor.fetchmany(CHUNK):
                payloads = [decoders[row[2]](row[3]) for row in rows]
                count += len(payloads)
            assert count == expected

        return Prepared(run=run, cleanup=db.close)

    return side


def test_read_chunks(benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    floor_log = floor_file(work.log, tmp_path)
    case = RatioCase(
        "store.read_chunks vs floor",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, expected),
        baseline=floor(floor_log, expected),
    )
    result = measure(benchmark, case, tmp_path / "rounds")
    assert len(result.ours_s) == len(result.baseline_s) >= 1
