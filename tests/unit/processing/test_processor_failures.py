"""Failures: a failing handler call becomes dead letters and the processor goes on; cancellation is never
swallowed; a failing callback of the owner stops the processor loudly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from virtuoso.errors import ProcessorClosedError, ProcessorError
from virtuoso.events import Event, Note, Trade
from virtuoso.processing import DeadLetter, OptimizedProcessor, per_event

pytestmark = pytest.mark.asyncio


def trade(n: int, stream: str = "binance:BTC/USDT:trades") -> Event:
    return Event(f"e{n:06d}", stream, n, n, "s", Trade(100.0 + n, 1.0, "buy", str(n)))


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (a bounded number of loop turns, no timing)."""
    for _ in range(1_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def derived_from(e: Event) -> Event:
    return Event(f"d-{e.id}", "analysis:derived", e.ts_event, e.ts_recv, e.session, Note(e.id))


def refuse_odd(e: Event) -> Event:
    if e.ts_event % 2:
        raise ValueError(f"odd {e.ts_event}")
    return derived_from(e)


async def refuse_odd_async(e: Event) -> Event:
    await asyncio.sleep(0)
    return refuse_odd(e)


@pytest.mark.parametrize("fn", [refuse_odd, refuse_odd_async])
async def test_a_failing_per_event_call_dead_letters_that_event_only(fn: object) -> None:
    outputs: list[Event] = []
    reported: list[DeadLetter] = []
    proc = OptimizedProcessor(per_event(fn), workers=2, on_output=outputs.extend, on_failure=reported.append)  # type: ignore[arg-type]
    async with proc:
        await proc.submit_many(trade(n) for n in range(10))
    letters = proc.dead_letters
    assert sorted(letter.event.ts_event for letter in letters) == [1, 3, 5, 7, 9]
    assert reported == letters
    name = f"{__name__}.{fn.__name__}"  # type: ignore[attr-defined]
    assert {letter.handler for letter in letters} == {name}
    assert letters[0].error == f"ValueError: odd {letters[0].event.ts_event}"
    assert sorted(e.id for e in outputs) == [f"d-e{n:06d}" for n in range(0, 10, 2)]
    snapshot = proc.snapshot()
    assert (snapshot.dead_letters, snapshot.events_handled, snapshot.events_out) == (5, 10, 5)


async def test_a_failing_batch_call_dead_letters_the_whole_batch_and_the_next_batch_runs() -> None:
    handled: list[list[int]] = []

    async def fragile(batch: Sequence[Event]) -> list[Event]:
        if any(e.ts_event == 5 for e in batch):
            raise RuntimeError("bad batch")
        handled.append([e.ts_event for e in batch])
        return [derived_from(e) for e in batch]

    outputs: list[Event] = []
    proc = OptimizedProcessor(fragile, workers=1, batch_size=4, on_output=outputs.extend)
    async with proc:
        await proc.submit_many(trade(n) for n in range(10))
    assert handled == [[0, 1, 2, 3], [8, 9]]
    assert [letter.event.ts_event for letter in proc.dead_letters] == [4, 5, 6, 7]
    assert {letter.error for letter in proc.dead_letters} == {"RuntimeError: bad batch"}
    assert proc.dead_letters[0].handler == f"{__name__}.{fragile.__qualname__}"
    assert len(outputs) == 6


async def test_a_handler_raising_cancelled_error_is_not_a_dead_letter_and_stops_the_processor() -> None:
    def cancels(e: Event) -> None:
        if e.ts_event == 2:
            raise asyncio.CancelledError

    proc = OptimizedProcessor(per_event(cancels), workers=1)
    with pytest.raises(ProcessorError, match="worker 0 of processor 'processor' was cancelled"):
        async with proc:
            await proc.submit_many(trade(n) for n in range(5))
    assert proc.dead_letters == []
    assert proc.snapshot().events_abandoned == 5  # the call raising it took all five
    with pytest.raises(ProcessorError):
        await proc.submit(trade(9))


async def test_cancelling_the_owner_cancels_the_handlers_and_propagates() -> None:
    running = asyncio.Event()
    outcome: list[str] = []

    async def slow(e: Event) -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("handler cancelled")
            raise

    proc = OptimizedProcessor(per_event(slow), workers=1)

    async def owner() -> None:
        async with proc:
            await proc.submit(trade(0))
            await asyncio.Event().wait()

    task = asyncio.create_task(owner())
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["handler cancelled"]
    assert proc.state == "closed"
    assert proc.dead_letters == []
    with pytest.raises(ProcessorClosedError):
        await proc.submit(trade(1))


async def test_cancelling_close_while_it_drains_stops_the_workers() -> None:
    release = asyncio.Event()

    async def held(e: Event) -> None:
        await release.wait()

    proc = OptimizedProcessor(per_event(held), workers=2)
    proc.start()
    await proc.submit_many(trade(n, f"s{n}") for n in range(4))
    closing = asyncio.create_task(proc.close())
    for _ in range(5):
        await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert proc.state == "closed"
    assert proc.snapshot().events_abandoned == 4


async def test_an_on_output_callback_that_raises_stops_the_processor_loudly() -> None:
    def broken_sink(events: Sequence[Event]) -> None:
        raise OSError("sink is gone")

    proc = OptimizedProcessor(per_event(derived_from), workers=1, on_output=broken_sink)
    proc.start()
    await proc.submit(trade(0))
    with pytest.raises(ProcessorError, match="sink is gone") as caught:
        await proc.drain()
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(ProcessorError, match="stopped"):
        await proc.submit(trade(1))
    with pytest.raises(ProcessorError, match="sink is gone"):
        await proc.close()


async def test_a_submitter_waiting_for_room_hears_when_the_processor_stops() -> None:
    release = asyncio.Event()

    async def held(e: Event) -> Event:
        await release.wait()
        return derived_from(e)

    def broken_sink(events: Sequence[Event]) -> None:
        raise OSError("sink is gone")

    proc = OptimizedProcessor(per_event(held), workers=1, capacity=1, on_output=broken_sink)
    proc.start()
    await proc.submit(trade(0))
    await until(lambda: proc.snapshot().in_flight == 1)  # the worker holds trade 0
    await proc.submit(trade(1))
    blocked = asyncio.create_task(proc.submit(trade(2)))
    await until(lambda: proc.snapshot().blocked_submitters == 1)
    release.set()
    with pytest.raises(ProcessorError, match="sink is gone"):
        await blocked
    with pytest.raises(ProcessorError):
        await proc.close()


async def test_a_handler_cannot_close_or_drain_its_own_processor() -> None:
    proc: OptimizedProcessor

    async def closes(e: Event) -> None:
        await (proc.close() if e.ts_event == 0 else proc.drain())

    proc = OptimizedProcessor(per_event(closes), workers=1)
    async with proc:
        await proc.submit(trade(0))
        await proc.submit(trade(1))
    errors = [letter.error for letter in proc.dead_letters]
    assert errors == [
        "UsageError: a handler cannot close its own processor: it would wait for itself",
        "UsageError: a handler cannot drain its own processor: it would wait for itself",
    ]
