"""Reading the log back as typed events against a raw ``SELECT`` plus msgspec decoding.

Ours: ``store.read_chunks()`` over a read-only store, every event of the log
decoded into its envelope and typed payload, in position order.

Baseline: stdlib ``sqlite3`` on the same file, ``SELECT`` of all columns
``ORDER BY position`` fetched ``fetchmany`` in chunks of the store's chunk size,
each payload decoded with a ``msgspec.json.Decoder`` of its class
(``Decoder(Trade)`` for all but the session's two lifecycle events).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.workloads import CHUNK, TradeWorkload, read_only
from virtuoso.events import REGISTRY
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.7


def _copy(log: Path, directory: Path) -> Path:
    path = directory / log.name
    shutil.copyfile(log, path)
    return path


def ours(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """Our side: a copy of the log opened read-only (untimed); reading it all back is timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(_copy(log, directory), readonly=True))

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


def payload_decoders(log: Path) -> dict[int, Callable[[bytes], Any]]:
    """A msgspec decoder per stored kind number of ``log`` (``Decoder(Trade)`` for trades)."""
    with closing(read_only(log)) as db:
        kinds = db.execute("SELECT seq, type FROM kinds").fetchall()
    return {seq: msgspec.json.Decoder(REGISTRY.class_for(type_name)).decode for seq, type_name in kinds}


def baseline(log: Path, expected: int) -> Side:
    """The raw side: the same copy through plain sqlite3; the SELECT, the fetches and decoding are timed."""
    decoders = payload_decoders(log)

    def side(directory: Path) -> Prepared:
        db = read_only(_copy(log, directory))

        def run() -> None:
            cursor = db.execute("SELECT * FROM events ORDER BY position")
            count = 0
            while rows := cursor.fetchmany(CHUNK):
                payloads = [decoders[row[4]](row[9]) for row in rows]
                count += len(payloads)
            assert count == expected

        return Prepared(run=run, cleanup=db.close)

    return side


def test_read_chunks(benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    case = RatioCase(
        "store.read_chunks",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, expected),
        baseline=baseline(work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
