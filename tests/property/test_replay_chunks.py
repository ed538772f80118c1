"""Property: a replay through the built-in analyzers and a backtest give the same digest, derived-event
count and fills whatever the chunk size the replay reads and publishes in (the bus, the processor and the
backtest engine take a chunk at a time: none of it may show in the output)."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, StrategySpec, VenueConfig, run_backtest
from virtuoso.events import Event, EventIdFactory, Quote, Trade
from virtuoso.replay import ReplayOptions, ReplaySelection, RunConfig, analyzers_named, replay_run
from virtuoso.store import open_sqlite_store
from virtuoso.strategies import MovingAverageCross, MovingAverageCrossConfig

STREAMS = ("binance:BTC/USDT:trades", "binance:BTC/USDT:quotes")
MS = 1_000_000
ANALYZERS = analyzers_named(
    [{"name": "bars", "timeframes": ["1s", "3s"]}, {"name": "ema", "timeframe": "1s", "period": 3}, {"name": "cvd"}]
)
STRATEGY = StrategySpec(
    "virtuoso.strategies:MovingAverageCross",
    MovingAverageCross,
    MovingAverageCrossConfig(fast=2, slow=3, timeframe="1s", amount=0.001),
)


@dataclass(frozen=True)
class Scenario:
    """A session (stream, exchange-time step in ms, receive delay in ms, price move of each event) and chunk sizes."""

    events: list[tuple[int, int, int, int]]
    chunks: tuple[int, int]


async def _record(path: Path, scenario: Scenario) -> str:
    store = await open_sqlite_store(path)
    info = await store.begin_session("property", "test", started_ns=0)
    ids = EventIdFactory(info.id)
    ts, price, rows = 1_700_000_000_000 * MS, 100.0, []
    for i, (stream, step, delay, move) in enumerate(scenario.events):
        ts += step * MS
        price = max(1.0, price + move / 10)
        payload = Trade(price, 0.01 + i % 5 / 100, "buy" if move > 0 else "sell", str(i))
        if stream:
            payload = Quote(price - 0.5, 1.0, price + 0.5, 1.0)  # type: ignore[assignment]
        rows.append(Event(ids(ts), STREAMS[stream], ts, ts + delay * MS, info.id, payload))
    await store.append(rows)
    await store.end_session(info.id, ended_ns=ts + MS)
    await store.close()
    return info.id


async def _outcomes(path: Path, scenario: Scenario) -> list[tuple[object, ...]]:
    session = await _record(path, scenario)
    config = AppConfig(db=path, readonly=True)
    outcomes: list[tuple[object, ...]] = []
    for chunk in scenario.chunks:
        options = ReplayOptions(chunk_size=chunk)
        for order in ("position", "exchange-time"):
            run = RunConfig(ReplaySelection(sessions=(session,), order=order), ANALYZERS)  # type: ignore[arg-type]
            replayed = await replay_run(config, run, options=options, write=False)
            outcomes.append((order, replayed.events_in, replayed.events_out, replayed.digest))
        selection = ReplaySelection(sessions=(session,), order="exchange-time")
        backtest = BacktestConfig(selection, STRATEGY, VenueConfig(initial_cash=1_000.0))
        result = await run_backtest(config, backtest, options=options, write=False)
        outcomes.append(("backtest", result.events_in, len(result.fills), result.digest))
    return outcomes


scenarios = st.builds(
    Scenario,
    events=st.lists(
        st.tuples(st.sampled_from([0, 0, 0, 1]), st.integers(0, 700), st.integers(0, 30), st.integers(-20, 20)),
        min_size=1,
        max_size=150,
    ),
    chunks=st.tuples(st.sampled_from([1, 2, 7, 64]), st.sampled_from([3, 5000])),
)


@settings(max_examples=8, deadline=None)
@given(scenarios)
def test_outputs_do_not_depend_on_the_chunk_size(scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as folder:
        outcomes = asyncio.run(_outcomes(Path(folder) / "log.sqlite", scenario))
    half = len(outcomes) // 2
    assert outcomes[:half] == outcomes[half:]
    replays = [outcome for outcome in outcomes if outcome[0] != "backtest"]
    assert all(outcome[1] == len(scenario.events) + 2 for outcome in replays)  # + the session's lifecycle
