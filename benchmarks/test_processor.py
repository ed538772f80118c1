"""The processor against a bare ``asyncio.Queue`` moving the same events to the same no-op handler.

Ours: ``OptimizedProcessor`` with four lanes, four workers, per-key order (key: the
stream) and the default capacity; a producer awaits ``submit`` for each event, the
no-op handler runs per event through ``per_event``. Baseline: one unbounded
``asyncio.Queue``, a producer task awaiting ``put`` for each event and a consumer
task awaiting ``get`` and calling the handler. Both are timed from the first
event in to the last event handled, on one event loop kept for the whole case.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from virtuoso.events import Bar, Event, EventIdFactory, Note, Payload, Quote, Trade
from virtuoso.processing import Lane, OptimizedProcessor, per_event

LANES = (
    Lane("system", 0, ("system.*",)),
    Lane("trades", 1, ("market.trade",)),
    Lane("quotes", 2, ("market.quote",)),
    Lane("market", 3, ("market.*", "*")),
)
SYMBOLS = [f"S{i:02d}/USDT" for i in range(16)]
CAPACITY = 10_000
START_NS = 1_723_161_255_000_000_000


def mixed_events(count: int) -> list[Event]:
    """``count`` events spread evenly over the four lanes and 16 symbols (64 streams), 1 µs apart."""
    ids = EventIdFactory("bench-processor")
    events = []
    for i in range(count):
        ts = START_NS + i * 1_000
        kind = i % 4
        symbol = SYMBOLS[(i // 4) % len(SYMBOLS)]
        payload: Payload
        if kind == 0:
            payload, channel = Note(f"note {i}"), "notes"
        elif kind == 1:
            payload, channel = Trade(58_000.0 + i % 100, 0.01, "buy", str(i)), "trades"
        elif kind == 2:
            payload, channel = Quote(58_000.0, 1.0, 58_000.5, 2.0, i), "quotes"
        else:
            payload, channel = Bar("1s", ts, 1.0, 2.0, 0.5, 1.5, 10.0), "bars"
        events.append(Event(ids(ts), f"binance:{symbol}:{channel}", ts, ts, "bench", payload))
    return events


def noop(event: Event) -> None:
    """The handler both sides call once per event."""


@pytest.fixture(scope="module")
def events(scale: Scale) -> list[Event]:
    """The mixed events, built once for the module."""
    return mixed_events(scale.events)


def queue_side(runner: asyncio.Runner, events: list[Event]) -> Side:
    """The baseline: one unbounded asyncio.Queue, a producer task and a consumer task."""

    async def move() -> None:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()

        async def produce() -> None:
            for event in events:
                await queue.put(event)
            await queue.put(None)

        async def consume() -> None:
            while (event := await queue.get()) is not None:
                noop(event)

        await asyncio.gather(produce(), consume())

    return lambda directory: Prepared(run=lambda: runner.run(move()))


def processor_side(runner: asyncio.Runner, events: list[Event], *, deterministic: bool, workers: int) -> Side:
    """Ours: the processor over the same events, submitted one at a time."""

    async def move() -> None:
        proc = OptimizedProcessor(
            per_event(noop), lanes=LANES, workers=workers, capacity=CAPACITY, deterministic=deterministic
        )
        async with proc:
            for event in events:
                await proc.submit(event)
        snapshot = proc.snapshot()
        assert snapshot.events_handled == len(events), snapshot

    return lambda directory: Prepared(run=lambda: runner.run(move()))


def test_processor_four_lanes_per_key(
    benchmark: object, runner: asyncio.Runner, events: list[Event], scale: Scale, tmp_path: Path
) -> None:
    case = RatioCase(
        "processor 4 lanes per-key",
        target=0.7,
        events=len(events),
        rounds=scale.rounds,
        ours=processor_side(runner, events, deterministic=False, workers=4),
        baseline=queue_side(runner, events),
    )
    measure(benchmark, case, tmp_path)


def test_processor_deterministic_eight_workers(
    benchmark: object, runner: asyncio.Runner, events: list[Event], scale: Scale, tmp_path: Path
) -> None:
    case = RatioCase(
        "processor deterministic 8 workers",
        target=0.6,
        events=len(events),
        rounds=scale.rounds,
        ours=processor_side(runner, events, deterministic=True, workers=8),
        baseline=queue_side(runner, events),
    )
    measure(benchmark, case, tmp_path)
