"""Property: whatever the workers, batch sizes, capacities, call durations and submission pattern, each key's
events are handled in submission order, every event exactly once; deterministic mode adds input-order output."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.events import Event, Note, Trade
from virtuoso.processing import OptimizedProcessor, per_event

KEYS = 6


@dataclass(frozen=True)
class Scenario:
    """One run: the key and call duration (loop turns) of each event, how the producer submits, the options."""

    keys: list[int]
    turns: list[int]
    chunks: list[int]
    producer_yields: bool
    workers: int
    batch_size: int
    capacity: int
    deterministic: bool


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # runs of one key (a replay chunk of one market's trades goes to the processor as runs)
    runs = draw(st.lists(st.tuples(st.integers(0, KEYS - 1), st.integers(1, 30)), min_size=1, max_size=40))
    keys = [key for key, length in runs for _ in range(length)][:120]
    count = len(keys)
    return Scenario(
        keys=keys,
        turns=draw(st.lists(st.integers(0, 3), min_size=count, max_size=count)),
        chunks=draw(st.lists(st.integers(1, 40), min_size=1, max_size=8)),
        producer_yields=draw(st.booleans()),
        workers=draw(st.integers(1, 8)),
        batch_size=draw(st.integers(1, 16)),
        capacity=draw(st.integers(1, 32)),
        deterministic=draw(st.booleans()),
    )


def make_event(n: int, key: int, turns: int) -> Event:
    """Keys 0-1 are system notes (the urgent lane), the others trades; ``turns`` rides in ts_recv."""
    stream = f"k{key}"
    payload: Note | Trade = Note(str(n)) if key < 2 else Trade(1.0, 1.0, "buy", str(n))
    return Event(f"e{n:04d}", stream, n, turns, "s", payload)


async def run(scenario: Scenario) -> tuple[list[Event], dict[str, list[int]], list[str]]:
    pairs = zip(scenario.keys, scenario.turns, strict=True)
    events = [make_event(n, key, turn) for n, (key, turn) in enumerate(pairs)]
    chunks = scenario.chunks
    handled: dict[str, list[int]] = defaultdict(list)
    outputs: list[str] = []

    async def handle(e: Event) -> Event:
        for _ in range(e.ts_recv):
            await asyncio.sleep(0)
        handled[e.stream].append(e.ts_event)
        return Event(f"out-{e.id}", "derived", e.ts_event, 0, "s", Note(e.id))

    proc = OptimizedProcessor(
        per_event(handle),
        workers=scenario.workers,
        batch_size=scenario.batch_size,
        capacity=scenario.capacity,
        deterministic=scenario.deterministic,
        on_output=lambda derived: outputs.extend(e.id for e in derived),
    )
    async with proc:
        position, chunk = 0, 0
        while position < len(events):
            size = chunks[chunk % len(chunks)]
            part = events[position : position + size]
            if chunk % 3 == 1:
                await proc.submit_many(part)
            elif chunk % 3 == 2:  # what fits at once, then the rest waiting for room
                taken = proc.try_submit_many(part)
                await proc.submit_many(part[taken:])
            else:
                for e in part:
                    await proc.submit(e)
            if scenario.producer_yields:
                await asyncio.sleep(0)
            position += size
            chunk += 1
    return events, handled, outputs


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios())
def test_each_key_is_handled_in_submission_order_exactly_once(scenario: Scenario) -> None:
    events, handled, outputs = asyncio.run(run(scenario))
    expected: dict[str, list[int]] = defaultdict(list)
    for e in events:
        expected[e.stream].append(e.ts_event)
    assert handled == expected
    assert sorted(outputs) == [f"out-{e.id}" for e in events]
    if scenario.deterministic:
        assert outputs == [f"out-{e.id}" for e in events]
