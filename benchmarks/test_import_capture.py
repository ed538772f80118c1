"""Importing a real Binance capture against merely parsing it with ``gzip`` + ``json``.

Ours: :func:`virtuoso.importers.import_files` of the two BTCUSDT spot capture files
(hftbacktest, 99,574 lines) into a fresh SQLite log, all of it timed: hashing and
peeking at the files, decoding every line, building the events, checking trade ids
and the depth chain, and appending everything (each file in one transaction).

Baseline: ``gzip.open`` of the same files, and for each line ``int`` of the receive
time and ``json.loads`` of the message: the least any importer has to do.

The unit is the line (a line is an event). With ``--quick`` both sides work on the
first 20,000 lines of the first file, written once to a temporary gzip file.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from itertools import islice
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from virtuoso.importers import import_files
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.5
DATA = Path(os.environ.get("VIRTUOSO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FILES = ["hftbacktest/examples/spot/btcusdt_20240808.gz", "hftbacktest/examples/spot/btcusdt_20240809.gz"]
QUICK_LINES = 20_000


@pytest.fixture(scope="module")
def capture(scale: Scale, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The capture files the case imports: both real files, or a slice of the first with --quick."""
    paths = [DATA / name for name in FILES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real data file {missing[0]} is absent (set VIRTUOSO_SHARED_DATA)")
    if not scale.quick:
        return paths
    with gzip.open(paths[0], "rb") as f:
        head = b"".join(islice(f, QUICK_LINES))
    sliced = tmp_path_factory.mktemp("capture") / "btcusdt_20240808.gz"
    sliced.write_bytes(gzip.compress(head))
    return [sliced]


def _lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with gzip.open(path, "rb") as f:
            total += sum(1 for _ in f)
    return total


def ours(runner: asyncio.Runner, paths: list[Path]) -> Side:
    """Our side: a fresh log is opened untimed; the whole import is timed."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(directory / "events.sqlite"))

        async def work() -> None:
            await import_files(store, "binance-capture", paths)

        return Prepared(run=lambda: runner.run(work()), cleanup=lambda: runner.run(store.close()))

    return side


def baseline(paths: list[Path]) -> Side:
    """The raw side: gzip and json.loads of every line, nothing kept."""

    def run() -> None:
        for path in paths:
            with gzip.open(path, "rb") as f:
                for line in f:
                    received, _, message = line.partition(b" ")
                    int(received)
                    json.loads(message)

    return lambda directory: Prepared(run=run)


def test_import_binance_capture(
    benchmark: object, runner: asyncio.Runner, scale: Scale, capture: list[Path], tmp_path: Path
) -> None:
    case = RatioCase(
        "import binance-capture",
        target=TARGET,
        events=_lines(capture),
        rounds=scale.rounds,
        ours=ours(runner, capture),
        baseline=baseline(capture),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
