"""A replay killed by SIGKILL midway resumes into the same run and ends with the digest of an uninterrupted one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.integration._replay_killer import EVERY
from virtuoso.app import AppConfig
from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.replay import RUN_SOURCE, AnalyzerSpec, ReplaySelection, RunConfig, TradeCounter, replay_run
from virtuoso.store import open_sqlite_store

KILLER = Path(__file__).with_name("_replay_killer.py")
TRADES = 30_000


async def recorded(path: Path) -> str:
    store = await open_sqlite_store(path)
    info = await store.begin_session("input", "test", started_ns=1_000)
    ids = EventIdFactory(info.id)
    stream = "binance:BTC/USDT:trades"
    await store.append(
        [
            Event(ids(2_000 + i), stream, 2_000 + i, 3_000 + i, info.id, Trade(1.0, 1.0, "buy", str(i)))
            for i in range(TRADES)
        ]
    )
    await store.end_session(info.id, ended_ns=10_000_000)
    await store.close()
    return info.id


@pytest.mark.asyncio
async def test_a_killed_replay_resumes_from_what_it_committed_and_gives_the_same_digest(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded(path)
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(KILLER), str(path), session, str(TRADES * 3 // 4), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == -9, stderr.decode()

    store = await open_sqlite_store(path)
    [crashed] = [s for s in await store.sessions() if s.source == RUN_SOURCE]
    committed = crashed.events - 2  # SessionStarted and the SessionEnded of the crash
    await store.close()
    assert crashed.status == "crashed", "the store marks the dead replay's run crashed when it is opened"
    assert 0 < committed < TRADES // EVERY

    spec = AnalyzerSpec("killer", lambda config, rng: TradeCounter(config["every"]), {"every": EVERY})
    run = RunConfig(ReplaySelection(sessions=(session,)), (spec,))
    resumed = await replay_run(AppConfig(db=path), run)
    uninterrupted = await replay_run(AppConfig(db=path, workers=2), run, write=False)
    assert resumed.resumed
    assert resumed.run == crashed.id
    assert (resumed.digest, resumed.events_out) == (uninterrupted.digest, uninterrupted.events_out)
    assert resumed.events_out == TRADES // EVERY
    cached = await replay_run(AppConfig(db=path), run)
    assert (cached.cached, cached.digest) == (True, resumed.digest)
