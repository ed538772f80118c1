"""Background sealing of the columnar layout: out of the caller's way, and never lost.

``end_session`` queues the session and returns; ``close()`` lets the queue drain
(bounded by ``seal_wait_s``) or stops it between segments; the next writable open
seals what is left, a read-only open never does; a seal refused by a full disk
leaves the blobs as committed with one warning. Every wait is on
``store.wait_sealed()``, never on time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from contextlib import aclosing, closing
from pathlib import Path

import pytest

from benchmarks import seal_levels
from tests.integration.test_record_disk_full import small_disk  # noqa: F401 - the fixture, used by name
from virtuoso.events import Event, Trade
from virtuoso.store import EventFilter, SQLiteEventStore, open_sqlite_store

pytestmark = pytest.mark.asyncio

STREAMS = ("x:BTC/USDT:trades", "x:ETH/USDT:trades", "x:SOL/USDT:trades")
COMMITS = 12
COMMIT_EVENTS = 50
ENDED_NS = 2_000_000_000_000_000_000
WAIT_S = 60.0


def _trades(session: str, stream: str, commit: int, seed: int) -> list[Event]:
    """One commit's trades of ``stream``: plainly synthetic, prices from a seeded walk."""
    base = 1_700_000_000_000_000_000 + commit * 1_000_000_000
    return [
        Event(
            f"{stream}-{commit}-{n}",
            stream,
            base + n * 1_000_003,
            base + n * 1_000_003 + 250_000,
            session,
            Trade(100.0 + ((seed * 7_919 + commit * 131 + n * 17) % 1_000) / 100, 0.001 * (1 + n % 7), "buy", str(n)),
        )
        for n in range(COMMIT_EVENTS)
    ]


async def _record(store: SQLiteEventStore, session_id: str) -> None:
    """A live-like session: every stream committed in small batches, then ended."""
    await _commit(store, session_id)
    await store.end_session(session_id, ended_ns=ENDED_NS)


async def _commit(store: SQLiteEventStore, session_id: str) -> None:
    session = await store.begin_session("live", "tests", started_ns=1, session_id=session_id)
    for commit in range(COMMITS):
        for seed, stream in enumerate(STREAMS):
            await store.append(_trades(session.id, stream, commit, seed))


def _blobs(path: Path) -> int:
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
        ((count,),) = db.execute("SELECT count(*) FROM blobs").fetchall()
    return int(count)


SEALED = len(STREAMS) + 1
"""The blob count once everything is sealed: a segment per trade stream, one for the lifecycle events."""


async def _contents(path: Path) -> tuple[list[tuple[object, ...]], str]:
    store = await open_sqlite_store(path, readonly=True, key=None)
    try:
        events = [(e.position, e.id, e.stream, e.version, e.payload) async for e in store.read()]
        report = await store.verify()
        assert report.ok, report.problem
        return events, report.head
    finally:
        await store.close()


async def test_end_session_returns_before_sealing_and_wait_sealed_sees_it_done(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = await open_sqlite_store(path, layout="columnar", key=None)
    try:
        await _commit(store, "s-1")
        # A read in progress holds every segment back: ending the session must not wait for them.
        async with aclosing(store.read_chunks(chunk_size=10)) as reading:
            await anext(reading)
            await asyncio.wait_for(store.end_session("s-1", ended_ns=ENDED_NS), WAIT_S)
            live = _blobs(path)
        await asyncio.wait_for(store.wait_sealed(), WAIT_S)
        sealed = _blobs(path)
        read = [e async for e in store.read(EventFilter(streams=STREAMS[:1]))]
    finally:
        await store.close()
    assert live == COMMITS * len(STREAMS) + 2
    assert sealed == SEALED
    assert [e.version for e in read] == list(range(1, COMMITS * COMMIT_EVENTS + 1))
    events, _ = await _contents(path)
    assert len(events) == COMMITS * COMMIT_EVENTS * len(STREAMS) + 2


async def test_close_waits_for_sealing(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = await open_sqlite_store(path, layout="columnar", key=None)
    await _record(store, "s-1")
    await store.close()
    assert _blobs(path) == SEALED


async def test_a_close_that_stops_sealing_leaves_it_to_the_next_writable_open(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    reference = tmp_path / "reference.sqlite"
    store = await open_sqlite_store(reference, layout="columnar", key=None)
    await _record(store, "s-1")
    await store.close()
    assert _blobs(reference) == SEALED
    store = await open_sqlite_store(path, layout="columnar", key=None, seal_wait_s=0)
    await _commit(store, "s-1")
    async with aclosing(store.read_chunks(chunk_size=10)) as reading:
        await anext(reading)  # a read left open does not hold close back
        await store.end_session("s-1", ended_ns=ENDED_NS)
        await asyncio.wait_for(store.close(), WAIT_S)
    stopped = _blobs(path)
    assert SEALED < stopped <= COMMITS * len(STREAMS) + 2  # stopped between segments: at most one was stored
    before = await _contents(path)
    assert before == await _contents(reference)

    readonly = await open_sqlite_store(path, readonly=True, key=None)
    await asyncio.wait_for(readonly.wait_sealed(), WAIT_S)  # a read-only open never seals
    await readonly.close()
    assert _blobs(path) == stopped

    store = await open_sqlite_store(path, key=None)
    try:
        await asyncio.wait_for(store.wait_sealed(), WAIT_S)
        assert _blobs(path) == SEALED
    finally:
        await store.close()
    assert await _contents(path) == before


async def test_reads_running_while_sessions_seal_see_every_event_once(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = await open_sqlite_store(path, layout="columnar", key=None)
    try:
        await _record(store, "s-1")
        # Small chunks: the read walks the blobs over many pages while the sealer stores segments.
        read = [e.position async for e in store.read(chunk_size=7)]
        columns = [c async for c in store.read_columns(EventFilter(streams=STREAMS[:1]), chunk_size=11)]
        await asyncio.wait_for(store.wait_sealed(), WAIT_S)
        again = [e.position async for e in store.read(chunk_size=7)]
    finally:
        await store.close()
    assert read == again == list(range(1, COMMITS * COMMIT_EVENTS * len(STREAMS) + 3))
    assert sum(len(c) for c in columns) == COMMITS * COMMIT_EVENTS


async def test_a_seal_refused_by_a_full_disk_keeps_the_blobs_with_one_warning(
    small_disk: Path,  # noqa: F811 - the fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = small_disk / "log.sqlite"
    filler = small_disk / "filler"
    store = await open_sqlite_store(path, layout="columnar", key=None)
    session = await store.begin_session("live", "tests", started_ns=1, session_id="s-full")
    for commit in range(COMMITS):
        for seed, stream in enumerate(STREAMS):
            await store.append(_trades(session.id, stream, commit, seed))
        await store.checkpoint()  # the WAL alone would fill this small disk
    await store.close()  # folds the WAL into the file: the next writes start from an empty WAL
    store = await open_sqlite_store(path, key=None)
    try:
        _fill(small_disk, filler, leave=256 * 1024)  # ending takes ~180 kB of WAL here, sealing ~260 kB more
        with caplog.at_level(logging.WARNING, logger="virtuoso.store"):
            await store.end_session(session.id, ended_ns=ENDED_NS)
            await asyncio.wait_for(store.wait_sealed(), WAIT_S)
        info = await store.session(session.id)
        live = _blobs(path)
    finally:
        filler.unlink(missing_ok=True)  # closing checkpoints the WAL into the file, which needs room
        await store.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "s-full was not sealed" in warnings[0]
    assert "disk is full" in warnings[0]
    assert info.status == "closed"
    assert live >= COMMITS * len(STREAMS)  # no trades segment went in (the lifecycle one, a few pages, may have)
    before = await _contents(path)
    store = await open_sqlite_store(path, key=None)
    try:
        await asyncio.wait_for(store.wait_sealed(), WAIT_S)
    finally:
        await store.close()
    assert _blobs(path) == SEALED
    assert await _contents(path) == before


def _fill(mount: Path, filler: Path, *, leave: int) -> None:
    """Take all but ``leave`` bytes of the filesystem at ``mount``."""
    stats = os.statvfs(mount)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb") as out:
        out.write(b"\0" * max(free - leave, 0))
        out.flush()
        os.fsync(out.fileno())


async def test_the_seal_levels_benchmark_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.sqlite"
    store = await open_sqlite_store(path, layout="columnar", key=None)
    await _record(store, "s-1")
    await store.close()
    await asyncio.to_thread(seal_levels.main, [str(path), "--levels", "3,9", "--rounds", "1", "--min-events", "100"])
    out = capsys.readouterr().out
    assert f"{STREAMS[0]}: {COMMITS * COMMIT_EVENTS} events, 1 segments" in out
    assert out.count("ms/segment") == len(STREAMS) * 4  # two levels, with and without long-distance matching
