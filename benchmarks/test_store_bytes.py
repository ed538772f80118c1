"""Bytes on disk: the real Binance spot captures imported, against the size of their gzip files.

Ours: the four spot capture files of the shared data (BTCUSDT and ETHUSDT, two days
each: trades, depth updates, book tickers; hftbacktest's format) imported with
``virtuoso import binance-capture`` into a fresh log (the default, columnar layout:
its sessions sealed when they end; and the opt-in row layout), one session per file
pair, the write-ahead log folded in; the size of the log file (for the columnar
log, with the pages its sealed blobs freed).

Baseline: the size of the same files, gzipped as they are published. Issue 21's
target: the log at most 1.5 times the gzip, so the ratio (gzip bytes / log bytes,
recorded as events per MiB with ``unit`` ``MiB``) must reach 1 / 1.5.

The import itself is timed by ``test_import_capture.py``; here it runs once.
With ``--quick`` the first 20,000 lines of the first file, gzipped again.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from itertools import islice
from pathlib import Path

import pytest

from benchmarks.harness import RatioResult, Scale, mib, record
from benchmarks.test_import_capture import DATA, QUICK_LINES
from benchmarks.test_trade_day import fold_wal
from benchmarks.workloads import Layout
from virtuoso.importers import import_files
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

SPOT = "hftbacktest/examples/spot"
PAIRS = (("btcusdt_20240808.gz", "btcusdt_20240809.gz"), ("ethusdt_20240808.gz", "ethusdt_20240809.gz"))
TARGET = 1 / 1.5


@pytest.fixture(scope="module")
def captures(scale: Scale, tmp_path_factory: pytest.TempPathFactory) -> list[list[Path]]:
    """The capture files, one list per market (a session each); a slice of the first with --quick."""
    pairs = [[DATA / SPOT / name for name in pair] for pair in PAIRS]
    missing = [path for pair in pairs for path in pair if not path.exists()]
    if missing:
        pytest.skip(f"real data file {missing[0]} is absent (set VIRTUOSO_SHARED_DATA)")
    if not scale.quick:
        return pairs
    with gzip.open(pairs[0][0], "rb") as f:
        head = b"".join(islice(f, QUICK_LINES))
    sliced = tmp_path_factory.mktemp("capture") / pairs[0][0].name
    sliced.write_bytes(gzip.compress(head))
    return [[sliced]]


async def import_captures(log: Path, captures: list[list[Path]], layout: Layout | None = None) -> int:
    """Import each market's files into one session of a new log at ``log`` (in ``layout``, by default the
    store's); the events it holds."""
    store = await open_sqlite_store(log, layout=layout)
    try:
        for files in captures:
            await import_files(store, "binance-capture", files)
        return sum([len(chunk) async for chunk in store.read_chunks()])
    finally:
        await store.close()


@pytest.mark.parametrize("layout", [None, "rows"], ids=["default", "rows"])
def test_bytes_of_the_captures_against_their_gzip(
    benchmark: object, captures: list[list[Path]], tmp_path: Path, layout: Layout | None
) -> None:
    log = tmp_path / "captures.sqlite"
    load = os.getloadavg()[0]
    events = benchmark.pedantic(  # type: ignore[attr-defined]
        lambda: asyncio.run(import_captures(log, captures, layout)), rounds=1, iterations=1
    )
    size = fold_wal(log)
    gzipped = sum(path.stat().st_size for files in captures for path in files)
    name = "store bytes: captures vs gzip" if layout is None else "store bytes (row layout): captures vs gzip"
    result = RatioResult(name, TARGET, events, [mib(size)], [mib(gzipped)], (load, load), unit="MiB")
    record(
        benchmark,
        result,
        log_bytes=size,
        gzip_bytes=gzipped,
        log_over_gzip=round(size / gzipped, 2),
        bytes_per_event=round(size / events, 1),
    )
