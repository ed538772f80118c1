"""Property: for random sessions, a run's digest does not depend on the processor's worker count, the read
chunk size, or on the run being cut in two by a crash and resumed."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.app import AppConfig
from virtuoso.events import Event, EventIdFactory, Note, Quote, Trade
from virtuoso.replay import AnalyzerSpec, ReplayOptions, ReplaySelection, RunConfig, analyzers_named, replay_run
from virtuoso.store import open_sqlite_store

STREAMS = ("binance:BTC/USDT:trades", "binance:ETH/USDT:trades", "binance:BTC/USDT:quotes", "notes:ops:log")
ANALYZERS = tuple(
    AnalyzerSpec(spec.name, spec.factory, {"every": 3}) for spec in analyzers_named("trade-count,vwap-notes")
)


class Crash(Exception):
    """Stands for the replaying process dying between two chunks."""


@dataclass(frozen=True)
class Scenario:
    """A session (stream index, ts_event step, receive delay, amount of each event) and how to replay it."""

    events: list[tuple[int, int, int, int]]
    order: str
    workers: tuple[int, int, int]
    chunks: tuple[int, int, int]


def _payload(stream: int, i: int, amount: int) -> Trade | Quote | Note:
    if stream < 2:
        return Trade(100.0 + amount % 7, (amount + 1) / 10, "buy" if i % 2 else "sell", str(i))
    if stream == 2:
        return Quote(99.0, 1.0, 101.0 + amount, 2.0)
    return Note(f"note {i}")


async def _record(path: Path, scenario: Scenario) -> str:
    store = await open_sqlite_store(path)
    info = await store.begin_session("property", "test", started_ns=0)
    ids = EventIdFactory(info.id)
    ts, rows = 1_000, []
    for i, (stream, step, delay, amount) in enumerate(scenario.events):
        ts += step
        rows.append(Event(ids(ts), STREAMS[stream], ts, ts + delay, info.id, _payload(stream, i, amount)))
    await store.append(rows)
    await store.close()
    return info.id


async def _digests(path: Path, scenario: Scenario) -> tuple[str, str, str, bool]:
    session = await _record(path, scenario)
    run = RunConfig(ReplaySelection(sessions=(session,), order=scenario.order), ANALYZERS)  # type: ignore[arg-type]
    (w1, w2, w3), (c1, c2, c3) = scenario.workers, scenario.chunks
    first = await replay_run(AppConfig(db=path, workers=w1), run, options=ReplayOptions(chunk_size=c1), write=False)
    second = await replay_run(AppConfig(db=path, workers=w2), run, options=ReplayOptions(chunk_size=c2), write=False)
    half = (len(scenario.events) + 2) // c3 // 2

    def crash_halfway(events_in: int) -> None:
        if events_in >= half * c3:
            raise Crash

    crashed = False
    try:
        await replay_run(
            AppConfig(db=path, workers=w3), run, options=ReplayOptions(chunk_size=c3), on_progress=crash_halfway
        )
    except Crash:
        crashed = True
    resumed = await replay_run(AppConfig(db=path, workers=w2), run, options=ReplayOptions(chunk_size=c1))
    assert resumed.resumed == crashed
    return first.digest, second.digest, resumed.digest, crashed


scenarios = st.builds(
    Scenario,
    events=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 50), st.integers(0, 40)),
        min_size=1,
        max_size=120,
    ),
    order=st.sampled_from(["position", "exchange-time"]),
    workers=st.tuples(*[st.sampled_from([1, 2, 5, 8])] * 3),
    chunks=st.tuples(*[st.sampled_from([1, 3, 16, 5000])] * 3),
)


@settings(max_examples=25, deadline=None)
@given(scenarios)
def test_the_digest_ignores_workers_chunks_and_a_crash_with_resume(scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as folder:
        first, second, resumed, _ = asyncio.run(_digests(Path(folder) / "log.sqlite", scenario))
    assert first == second == resumed
