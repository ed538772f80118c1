"""Replaying a session to a no-op subscriber against a raw ``SELECT`` plus msgspec decoding of the same rows.

Ours: ``build_container("replay", AppConfig(db=...))`` on a copy of the trades log,
a no-op subscriber on ``Trade``; timed is ``Runtime.run(session)`` in a fresh
scope: the Replayer reads the session in position order, moves the ReplayClock
to each event's ``ts_recv`` and publishes every event on the bus.

Baseline: the read floor of ``test_store_read.py``: the same events in the minimal
table, ``SELECT ... ORDER BY seq`` with stdlib ``sqlite3``, ``fetchmany`` and a
``msgspec.json.Decoder`` per payload class. (Until the columnar layout became the
default this read our own ``events`` table, which a columnar log does not have.)

A second case isolates what the replay adds **above the store**: the same replay
against its floor, ``store.read_chunks()`` of the session (the same chunk size as
the replay's) with a plain ``for`` loop calling the same no-op handler on each
decoded event. The store's read and decode are in both sides; the ratio is what the
replayer, the ReplayClock and the bus cost on top (issue 21: lean above the store).

The peer, NautilusTrader's backtest engine with a no-op strategy on the same
trades, is run in ``test_peer_nautilus.py``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks import test_store_read as read_case
from benchmarks.harness import Prepared, RatioCase, Side, measure
from benchmarks.test_store_read import copy_into
from benchmarks.workloads import SESSION_ID, TradeWorkload
from virtuoso.app import AnalyzerRecipe, AppConfig, EventHandler, Runtime, build_container
from virtuoso.bus import EventBus
from virtuoso.events import Event, Trade
from virtuoso.replay import Replayer, ReplayOptions
from virtuoso.store import EventFilter, EventStore, open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.7
LOOP_TARGET = 0.8


def _nothing(event: Event) -> None:
    return None


def ours(
    runner: asyncio.Runner,
    log: Path,
    expected: int,
    *,
    analyzers: Sequence[AnalyzerRecipe] = (),
    handlers: Sequence[EventHandler] = (),
) -> Side:
    """Our side: the container built and the store opened untimed; the replay of the session is timed.

    ``analyzers`` and ``handlers`` go to ``build_container`` (none: the replay alone, to a no-op subscriber).
    """

    def side(directory: Path) -> Prepared:
        path = directory / log.name
        shutil.copyfile(log, path)
        container = build_container("replay", AppConfig(db=path), analyzers=analyzers, handlers=handlers)

        async def prepare() -> None:
            await container.aresolve(EventStore)
            (await container.aresolve(EventBus)).subscribe(Trade, _nothing)

        async def replay() -> None:
            async with container.scope() as scope:
                runtime = await scope.aresolve(Runtime)
                await runtime.run(SESSION_ID)
                assert isinstance(runtime.source, Replayer)
                assert runtime.source.events_in == expected

        runner.run(prepare())
        return Prepared(run=lambda: runner.run(replay()), cleanup=lambda: runner.run(container.aclose()))

    return side


def test_replay_to_a_no_op_subscriber(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2  # the session's SessionStarted and SessionEnded
    case = RatioCase(
        "replay to a no-op subscriber",
        target=TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, expected),
        baseline=read_case.floor(read_case.floor_file(work.log, tmp_path), expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def plain_loop(runner: asyncio.Runner, log: Path, expected: int) -> Side:
    """The floor above the store: ``read_chunks`` of the session in the replay's chunk size, a plain loop
    calling the no-op handler on each event (the store opened untimed)."""

    def side(directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(copy_into(log, directory), readonly=True))

        async def read() -> None:
            count = 0
            handler = _nothing
            async for chunk in store.read_chunks(EventFilter(session=SESSION_ID), ReplayOptions().chunk_size):
                for event in chunk:
                    handler(event)
                count += len(chunk)
            assert count == expected

        return Prepared(run=lambda: runner.run(read()), cleanup=lambda: runner.run(store.close()))

    return side


def test_replay_against_a_plain_loop_over_the_decoded_events(
    benchmark: object, runner: asyncio.Runner, trade_workload: TradeWorkload, tmp_path: Path
) -> None:
    work = trade_workload
    expected = len(work.events) + 2
    case = RatioCase(
        "replay vs plain loop over read_chunks",
        target=LOOP_TARGET,
        events=expected,
        rounds=work.scale.rounds,
        ours=ours(runner, work.log, expected),
        baseline=plain_loop(runner, work.log, expected),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
