"""A log another process keeps writing: ``verify`` finds nothing wrong with it, a read sees every event once
(even while that process seals the columnar blobs it reads), and ``migrate_log`` makes a copy that verifies to the
source's own chain or refuses and leaves no copy; never a copy of some other state.

The writer is a real child process opening, appending to and closing sessions in a
loop (each commit checkpointed now and then by SQLite), so a migration may start
while a session is open, or while none is and a session begins during the copy.
Which of these each attempt meets depends on timing; what must hold does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Literal

import pytest

from virtuoso.errors import StoreError, UsageError
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, migrate_log, open_sqlite_store

Layout = Literal["rows", "columnar"]

WRITER = """
import asyncio, sys
from pathlib import Path
from virtuoso.events import Event, Trade
from virtuoso.store import open_sqlite_store

async def main(path: Path, rounds: int, layout: str, commits: int) -> None:
    for r in range(rounds):
        store = await open_sqlite_store(path, layout=layout)
        try:
            session = await store.begin_session("w", "tests", started_ns=r, session_id=f"s-w{r}")
            for b in range(commits):
                await store.append([Event(f"w{r}-{b}-{n}", "x:BTC/USDT:trades", n, n, session.id,
                                          Trade(100.0 + n, 0.5, "buy", str(n))) for n in range(200)])
            await store.end_session(session.id, ended_ns=10_000)
        finally:
            await store.close()
        print(r, flush=True)

asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
"""


async def _seed(path: Path, layout: Layout = "rows") -> None:
    store = await open_sqlite_store(path, layout=layout, key=None)
    try:
        session = await store.begin_session("seed", "tests", started_ns=0, session_id="s-seed")
        events = [
            Event(f"seed-{n}", "x:ETH/USDT:trades", n, n, session.id, Trade(10.0, 1.0, "sell", str(n)))
            for n in range(500)
        ]
        await store.append(events)
        await store.end_session(session.id, ended_ns=1_000)
    finally:
        await store.close()


def _batch_hash(path: Path, batches: int) -> str:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        (stored,) = db.execute("SELECT hash FROM batches WHERE seq = ?", (batches,)).fetchone()
    return bytes(stored).hex()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_log_written_meanwhile_is_copied_whole_or_not_at_all(tmp_path: Path) -> None:
    source = tmp_path / "rows.sqlite"
    await _seed(source)
    writer = await _writer(source, "rows")
    outcomes: list[str] = []
    try:
        assert writer.stdout is not None
        await asyncio.wait_for(writer.stdout.readline(), 60)  # the writer is under way
        for attempt in range(8):
            outcomes.append(await _attempt(source, tmp_path / f"copy{attempt}.sqlite"))
    finally:
        _, errors = await asyncio.wait_for(writer.communicate(), 120)
    assert writer.returncode == 0, errors.decode()
    for outcome in outcomes:  # the only refusals a writer may cause
        assert outcome == "copied" or "is being recorded" in outcome or "changed while it was copied" in outcome, (
            outcome
        )


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("layout", ["rows", "columnar"])
async def test_a_log_written_meanwhile_verifies(tmp_path: Path, layout: Layout) -> None:
    """The catalog and the walk are read in one snapshot: sessions and streams a writer adds during a verify are
    not taken for damage (they were, as "refers to an unknown ... session number")."""
    log = tmp_path / "log.sqlite"
    await _seed(log, layout)
    writer = await _writer(log, layout)
    reports = []
    try:
        assert writer.stdout is not None
        await asyncio.wait_for(writer.stdout.readline(), 60)
        for _ in range(8):
            store = await open_sqlite_store(log, readonly=True)
            try:
                reports.append(await store.verify())
            finally:
                await store.close()
    finally:
        _, errors = await asyncio.wait_for(writer.communicate(), 120)
    assert writer.returncode == 0, errors.decode()
    assert [r.problem for r in reports if not r.ok] == []
    assert reports[-1].batches > reports[0].batches  # the writer did write meanwhile


@pytest.mark.slow
@pytest.mark.asyncio
async def test_reads_of_a_columnar_log_sealed_meanwhile_miss_nothing(tmp_path: Path) -> None:
    """Each session the writer ends is sealed by it (small blobs replaced by a segment) while this process reads
    the log page by page: every read must still give positions 1, 2, 3... with none missing. Reads on the shared
    connection, one query a page, lost the events of blobs replaced between two pages (7 gaps in 84 reads)."""
    log = tmp_path / "log.sqlite"
    await _seed(log, "columnar")
    writer = await _writer(log, "columnar", sessions=12, commits=40)
    gaps: list[tuple[int, int]] = []
    reads = 0
    try:
        assert writer.stdout is not None
        await asyncio.wait_for(writer.stdout.readline(), 60)
        while writer.returncode is None and reads < 60:
            gaps += await _gaps(log)
            reads += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.wait(), 0.01)
    finally:
        _, errors = await asyncio.wait_for(writer.communicate(), 120)
    assert writer.returncode == 0, errors.decode()
    assert reads > 3
    assert gaps == []


async def _gaps(log: Path) -> list[tuple[int, int]]:
    """``(expected, found)`` where a read of the whole log skips positions."""
    store = await open_sqlite_store(log, readonly=True)
    try:
        expected, found = 1, []
        async for chunk in store.read_chunks(EventFilter(), 500):
            for event in chunk:
                if event.position != expected:
                    found.append((expected, event.position))
                expected = event.position + 1
        return found
    finally:
        await store.close()


async def _writer(path: Path, layout: Layout, *, sessions: int = 40, commits: int = 3) -> asyncio.subprocess.Process:
    """The writer child: ``sessions`` sessions of ``commits`` commits of 200 trades each into ``path``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(path),
        str(sessions),
        layout,
        str(commits),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _attempt(source: Path, copy: Path) -> str:
    """One migration: ``copied`` (checked against the source's chain), or the refusal (checked to leave nothing)."""
    try:
        report = await migrate_log(source, copy)
    except (UsageError, StoreError) as exc:
        assert _left_beside(copy) == []
        return str(exc)
    # Whatever the writer did meanwhile, the copy is the source's own chain up to the copy's last batch.
    assert report.ok
    assert report.head == _batch_hash(copy.with_name("rows.sqlite"), report.batches)
    return "copied"


def _left_beside(copy: Path) -> list[str]:
    return sorted(p.name for p in copy.parent.iterdir() if p.name.startswith((copy.name, f".{copy.name}")))
