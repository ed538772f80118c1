"""``store.to_frame`` of the trades against the floor: a raw ``SELECT`` of a minimal table plus msgspec decoding.

Ours: ``store.to_frame(types="Trade")`` over a read-only store: every trade of the
log as one typed DataFrame (envelope, UTC datetimes, payload columns).

Floor: the read floor of ``test_store_read.py`` restricted to the trades: stdlib
``sqlite3`` on a file holding the same events in the minimal table
``(seq, ts, type, payload)``, ``SELECT ... WHERE type = 'Trade' ORDER BY seq``
fetched in chunks of 5,000, each payload decoded by ``msgspec.json.Decoder(Trade)``.
No frame is built: the floor is the least a reader of typed trades does, and a
store that keeps its columns (issue 21) should hand them over faster than that.
Issue 21's target: 5x the floor.

The columnar case reads a columnar log of the same trades, committed 500 at a
time (a live recording's commits) and sealed into segments when its session
ended: what a closed session holds. Its text columns go from the blobs to Arrow
without a Python string per value.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_store_read import copy_into, floor_file
from benchmarks.workloads import CHUNK, TradeWorkload, read_only, write_log
from virtuoso.events import Trade
from virtuoso.export import to_frame
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 5.0


def ours(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """Our side: a copy of the log opened read-only (untimed); ``to_frame`` of its trades is timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(copy_into(log, directory), readonly=True))

        async def frame() -> None:
            built = await to_frame(store, types="Trade")
            assert len(built) == expected

        return Prepared(run=lambda: runner.run(frame()), cleanup=lambda: runner.run(store.close()))

    return side


def floor(floor_log: Path, expected: int) -> Side:
    """The floor: a copy of the minimal table through plain sqlite3; query, fetches and decoding are timed."""
    decode = msgspec.json.Decoder(Trade).decode

    def side(directory: Path) -> Prepared:
        db = read_only(copy_into(floor_log, directory))

        def run() -> None:
            cursor = db.execute("SELECT seq, ts, payload FROM events WHERE type = 'Trade' ORDER BY seq")
            count = 0
            while rows := cursor.fetchmany(CHUNK):
                trades = [decode(row[2]) for row in rows]
                count += len(trades)
            assert count == expected

        return Prepared(run=run, cleanup=db.close)

    return side


def test_to_frame(benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path) -> None:
    work = trade_workload
    floor_log = floor_file(work.log, tmp_path)
    case = RatioCase(
        "store.to_frame (trades) vs floor",
        target=TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, len(work.events)),
        baseline=floor(floor_log, len(work.events)),
    )
    result = measure(benchmark, case, tmp_path / "rounds")
    assert len(result.ours_s) == len(result.baseline_s) >= 1


LIVE_COMMIT = 500
"""Events a commit in the columnar case's log: a live recording's size, so that its session is sealed."""


def test_to_frame_columnar(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    columnar_log = tmp_path / "columnar" / "events.sqlite"
    columnar_log.parent.mkdir()
    runner.run(write_log(columnar_log, work.events, "columnar", commit_events=LIVE_COMMIT))  # sealed at its end
    floor_log = floor_file(work.log, tmp_path)
    case = RatioCase(
        "store.to_frame (trades, columnar layout, sealed) vs floor",
        target=TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=ours(runner, columnar_log, len(work.events)),
        baseline=floor(floor_log, len(work.events)),
    )
    result = measure(benchmark, case, tmp_path / "rounds")
    assert len(result.ours_s) == len(result.baseline_s) >= 1
