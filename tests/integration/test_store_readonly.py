"""Read-only opens leave no trace beside the log, and read logs they cannot write.

A closed log (no ``-wal`` in use) is opened ``immutable=1``: SQLite then creates
no ``-wal``/``-shm`` and needs no write access to the folder. A log whose WAL is
in use (a live or crashed writer) is opened ``mode=ro`` to share that WAL:
``immutable`` would ignore it and silently miss committed events.

Tests run as root, for whom ``chmod 555`` denies nothing; a read-only folder is
made for real as a tmpfs remounted read-only in a private mount namespace
(``unshare -m``), and skipped where this machine does not allow that.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._cli import cli
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.store._sqlite_io import readonly_uri

STREAM = "test:BTC/USDT:trades"


async def _write(path: Path, count: int, *, close: bool = True) -> str:
    store = await open_sqlite_store(path, key=None)
    info = await store.begin_session("ro", "tests", started_ns=1, symbols=["BTC/USDT"], channels=["trades"])
    await store.append(
        [Event(f"t{n}", STREAM, 10 + n, 10 + n, info.id, Trade(100.0 + n, 1.0, "buy", str(n))) for n in range(count)]
    )
    if close:
        await store.end_session(info.id, ended_ns=10**6)
        await store.close()
    return info.id


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def closed_log(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "events.sqlite"
    session = asyncio.run(_write(path, 50))
    return path, session


@pytest.mark.parametrize(
    "command",
    [
        ("sessions", "verify"),
        ("sessions", "head"),
        ("status",),
        ("export", "--session", "{session}", "--out", "{out}"),
    ],
)
def test_read_only_commands_leave_the_folder_as_it_was(
    closed_log: tuple[Path, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    path, session = closed_log
    before = _listing(path.parent)
    args = [a.format(session=session, out=tmp_path / "export") for a in command]
    result = cli(*args, "--db", path)
    assert result.exit_code == 0, result.output
    assert _listing(path.parent) == before


def test_the_library_read_path_leaves_nothing_either(closed_log: tuple[Path, str]) -> None:
    path, session = closed_log
    before = _listing(path.parent)

    async def read() -> tuple[int, bool]:
        async with await open_sqlite_store(path, readonly=True) as store:
            events = [e async for e in store.read(EventFilter(session=session))]
            return len(events), (await store.verify()).ok

    assert asyncio.run(read()) == (52, True)
    assert _listing(path.parent) == before


def test_a_closed_log_is_opened_immutable_and_a_live_one_shares_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"

    async def scenario() -> tuple[str, str, int]:
        await _write(path, 5)
        closed = readonly_uri(path, alone=True)
        writer = await open_sqlite_store(path, key=None)
        try:
            info = (await writer.sessions())[0]
            await writer.resume_session(info.id, resumed_ns=2 * 10**6)
            live = readonly_uri(path, alone=True)
            async with await open_sqlite_store(path, readonly=True) as reader:
                seen = await reader.max_position()
        finally:
            await writer.close()
        return closed, live, seen

    closed, live, seen = asyncio.run(scenario())
    assert closed.endswith("?mode=ro&immutable=1")
    assert live.endswith("?mode=ro")
    assert seen == 8  # the SessionResumed in the live writer's WAL is seen


_CRASHING_WRITER = """
import asyncio, os, sys
from tests.integration.test_store_readonly import _write
asyncio.run(_write(__import__("pathlib").Path(sys.argv[1]), 20, close=False))
os._exit(0)
"""


def _crash_writer(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _CRASHING_WRITER, str(path)], env=env, timeout=60, check=False)
    assert done.returncode == 0
    assert Path(f"{path}-wal").stat().st_size > 0


def test_a_crashed_writers_wal_is_read_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    _crash_writer(path)
    before = _listing(tmp_path)

    async def read() -> int:
        async with await open_sqlite_store(path, readonly=True) as store:
            assert "immutable" not in readonly_uri(path, alone=True)
            return len([e async for e in store.read()])

    assert asyncio.run(read()) == 21  # SessionStarted and 20 trades, all in the WAL
    assert sorted(_listing(tmp_path)) == sorted(before)


def _in_read_only_mount(tmp_path: Path, prepare: str, check: str) -> subprocess.CompletedProcess[str]:
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if os.geteuid() != 0 or unshare is None or mount is None:
        pytest.skip("needs root, unshare and mount to make a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    script = (
        f"{mount} -t tmpfs -o size=8m tmpfs {folder} || exit 77; {prepare} && {mount} -o remount,ro {folder} && {check}"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    if done.returncode == 77 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    return done


def test_a_log_in_a_read_only_folder_can_be_verified_and_read(closed_log: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = closed_log
    folder = tmp_path / "ro"
    virtuoso = f"{sys.executable} -m virtuoso"
    done = _in_read_only_mount(
        tmp_path,
        f"cp {path} {folder}/events.sqlite",
        f"{virtuoso} sessions verify --db {folder}/events.sqlite && {virtuoso} status --db {folder}/events.sqlite"
        f" && ls -a {folder}",
    )
    assert done.returncode == 0, done.stderr
    assert "intact: 52 events" in done.stdout
    assert done.stdout.split()[-3:] == [".", "..", "events.sqlite"]


def test_a_crashed_wal_in_a_read_only_folder_is_one_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "crashed.sqlite"
    _crash_writer(source)
    folder = tmp_path / "ro"
    done = _in_read_only_mount(
        tmp_path,
        f"cp {source} {folder}/events.sqlite && cp {source}-wal {folder}/events.sqlite-wal",
        f"{sys.executable} -m virtuoso sessions verify --db {folder}/events.sqlite",
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: a writer is running or crashed"), line
    assert line.endswith(f"({folder}/events.sqlite)"), line
