"""Fault injection at the SQLite level: a write fails at every frame of the WAL, and the log survives.

Python's sqlite3 has no VFS hook, so the workload (``_fault_workload.py``: begin a
session, append to a new stream, append a mixed batch with new streams and a new
kind, import a file, end the session, close) runs in a child process under
``RLIMIT_FSIZE`` = n bytes with SIGXFSZ ignored: the first write past n bytes of
any file fails in the kernel, exactly where a full disk would stop SQLite. The
sweep puts n at each WAL frame boundary (the WAL header is 32 bytes, then each
16 KiB page is a 24-byte frame header and the page), and inside frames, so every
page write of every transaction, commit frames included, is made to fail once.
After each run, with the limit lifted, the same process appends again (what a
recorder does once room is back), then the log is reopened: it must verify, read
whole with contiguous positions, and end exactly at the last committed position
(the failed operation left nothing).

Not reached this way: a failing fsync, and a short write SQLite does not retry.
A real full filesystem (a small tmpfs, when this machine lets the test mount one)
checks that a full disk surfaces as :class:`~virtuoso.errors.StoreFullError`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from virtuoso.events import Event, Trade
from virtuoso.store import open_sqlite_store

WORKLOAD = Path(__file__).with_name("_fault_workload.py")
FRAME = 24 + 16384
WAL_HEADER = 32
FRAMES = 90  # more than the whole workload writes: the last sizes let it finish
OPERATIONS = {"begin_session", "append one stream", "append mixed", "import", "end_session"}


def _sizes() -> list[int]:
    sizes = [0, 1, WAL_HEADER - 1, WAL_HEADER]
    for frame in range(FRAMES):
        start = WAL_HEADER + frame * FRAME
        sizes += [start, start + 24, start + 100] if frame % 6 == 0 else [start]
    return sizes


async def _base_log(path: Path) -> None:
    store = await open_sqlite_store(path, key=None)
    try:
        info = await store.begin_session("base", "tests", started_ns=1)
        trades = [Event(f"b{n}", "test:BASE", n, n, info.id, Trade(1.0 + n, 1.0, "buy", str(n))) for n in range(100)]
        await store.append(trades)
        await store.end_session(info.id, ended_ns=10**6)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small closed log to start from and a ccxt-json file of 300 trades to import."""
    folder = tmp_path_factory.mktemp("faults")
    asyncio.run(_base_log(folder / "base.sqlite"))
    t0 = 1_700_000_000_000
    trades = [
        {"id": str(n), "timestamp": t0 + n, "symbol": "BTC/USDT", "side": "buy", "price": 100.0 + n, "amount": 0.5}
        for n in range(300)
    ]
    (folder / "trades.json").write_text(json.dumps(trades))
    return folder / "base.sqlite", folder / "trades.json"


def _run(argv: list[str], timeout: float) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("VIRTUOSO_LOG_KEY", None)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def _assert_intact(runs: list[dict[str, Any]]) -> None:
    for run in runs:
        assert not run.get("foreign"), f"a raw {run['error']} escaped at size {run['size']}: {run['message']}"
        assert "retry_error" not in run, run
        assert run["verify_ok"], run
        assert run["contiguous"], run
        assert run["max_position"] == run["expected_max"], run


@pytest.mark.timeout(600)
def test_a_write_failing_at_every_wal_frame_leaves_a_log_that_verifies_and_reads(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, trades = inputs
    runs = _run([sys.executable, str(WORKLOAD), str(base), str(tmp_path), str(trades), *map(str, _sizes())], 540)
    _assert_intact(runs)
    failed = {run["op"] for run in runs if "op" in run}
    assert failed >= OPERATIONS, f"failure points never reached: {OPERATIONS - failed}"
    assert "op" not in runs[-1], "the largest size must let the whole workload finish"
    for run in runs:
        if "op" in run:
            assert run["error"].endswith("Error"), run
            assert run["message"].startswith(str(tmp_path)), run  # one line naming the log


@pytest.mark.timeout(120)
def test_a_full_filesystem_gives_one_storage_full_error_and_an_intact_log(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, trades = inputs
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if os.geteuid() != 0 or unshare is None or mount is None:
        pytest.skip("needs root, unshare and mount to make a small filesystem")
    disk = tmp_path / "disk"
    disk.mkdir()
    ballast = disk / "ballast"
    script = (
        f"{mount} -t tmpfs -o size=1200k tmpfs {disk} || exit 77; "
        f"head -c 700000 /dev/zero > {ballast} && exec {sys.executable} {WORKLOAD} {base} {disk} {trades} {2**40}"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "FAULT_BALLAST": str(ballast)}
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script], capture_output=True, text=True, timeout=100, env=env, check=False
    )
    if done.returncode == 77 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    runs = [json.loads(line) for line in done.stdout.splitlines()]
    _assert_intact(runs)
    (run,) = runs
    assert run["error"] == "StoreFullError", run
    assert run["message"].startswith(str(disk)), run
