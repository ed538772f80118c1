"""The processor's core promises: everything is handled, per-key order, one worker per key, priority,
batches, backpressure, drain and its lifecycle."""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence

import pytest

from virtuoso.errors import ProcessorClosedError, UsageError
from virtuoso.events import Event, Note, Payload, Trade
from virtuoso.processing import Lane, OptimizedProcessor, per_event

pytestmark = pytest.mark.asyncio


def trade(n: int, stream: str = "binance:BTC/USDT:trades") -> Event:
    return event(n, stream, Trade(100.0 + n, 1.0, "buy", str(n)))


def note(n: int, stream: str = "system:s:notes") -> Event:
    return event(n, stream, Note(f"note {n}"))


def event(n: int, stream: str, payload: Payload) -> Event:
    return Event(f"e{n:06d}", stream, n, n, "s", payload)


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (a bounded number of loop turns, no timing)."""
    for _ in range(1_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


class Gate:
    """A per-event handler that records events and, while closed, holds the first one it gets."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.started = asyncio.Event()
        self.seen: list[str] = []

    async def __call__(self, e: Event) -> None:
        self.started.set()
        await self.open.wait()
        self.seen.append(e.id)


async def test_everything_submitted_is_handled_before_close_returns() -> None:
    seen: list[str] = []

    async def record(e: Event) -> None:
        seen.append(e.id)

    events = [trade(n, f"binance:S{n % 10}/USDT:trades") for n in range(1_000)]
    async with OptimizedProcessor(per_event(record), workers=4, capacity=50, batch_size=16) as proc:
        for e in events:
            await proc.submit(e)
    assert sorted(seen) == [e.id for e in events]
    assert proc.snapshot().events_handled == 1_000


async def test_each_key_is_handled_in_submission_order_by_several_workers() -> None:
    seen: dict[str, list[int]] = defaultdict(list)

    async def uneven(e: Event) -> None:
        for _ in range(zlib.crc32(e.id.encode()) % 4):  # calls take different numbers of loop turns
            await asyncio.sleep(0)
        seen[e.stream].append(e.ts_event)

    events = [trade(n, f"binance:S{n % 7}/USDT:trades") for n in range(700)]
    async with OptimizedProcessor(per_event(uneven), workers=4, batch_size=8) as proc:
        await proc.submit_many(events[:350])
        for e in events[350:]:
            await proc.submit(e)
    assert len(seen) == 7
    for stream, order in seen.items():
        assert order == sorted(order), stream
        assert len(order) == 100


async def test_a_key_always_goes_to_the_worker_crc32_of_the_key_picks() -> None:
    workers_of: dict[str, set[str]] = defaultdict(set)

    def where(e: Event) -> None:
        task = asyncio.current_task()
        assert task is not None
        workers_of[e.stream].add(task.get_name())

    streams = [f"binance:S{i}/USDT:trades" for i in range(12)]
    async with OptimizedProcessor(per_event(where), workers=3, name="p", batch_size=2) as proc:
        for n in range(120):
            await proc.submit(trade(n, streams[n % 12]))
    for stream in streams:
        assert workers_of[stream] == {f"p-worker-{zlib.crc32(stream.encode()) % 3}"}


async def test_a_custom_key_keeps_order_per_key_across_streams() -> None:
    seen: list[tuple[str, int]] = []

    async def record(e: Event) -> None:
        await asyncio.sleep(0)
        seen.append((e.stream.split(":")[1], e.ts_event))

    def symbol(e: Event) -> str:
        return e.stream.split(":")[1]

    async with OptimizedProcessor(per_event(record), workers=4, key=symbol, batch_size=3) as proc:
        for n in range(60):
            await proc.submit(trade(n, f"{['binance', 'kraken'][n % 2]}:S{n % 3}/USD:trades"))
    for sym in ("S0/USD", "S1/USD", "S2/USD"):
        order = [ts for s, ts in seen if s == sym]
        assert order == sorted(order)
        assert len(order) == 20


async def test_a_worker_serves_its_most_urgent_lane_first() -> None:
    gate = Gate()
    async with OptimizedProcessor(per_event(gate), workers=1) as proc:
        await proc.submit(trade(0))
        await gate.started.wait()  # the worker holds trade 0
        for n in range(1, 4):
            await proc.submit(trade(n))
        await proc.submit(note(4))
        gate.open.set()
    assert gate.seen == ["e000000", "e000004", "e000001", "e000002", "e000003"]


async def test_batches_hold_one_lane_and_at_most_batch_size_events() -> None:
    batches: list[list[str]] = []

    async def handle(batch: Sequence[Event]) -> None:
        batches.append([e.type for e in batch])

    mixed = [note(n) if n % 2 else trade(n) for n in range(10)]
    async with OptimizedProcessor(handle, workers=1, batch_size=4) as proc:
        await proc.submit_many(mixed)  # no wait: the worker first runs with all ten queued
    assert batches == [["Note"] * 4, ["Note"], ["Trade"] * 4, ["Trade"]]


async def test_a_full_lane_makes_the_submitter_wait_and_drops_nothing() -> None:
    gate = Gate()
    async with OptimizedProcessor(per_event(gate), workers=1, capacity=2) as proc:
        await proc.submit(trade(0))
        await gate.started.wait()
        await proc.submit(trade(1))
        await proc.submit(trade(2))
        blocked = asyncio.create_task(proc.submit(trade(3)))
        await until(lambda: proc.snapshot().blocked_submitters == 1)
        assert not blocked.done()
        assert proc.snapshot().depths == {"system": 0, "market": 2, "analysis": 0}
        assert proc.try_submit(trade(4)) is False
        assert proc.try_submit(note(5)) is True  # another lane has room
        gate.open.set()
        await blocked
    assert gate.seen == ["e000000", "e000005", "e000001", "e000002", "e000003"]


async def test_submitters_waiting_when_close_begins_still_get_their_events_in() -> None:
    gate = Gate()
    proc = OptimizedProcessor(per_event(gate), workers=1, capacity=1)
    proc.start()
    await proc.submit(trade(0))
    await gate.started.wait()
    await proc.submit(trade(1))
    blocked = asyncio.create_task(proc.submit(trade(2)))
    await until(lambda: proc.snapshot().blocked_submitters == 1)
    closing = asyncio.create_task(proc.close())
    await until(lambda: proc.state == "closing")
    with pytest.raises(ProcessorClosedError, match="closing"):
        await proc.submit(trade(9))
    gate.open.set()
    await asyncio.gather(blocked, closing)
    assert gate.seen == ["e000000", "e000001", "e000002"]
    with pytest.raises(ProcessorClosedError, match="closed"):
        await proc.submit(trade(10))


async def test_drain_waits_for_everything_submitted_and_the_processor_keeps_running() -> None:
    seen: list[str] = []

    async def record(e: Event) -> None:
        await asyncio.sleep(0)
        seen.append(e.id)

    async with OptimizedProcessor(per_event(record), workers=2) as proc:
        await proc.submit_many(trade(n) for n in range(20))
        await proc.drain()
        assert len(seen) == 20
        assert proc.snapshot().in_flight == 0
        await proc.submit(trade(20))
    assert len(seen) == 21


async def test_submitting_outside_the_running_state_is_refused() -> None:
    proc = OptimizedProcessor(per_event(lambda e: None))
    with pytest.raises(ProcessorClosedError, match="not started"):
        await proc.submit(trade(0))
    with pytest.raises(ProcessorClosedError, match="not started"):
        await proc.submit_many([trade(0)])
    with pytest.raises(ProcessorClosedError, match="not started"):
        proc.try_submit(trade(0))
    async with proc:
        with pytest.raises(UsageError, match="already started"):
            proc.start()
    await proc.close()  # closing twice is harmless
    with pytest.raises(ProcessorClosedError):
        await proc.submit(trade(1))


async def test_a_processor_never_started_closes_without_fuss() -> None:
    proc = OptimizedProcessor(per_event(lambda e: None))
    await proc.close()
    with pytest.raises(UsageError, match="already started"):
        proc.start()


async def test_abort_stops_at_once_and_reports_what_was_left() -> None:
    gate = Gate()
    proc = OptimizedProcessor(per_event(gate), workers=1)
    proc.start()
    await proc.submit(trade(0))
    await gate.started.wait()
    for n in range(1, 5):
        await proc.submit(trade(n))
    await proc.abort()
    snapshot = proc.snapshot()
    assert gate.seen == []
    assert snapshot.depths["market"] == 4
    assert (snapshot.events_in, snapshot.events_handled, snapshot.events_abandoned, snapshot.in_flight) == (5, 0, 1, 0)
    assert proc.state == "closed"
    with pytest.raises(ProcessorClosedError):
        await proc.submit(trade(6))


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"workers": 0}, "workers"),
        ({"capacity": 0}, "capacity"),
        ({"batch_size": 0}, "batch_size"),
        ({"stats_interval_ns": 1_000}, "on_stats"),
        ({"stats_interval_ns": 0, "on_stats": print}, "positive"),
        ({"lanes": [Lane("market", 0, ("market.*",)), Lane("market", 1, ("*",))]}, "distinct"),
    ],
)
async def test_options_that_cannot_work_are_refused(options: dict[str, object], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        OptimizedProcessor(per_event(lambda e: None), **options)  # type: ignore[arg-type]


async def test_an_event_no_lane_takes_is_refused_not_dropped() -> None:
    async with OptimizedProcessor(per_event(lambda e: None), lanes=[Lane("market", 0, ("market.*",))]) as proc:
        with pytest.raises(UsageError, match=r"no lane takes topic 'system\.note'"):
            await proc.submit(note(0))
        assert proc.snapshot().events_in == 0


async def test_a_failing_body_still_drains_before_its_error_propagates() -> None:
    seen: list[str] = []

    async def record(e: Event) -> None:
        await asyncio.sleep(0)
        seen.append(e.id)

    proc = OptimizedProcessor(per_event(record), workers=2)

    async def body() -> None:
        async with proc:
            await proc.submit_many(trade(n) for n in range(10))
            raise KeyError("body")

    with pytest.raises(KeyError, match="body"):
        await body()
    assert len(seen) == 10
    assert proc.state == "closed"


async def test_a_waiting_submitter_resumes_once_its_lane_is_down_to_three_quarters() -> None:
    tokens: asyncio.Queue[None] = asyncio.Queue()

    async def one_per_token(e: Event) -> None:
        await tokens.get()

    async with OptimizedProcessor(per_event(one_per_token), workers=1, capacity=8, batch_size=1) as proc:
        await proc.submit(trade(0))
        await until(lambda: proc.snapshot().in_flight == 1)
        await proc.submit_many(trade(n) for n in range(1, 9))
        blocked = asyncio.create_task(proc.submit(trade(9)))
        await until(lambda: proc.snapshot().blocked_submitters == 1)
        tokens.put_nowait(None)  # trade 0 done, trade 1 taken: 7 of 8 waiting
        await until(lambda: proc.snapshot().depths["market"] == 7)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not blocked.done()
        tokens.put_nowait(None)  # trade 2 taken: 6 of 8, the low-water mark
        await blocked
        assert proc.snapshot().depths["market"] == 7
        for _ in range(8):
            tokens.put_nowait(None)
