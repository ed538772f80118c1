"""Crash safety of the SQLite event log: a recorder killed with SIGKILL mid-write.

The child (``_crash_writer.py``) commits batches of exactly ``BATCH`` trades and
prints the committed count after each. We kill it after a few batches, reap it,
and reopen the log: every committed batch must be there, intact and contiguous,
nothing of the batch in flight, and the session must be marked ``crashed``.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from virtuoso.events import Event, EventIdFactory, SessionEnded, Trade
from virtuoso.store import EventFilter, lifecycle_stream, open_sqlite_store

WRITER = Path(__file__).with_name("_crash_writer.py")
REPO = Path(__file__).resolve().parents[2]
BATCH = 250
STREAM = "crash:BTC/USDT:trades"
BATCHES_BEFORE_KILL = 4
LINE_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 30.0


@dataclass
class KilledRun:
    """What the parent saw of a child it killed."""

    session_id: str
    counts: list[int]
    returncode: int
    stderr: str


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.strip())
    lines.put(None)


def _next_line(lines: queue.Queue[str | None], proc: subprocess.Popen[str], what: str) -> str:
    try:
        line = lines.get(timeout=LINE_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        proc.wait(timeout=EXIT_TIMEOUT_S)
        pytest.fail(f"the crash writer printed no {what} within {LINE_TIMEOUT_S}s")
    if line is None:
        proc.wait(timeout=EXIT_TIMEOUT_S)
        pytest.fail(f"the crash writer ended (rc={proc.returncode}) before printing {what}")
    return line


def _run_and_kill(db: Path, tmp: Path, before_kill: Callable[[str], None] | None = None) -> KilledRun:
    """Start the writer, wait for a few committed batches, SIGKILL it and reap it.

    ``before_kill`` (a callable taking the session id) runs while the child is alive.
    """
    err_path = tmp / "crash_writer.stderr"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(db), str(BATCH)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=REPO,
        )
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    try:
        first = _next_line(lines, proc, "session line")
        assert first.startswith("session "), first
        session_id = first.split()[1]
        counts: list[int] = []
        while len(counts) < BATCHES_BEFORE_KILL:
            counts.append(int(_next_line(lines, proc, "committed count")))
        if before_kill is not None:
            before_kill(session_id)
        os.kill(proc.pid, signal.SIGKILL)
        returncode = proc.wait(timeout=EXIT_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=EXIT_TIMEOUT_S)
        pump.join(timeout=EXIT_TIMEOUT_S)
        if not pump.is_alive() and proc.stdout is not None:
            proc.stdout.close()
    assert not pump.is_alive(), "the child's stdout did not close after it was reaped"
    while (line := lines.get_nowait()) is not None:
        counts.append(int(line))
    return KilledRun(session_id, counts, returncode, err_path.read_text())


def _batch_sizes(db: Path) -> list[tuple[int, int]]:
    with closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)) as con:
        rows = con.execute("SELECT first_position, last_position FROM batches ORDER BY seq").fetchall()
    return [(first, last - first + 1) for first, last in rows]


def _check_live_session_not_recovered(db: Path) -> Callable[[str], None]:
    """While the child lives, another store opening the file must not touch its session."""

    def check(session_id: str) -> None:
        async def reopen() -> tuple[list[str], str]:
            store = await open_sqlite_store(db)
            try:
                return store.recovered, (await store.session(session_id)).status
            finally:
                await store.close()

        recovered, status = asyncio.run(reopen())
        assert recovered == []
        assert status == "open"

    return check


@pytest.mark.slow
def test_killed_recorder_keeps_every_committed_batch(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    run = _run_and_kill(db, tmp_path, before_kill=_check_live_session_not_recovered(db))
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.counts == sorted(run.counts)
    assert all(c % BATCH == 0 for c in run.counts)
    asyncio.run(_check_recovered_log(db, run))


async def _check_recovered_log(db: Path, run: KilledRun) -> None:
    store = await open_sqlite_store(db)
    try:
        assert store.recovered == [run.session_id]
        info = await store.session(run.session_id)
        assert info.status == "crashed"
        assert info.end_reason

        report = await store.verify()
        assert report.ok, report.problem

        trades = [e async for e in store.read(EventFilter(streams=(STREAM,)))]
        committed = len(trades)
        assert committed % BATCH == 0, f"{committed} trades: a partial batch survived"
        assert committed >= run.counts[-1]
        assert [e.version for e in trades] == list(range(1, committed + 1))
        assert [int(e.payload.trade_id) for e in trades if isinstance(e.payload, Trade)] == list(range(committed))

        everything = [e async for e in store.read()]
        assert [e.position for e in everything] == list(range(1, len(everything) + 1))
        assert report.events == len(everything) == committed + 2
        assert everything[0].type == "SessionStarted"
        ended = everything[-1]
        assert isinstance(ended.payload, SessionEnded)
        assert ended.payload.status == "crashed"
        assert ended.stream == lifecycle_stream(run.session_id)
        assert ended.ts_event == trades[-1].ts_event
        assert info.ended_ns == trades[-1].ts_event
    finally:
        await store.close()

    sizes = _batch_sizes(db)
    assert sizes[0] == (1, 1)
    assert sizes[-1] == (committed + 2, 1)
    assert [size for _, size in sizes[1:-1]] == [BATCH] * (committed // BATCH)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_reopening_after_recovery_marks_nothing_again(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    run = _run_and_kill(db, tmp_path)
    first = await open_sqlite_store(db)
    assert first.recovered == [run.session_id]
    head = (await first.verify()).head
    await first.close()

    second = await open_sqlite_store(db)
    try:
        assert second.recovered == []
        assert (await second.session(run.session_id)).status == "crashed"
        ended = [e async for e in second.read(EventFilter(types=("SessionEnded",)))]
        assert len(ended) == 1
        report = await second.verify()
        assert report.ok
        assert report.head == head
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_session_of_a_live_process_is_not_marked_crashed(db_path: Path) -> None:
    owner = await open_sqlite_store(db_path)
    try:
        info = await owner.begin_session("live", "tests", started_ns=10)
        ids = EventIdFactory(info.id)
        await owner.append([Event(ids(11), STREAM, 11, 12, info.id, Trade(1.0, 2.0, "buy", "1"))])

        other = await open_sqlite_store(db_path)
        try:
            assert other.recovered == []
            assert (await other.session(info.id)).status == "open"
            assert [e.type async for e in other.read()] == ["SessionStarted", "Trade"]
        finally:
            await other.close()

        ended = await owner.end_session(info.id, ended_ns=20)
        assert ended.status == "closed"
    finally:
        await owner.close()


@pytest.mark.asyncio
async def test_session_left_open_by_this_live_process_is_not_recovered(db_path: Path) -> None:
    store = await open_sqlite_store(db_path)
    info = await store.begin_session("left-open", "tests", started_ns=10)
    await store.close()

    reopened = await open_sqlite_store(db_path)
    try:
        assert reopened.recovered == []
        assert (await reopened.session(info.id)).status == "open"
        await reopened.end_session(info.id, ended_ns=11)
    finally:
        await reopened.close()


@pytest.mark.asyncio
async def test_closed_log_is_one_self_contained_file(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    store = await open_sqlite_store(db)
    try:
        info = await store.begin_session("copy-me", "tests", started_ns=1)
        ids = EventIdFactory(info.id)
        await store.append(
            [Event(ids(n), STREAM, n, n, info.id, Trade(1.0, 1.0, "buy", str(n))) for n in range(2, 102)]
        )
        await store.end_session(info.id, ended_ns=200)
    finally:
        await store.close()

    copy = tmp_path / "backup" / "log.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(db, copy)  # what a user does to back up "the file"
    backup = await open_sqlite_store(copy, readonly=True)
    try:
        assert await backup.max_position() == 102
        assert (await backup.verify()).ok
    finally:
        await backup.close()
