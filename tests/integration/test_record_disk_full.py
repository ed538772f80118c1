"""A recording into a filesystem that fills up: one clear line naming the file, and what was committed is intact.

The log lives on a 3 MiB tmpfs mounted for the test (root is needed to mount; CI
runs as root, so there the test must run). The loopback plays the capture as
fast as it can, so the filesystem fills within seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_record_cli import _data_dir, _start, _write_config
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

pytestmark = pytest.mark.asyncio
EXIT_TIMEOUT_S = 180.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)]
    done = subprocess.run(command, check=False, capture_output=True)
    if done.returncode != 0:
        if os.environ.get("VIRTUOSO_REQUIRE_DATA") == "1":
            pytest.fail(f"cannot mount a small tmpfs: {done.stderr.decode().strip()}")
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_ends_the_recording_with_one_line_and_an_intact_log(tmp_path: Path, small_disk: Path) -> None:
    db = small_disk / "live.sqlite"
    async with LoopbackExchange(_data_dir(), speed=0) as ex:
        config = _write_config(
            tmp_path / "record.toml",
            ex.ccxt_config(),
            symbols=["BTC/USDT"],
            channels=["trades", "book"],
            markets_cache=str(tmp_path / "markets.json"),
        )
        proc = await _start(config, db)
        _, err = await asyncio.wait_for(proc.communicate(), EXIT_TIMEOUT_S)
    lines = [line for line in err.decode().splitlines() if not line[:1].isdigit()]  # status lines start with a count
    assert proc.returncode == 1
    assert lines == [
        f"error: failed: StoreFullError: {db}: the disk is full (or a file size limit reached); "
        f"what was committed before is intact ({db})"
    ]
    await _run(["mount", "-o", "remount,size=64m", str(small_disk)])
    store = await open_sqlite_store(db)
    try:
        (info,) = await store.sessions()
        report = await store.verify()
        ids = [int(e.payload.trade_id) async for e in store.read(EventFilter(types=("Trade",)))]  # type: ignore[attr-defined]
        gaps = [e async for e in store.read(EventFilter(types=("Gap",)))]
        ends = [e.payload async for e in store.read(EventFilter(types=("SessionEnded",)))]
    finally:
        await store.close()
    assert report.ok, report.problem
    # The small end event usually still fits once the failed batch is rolled back; if not, the next opener
    # marks the session crashed. Either way the log says the recording did not end normally.
    if info.status == "closed":
        assert [end.reason.split(":")[:2] for end in ends] == [["failed", " StoreFullError"]]  # type: ignore[attr-defined]
    else:
        assert info.status == "crashed"
    assert len(ids) > 100
    assert ids == list(range(ids[0], ids[0] + len(ids))), "a hole in the committed trades"
    assert gaps == []


async def _run(command: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(*command)
    assert await proc.wait() == 0
