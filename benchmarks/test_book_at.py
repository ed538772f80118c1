"""The book at a random time: seeking from a checkpoint against replaying from the start.

Data: one session of N synthetic BookDelta events on ``binance:BTC/USDT:book``
(``synthetic_book_events``, seeded: 500 levels a side at the start, 1 to 8 level
changes a delta, 10 ms apart, a REST-style snapshot after the third delta),
recorded by our store, then checkpointed with ``write_checkpoints`` at the default
interval. Built once, before any timing; both sides open that log read-only.

Ours: ``book_at(store, session, stream, t, depth=20)`` for Q seeded random
times ``t`` across the session: find the latest checkpoint at or before ``t``,
restore it, apply the deltas after it up to ``t``.

Baseline: the same Q calls with ``use_checkpoints=False``: every delta of the
session from its start up to ``t``.

Both sides must return the same books (checked after timing). The ratio is the
speed-up of seeking (target: :func:`target`); ``extra_info`` also records the milliseconds per query of
each side (``book_at_ms``, ``replay_ms``).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from benchmarks.workloads import fresh_store
from virtuoso.book import SYNTHETIC_START_NS, BookState, book_at, synthetic_book_events, write_checkpoints
from virtuoso.store import open_sqlite_store

pytestmark = pytest.mark.timeout(3600)

STREAM = "binance:BTC/USDT:book"
SESSION_ID = "bench0000session"
STEP_NS = 10_000_000
QUERIES = 4


def target(deltas: int) -> float:
    """The speed-up to reach: N / 10,000, at least 5 (100x at 1M deltas).

    Replaying costs time in proportion to the session's length, a seek only in
    proportion to the checkpoint interval, so the speed-up grows with N.
    """
    return max(5.0, deltas / 10_000)


async def _record(path: Path, deltas: int) -> None:
    store = await fresh_store(path)
    try:
        async with store.writer() as writer:
            await writer.write_many(synthetic_book_events(SESSION_ID, STREAM, deltas, seed=1, step_ns=STEP_NS))
        await write_checkpoints(store, SESSION_ID, STREAM)
        await store.end_session(SESSION_ID, ended_ns=SYNTHETIC_START_NS + deltas * STEP_NS)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def book_log(tmp_path_factory: pytest.TempPathFactory, scale: Scale) -> Path:
    """A log of ``scale.events`` synthetic deltas with their checkpoints (rounds only read it)."""
    path = tmp_path_factory.mktemp("book-log") / "events.sqlite"
    asyncio.run(_record(path, scale.events))
    return path


def query_times(deltas: int) -> list[int]:
    """``QUERIES`` seeded random exchange times within the session's deltas."""
    rng = random.Random(20240808)
    return [SYNTHETIC_START_NS + rng.randrange(deltas * STEP_NS) for _ in range(QUERIES)]


def side(runner: asyncio.Runner, log: Path, times: list[int], results: list[BookState], *, checkpoints: bool) -> Side:
    """One side: the log opened read-only (untimed); the ``book_at`` calls are timed."""

    def prepare(_directory: Path) -> Prepared:
        store = runner.run(open_sqlite_store(log, readonly=True))

        async def query() -> None:
            books = [await book_at(store, SESSION_ID, STREAM, t, depth=20, use_checkpoints=checkpoints) for t in times]
            results[:] = books

        return Prepared(run=lambda: runner.run(query()), cleanup=lambda: runner.run(store.close()))

    return prepare


def test_book_at(benchmark: object, runner: asyncio.Runner, scale: Scale, book_log: Path, tmp_path: Path) -> None:
    times = query_times(scale.events)
    seeked: list[BookState] = []
    replayed: list[BookState] = []
    case = RatioCase(
        "book.book_at",
        target=target(scale.events),
        events=len(times),
        rounds=min(scale.rounds, 3),
        ours=side(runner, book_log, times, seeked, checkpoints=True),
        baseline=side(runner, book_log, times, replayed, checkpoints=False),
    )
    result = measure(benchmark, case, tmp_path)
    assert seeked == replayed
    assert all(book.in_sync for book in seeked)
    benchmark.extra_info.update(  # type: ignore[attr-defined]
        book_at_ms=round(1000 * min(result.ours_s) / len(times), 3),
        replay_ms=round(1000 * min(result.baseline_s) / len(times), 3),
        deltas=scale.events,
    )
