"""Live and replay give the same derived events, byte for byte.

A real Binance capture is imported (the stand-in for a live recording until the
loopback exchange exists); the analyzers then run on it in **live** mode (the live
container: LiveClock, the recorder writing their notes into the log) while a
source publishes the recorded events as an exchange adapter would. The session
is then replayed into a run, and the run's derived events must have the same
canonical encoding as the live ones, in the same order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import require_data
from virtuoso.app import AppConfig, Runtime, build_container
from virtuoso.clock import Clock, LiveClock
from virtuoso.events import Event
from virtuoso.importers import import_files
from virtuoso.replay import AnalyzerSpec, ReplaySelection, RunConfig, analyzers_named, canonical, replay_run
from virtuoso.store import EventFilter, EventStore, open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
ANALYZERS = tuple(
    AnalyzerSpec(spec.name, spec.factory, {"every": 100}) for spec in analyzers_named("trade-count,vwap-notes")
)
DERIVED = ("analysis:trade-count", "analysis:vwap")


class RecordedFeed:
    """A live source publishing a recorded session's events, one by one, as an exchange adapter would."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def run(self, runtime: Runtime, session: str) -> None:
        async for event in self._store.read(EventFilter(session=session)):
            await runtime.publish(event)


async def _live(path: Path, session: str) -> list[Event]:
    handlers = [spec.build(None) for spec in ANALYZERS]  # type: ignore[arg-type]
    config = AppConfig(db=path, record_topics=("system.note",))
    container = build_container("live", config, handlers=handlers, source=RecordedFeed)
    assert isinstance(await container.aresolve(Clock), LiveClock)  # type: ignore[type-abstract]
    async with container.scope() as scope:
        await (await scope.aresolve(Runtime)).run(session)
    store = await container.aresolve(EventStore)
    live = [e async for e in store.read(EventFilter(session=session, streams=DERIVED))]
    await container.aclose()
    return live


@pytest.mark.asyncio
async def test_replayed_derived_events_equal_the_live_ones_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    store = await open_sqlite_store(path)
    report = await import_files(store, "binance-capture", [require_data(CAPTURE)])
    await store.close()

    live = await _live(path, report.session)
    result = await replay_run(
        AppConfig(db=path, workers=8), RunConfig(ReplaySelection(sessions=(report.session,)), ANALYZERS)
    )
    store = await open_sqlite_store(path)
    replayed = [e async for e in store.read(EventFilter(session=result.run))]
    await store.close()
    replayed = [e for e in replayed if e.stream in DERIVED]

    assert len(live) > 100
    assert [canonical(e) for e in replayed] == [canonical(e) for e in live]
    assert all(e.causation for e in live)


@pytest.mark.asyncio
async def test_analyzers_running_during_a_loopback_recording_equal_their_replay(tmp_path: Path) -> None:
    """The issue's test proper: a live recording from the loopback exchange, analyzers running in it."""
    from tests.integration.test_record_loopback import _config, _data_dir, _stop_at_trade
    from virtuoso.exchange import record
    from virtuoso.testing import LoopbackExchange

    path = tmp_path / "live.sqlite"
    async with LoopbackExchange(_data_dir(), speed=0, max_messages=6_000) as ex:
        last_trade = max(int(f.data["t"]) for f in ex.capture.frames if f.event == "trade")
        stop = asyncio.Event()
        handlers = [*(spec.build(None) for spec in ANALYZERS), _stop_at_trade(last_trade, stop)]  # type: ignore[arg-type]
        summary = await asyncio.wait_for(record(_config(ex), path, stop=stop, handlers=handlers), 30)
    store = await open_sqlite_store(path)
    live = [e async for e in store.read(EventFilter(session=summary["session"], streams=DERIVED))]
    trades = {e.position for e in await _events(store, summary["session"]) if e.type == "Trade"}
    await store.close()

    result = await replay_run(
        AppConfig(db=path, workers=4), RunConfig(ReplaySelection(sessions=(summary["session"],)), ANALYZERS)
    )
    store = await open_sqlite_store(path)
    replayed = [e for e in await _events(store, result.run) if e.stream in DERIVED]
    await store.close()

    assert len(live) > 10
    assert {e.causation for e in live} <= trades  # live outputs point at their inputs' log positions
    assert [canonical(e) for e in replayed] == [canonical(e) for e in live]


async def _events(store: EventStore, session: str) -> list[Event]:
    return [e async for e in store.read(EventFilter(session=session))]
