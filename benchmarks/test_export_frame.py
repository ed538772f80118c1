"""``store.to_frame`` against a raw ``SELECT`` plus msgspec decoding plus a DataFrame built by columns.

Ours: ``store.to_frame(types="Trade")`` over a read-only store: every trade of the
log as one typed DataFrame (envelope, UTC datetimes, payload columns), read in
chunks of 5,000 and built with pyarrow.

Baseline: stdlib ``sqlite3`` on the same file, ``SELECT`` of the envelope columns
and payload of the trades ``ORDER BY position`` fetched in chunks of 5,000, each
payload decoded by ``msgspec.json.Decoder(Trade)``, each chunk's values added to one
Python list per column (by column, not row by row), then one ``pd.DataFrame`` of those lists with the two
times converted by ``pd.to_datetime(..., utc=True)``: the same frame, the way one
would write it by hand.
"""

from __future__ import annotations

import asyncio
import shutil
from contextlib import closing
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.workloads import CHUNK, TradeWorkload, read_only
from virtuoso.events import Trade
from virtuoso.export import to_frame
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.6
_ENVELOPE = ("position", "id", "stream", "version", "session", "causation", "ts_event", "ts_recv")


def _copy(log: Path, directory: Path) -> Path:
    path = directory / log.name
    shutil.copyfile(log, path)
    return path


def ours(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """Our side: a copy of the log opened read-only (untimed); ``to_frame`` of its trades is timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(_copy(log, directory), readonly=True))

        async def frame() -> None:
            built = await to_frame(store, types="Trade")
            assert len(built) == expected

        return Prepared(run=lambda: runner.run(frame()), cleanup=lambda: runner.run(store.close()))

    return side


def _trade_kind(log: Path) -> int:
    with closing(read_only(log)) as db:
        (kind,) = db.execute("SELECT seq FROM kinds WHERE type = 'Trade'").fetchone()
    return int(kind)


def baseline(log: Path, expected: int) -> Side:
    """The raw side: the same copy through plain sqlite3; query, decoding and the DataFrame are timed."""
    decode = msgspec.json.Decoder(Trade).decode
    kind = _trade_kind(log)

    def side(directory: Path) -> Prepared:
        db = read_only(_copy(log, directory))

        def run() -> None:
            query = f"SELECT {', '.join(_ENVELOPE)}, payload FROM events WHERE kind = ? ORDER BY position"
            cursor = db.execute(query, (kind,))
            columns: dict[str, list[object]] = {name: [] for name in (*_ENVELOPE, *Trade.__struct_fields__)}
            while rows := cursor.fetchmany(CHUNK):
                payloads = [decode(row[8]) for row in rows]
                for index, name in enumerate(_ENVELOPE):
                    columns[name].extend([row[index] for row in rows])
                for name in Trade.__struct_fields__:
                    columns[name].extend([getattr(p, name) for p in payloads])
            frame = pd.DataFrame(columns)
            frame["time_event"] = pd.to_datetime(frame["ts_event"], unit="ns", utc=True)
            frame["time_recv"] = pd.to_datetime(frame["ts_recv"], unit="ns", utc=True)
            assert len(frame) == expected

        return Prepared(run=run, cleanup=db.close)

    return side


def test_to_frame(benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path) -> None:
    work = trade_workload
    case = RatioCase(
        "store.to_frame (trades)",
        target=TARGET,
        events=len(work.events),
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, len(work.events)),
        baseline=baseline(work.log, len(work.events)),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
