"""Crash safety of the columnar layout: a recorder killed with SIGKILL mid-write leaves whole batches only.

The same child and checks as ``test_store_crash.py``, on a log created columnar
before the child opens it (an existing log keeps its layout).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.test_store_crash import _check_recovered_log, _run_and_kill
from virtuoso.store import open_sqlite_store


async def _create_columnar(db: Path) -> None:
    store = await open_sqlite_store(db, layout="columnar")
    await store.close()


@pytest.mark.slow
def test_killed_recorder_keeps_every_committed_batch_of_a_columnar_log(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    asyncio.run(_create_columnar(db))
    run = _run_and_kill(db, tmp_path)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert all(c % 250 == 0 for c in run.counts)
    asyncio.run(_check_recovered_log(db, run))
    with closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)) as con:
        blobs, ids, events = con.execute(
            "SELECT count(*), (SELECT count(*) FROM ids), sum(count) FROM blobs"
        ).fetchone()
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'").fetchone() == (0,)
    assert ids == events
    assert blobs == 2  # sealed when marked crashed: the trades and the lifecycle events, a segment each
