"""Analyzers in a replay: built by the container, chained, deterministic across workers and chunk sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.analysis import AnalyzerPipeline, resolve
from virtuoso.app import AppConfig, Runtime, build_container
from virtuoso.events import Event, Trade
from virtuoso.replay import ReplayOptions, ReplaySelection, RunConfig, analyzers_named, replay_run
from virtuoso.store import EventStore, open_sqlite_store

S = 1_000_000_000


async def _session(path: Path, trades: int = 3000) -> str:
    store = await open_sqlite_store(path)
    info = await store.begin_session("walk", "test", started_ns=0)
    price = 100.0
    events = []
    for i in range(trades):
        price += ((i * 7919) % 13 - 6) * 0.05
        side = "buy" if (i * 31) % 5 < 3 else "sell"
        stream = "x:BTC/USDT:trades" if i % 3 else "x:ETH/USDT:trades"
        events.append(Event(f"t{i}", stream, i * 2 * S, i * 2 * S, info.id, Trade(price, 1.0 + i % 4, side, str(i))))
    await store.append(events)
    await store.end_session(info.id, ended_ns=trades * 2 * S)
    await store.close()
    return info.id


@pytest.mark.asyncio
async def test_the_container_builds_the_pipeline_per_run(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await _session(path, 600)
    container = build_container("replay", AppConfig(db=path), analyzers=resolve("rsi"))
    try:
        await container.aresolve(EventStore)
        async with container.scope() as scope:
            first = await scope.aresolve(AnalyzerPipeline)
            runtime = await scope.aresolve(Runtime)
            derived = await runtime.run(session)
        async with container.scope() as scope:
            second = await scope.aresolve(AnalyzerPipeline)
    finally:
        await container.aclose()
    assert [a.name for a in first.analyzers] == ["bars", "rsi"]
    assert first is not second
    assert first.analyzers[1] is not second.analyzers[1]
    assert {e.type for e in derived} == {"Bar", "IndicatorValue"}


@pytest.mark.asyncio
async def test_default_set_replays_to_one_digest_across_workers_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await _session(path)
    run = RunConfig(ReplaySelection(sessions=(session,)), analyzers_named("default"))
    digests = set()
    for workers, chunk in ((1, 5000), (4, 997), (8, 64)):
        result = await replay_run(
            AppConfig(db=path, workers=workers), run, options=ReplayOptions(chunk_size=chunk), write=False
        )
        digests.add((result.events_out, result.digest))
    [(events_out, _)] = digests
    assert events_out > 100
