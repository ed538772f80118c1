"""Runs: stamped derived events, the manifest, the digest, the cache, forced reruns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.replay._support import BTC, ETH
from virtuoso.app import AppConfig
from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.replay import (
    RUN_SOURCE,
    AnalyzerSpec,
    ReplayOptions,
    ReplaySelection,
    RunConfig,
    analyzers_named,
    canonical,
    replay_run,
)
from virtuoso.store import EventFilter, open_sqlite_store

EVERY_10 = tuple(
    AnalyzerSpec(spec.name, spec.factory, {"every": 10}) for spec in analyzers_named("trade-count,vwap-notes")
)


async def recorded(path: Path, trades: int = 2_000) -> str:
    store = await open_sqlite_store(path)
    info = await store.begin_session("input", "test", started_ns=1_000)
    ids = EventIdFactory(info.id)
    await store.append(
        [
            Event(
                ids(2_000 + i),
                (BTC, ETH)[i % 2],
                2_000 + i,
                3_000 + i,
                info.id,
                Trade(100.0 + i % 13, 0.5, "buy", str(i)),
            )
            for i in range(trades)
        ]
    )
    await store.end_session(info.id, ended_ns=10_000_000)
    await store.close()
    return info.id


@pytest.mark.asyncio
async def test_the_digest_does_not_depend_on_workers_or_read_chunks(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    run = RunConfig(ReplaySelection(sessions=(await recorded(path),)), EVERY_10)
    digests = set()
    for workers, chunk in ((1, 5_000), (8, 7), (3, 256)):
        result = await replay_run(
            AppConfig(db=path, workers=workers), run, options=ReplayOptions(chunk_size=chunk), write=False
        )
        digests.add(result.digest)
        assert (result.events_in, result.events_out) == (2_002, 400)
    assert len(digests) == 1


@pytest.mark.asyncio
async def test_a_run_is_a_session_with_a_manifest_and_stamped_derived_events(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded(path)
    result = await replay_run(AppConfig(db=path), RunConfig(ReplaySelection(sessions=(session[:8],)), EVERY_10, seed=7))
    store = await open_sqlite_store(path)
    info = await store.session(result.run)
    derived = [e async for e in store.read(EventFilter(session=result.run, types=("Note",)))]
    inputs = {e.position: e async for e in store.read(EventFilter(session=session))}
    await store.close()
    assert info.source == RUN_SOURCE
    assert info.status == "closed"
    config = info.manifest["config"]
    assert config["inputs"]["sessions"] == [session], "prefixes are stored as full ids"
    assert [a["name"] for a in config["analyzers"]] == ["trade-count", "vwap-notes"]
    assert config["analyzers"][0]["config"] == {"every": 10}
    assert len(config["analyzers"][0]["hash"]) == 64
    assert config["seed"] == 7
    assert {"virtuoso", "msgspec", "python"} <= set(config["versions"])
    assert info.config_hash == result.key
    assert len(derived) == result.events_out == 400
    first = derived[0]
    assert first.session == result.run
    assert first.id == f"{result.run[:20]}:{first.causation}:0"
    assert derived[1].id == f"{result.run[:20]}:{derived[1].causation}:1"
    assert first.causation is not None
    cause = inputs[first.causation]
    assert isinstance(cause.payload, Trade)
    assert (first.ts_event, first.ts_recv) == (cause.ts_event, cause.ts_recv)


@pytest.mark.asyncio
async def test_a_second_run_finds_the_cached_one_and_force_computes_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    run = RunConfig(ReplaySelection(sessions=(await recorded(path),)), EVERY_10)
    first = await replay_run(AppConfig(db=path), run)
    again = await replay_run(AppConfig(db=path), run)
    forced = await replay_run(AppConfig(db=path), run, force=True)
    other = await replay_run(AppConfig(db=path), RunConfig(run.selection, EVERY_10[:1]))
    assert (again.run, again.digest, again.cached, again.events_in) == (first.run, first.digest, True, first.events_in)
    assert not first.cached
    assert not forced.cached
    assert forced.run != first.run
    assert forced.digest == first.digest
    assert other.run not in (first.run, forced.run)
    assert other.digest != first.digest


@pytest.mark.asyncio
async def test_a_failing_analyzer_becomes_part_of_the_run_the_same_way_every_time(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await recorded(path, trades=50)

    def dislikes_sevens(config: object, rng: object) -> object:
        def handler(event: Event) -> None:
            if isinstance(event.payload, Trade) and event.payload.trade_id.endswith("7"):
                raise ValueError("seven")

        return handler

    run = RunConfig(ReplaySelection(sessions=(session,)), (AnalyzerSpec("sevens", dislikes_sevens),))  # type: ignore[arg-type]
    one = await replay_run(AppConfig(db=path, workers=1), run, write=False)
    eight = await replay_run(AppConfig(db=path, workers=8), run)
    assert one.digest == eight.digest
    assert eight.events_out == 5


def test_canonical_leaves_out_what_names_the_run_and_what_the_store_assigns() -> None:
    note = Trade(1.0, 2.0, "sell", "9")
    one = Event("id-1", "analysis:x", 1, 2, "run-1", note, causation=5, version=3, position=9)
    two = Event("id-2", "analysis:x", 1, 2, "run-2", note, causation=5)
    assert canonical(one) == canonical(two)
    assert canonical(one) != canonical(Event("id-1", "analysis:x", 1, 2, "run-1", note, causation=6))
