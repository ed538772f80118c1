"""Deterministic mode: derived events and dead letters come out in input order, byte for byte the same
whatever the number of workers, the lanes' priorities and how long each call takes."""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from collections.abc import Sequence

import msgspec
import pytest

from virtuoso.errors import UsageError
from virtuoso.events import Event, Note, Trade
from virtuoso.processing import BatchHandler, DeadLetter, OptimizedProcessor, PerEvent, per_event

pytestmark = pytest.mark.asyncio

STREAMS = [f"binance:S{i}/USDT:trades" for i in range(6)]


def inputs(count: int = 600) -> list[Event]:
    """Trades on six streams, with a system note every 17th event (the system lane overtakes the trades)."""
    events = []
    for n in range(count):
        if n % 17 == 0:
            payload: Trade | Note = Note(f"note {n}")
            stream = "system:s:notes"
        else:
            payload = Trade(100.0 + n % 50, 0.5 + n % 3, "buy" if n % 2 else "sell", str(n))
            stream = STREAMS[n % 6]
        events.append(Event(f"e{n:06d}", stream, n, n + 1, "s", payload))
    return events


class RunningTotals:
    """Per-stream count and volume; every event gives one derived Note; every 13th raises.

    Calls take a number of loop turns that varies by event, so workers finish out of input order.
    """

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def derive(self, e: Event) -> Event:
        if e.ts_event % 13 == 0:
            raise ValueError(f"refused {e.id}")
        total = self.totals[e.stream]
        total[0] += 1
        total[1] += e.payload.amount if isinstance(e.payload, Trade) else 0.0
        note = Note(f"{e.stream} #{total[0]:.0f} volume {total[1]:.2f}", data={"cause": e.id})
        return Event(f"d-{e.id}", f"analysis:{e.stream}", e.ts_event, e.ts_recv, e.session, note)

    async def __call__(self, e: Event) -> Event:
        for _ in range(zlib.crc32(e.id.encode()) % 5):
            await asyncio.sleep(0)
        return self.derive(e)


async def run(workers: int, *, deterministic: bool = True, form: str = "async") -> tuple[bytes, list[DeadLetter]]:
    totals = RunningTotals()
    handler: PerEvent | BatchHandler

    async def batch_form(batch: Sequence[Event]) -> list[Event]:
        assert len(batch) == 1
        return [await totals(batch[0])]

    if form == "async":
        handler = per_event(totals)
    elif form == "sync":
        handler = per_event(totals.derive)
    else:
        handler = batch_form
    outputs: list[Event] = []
    proc = OptimizedProcessor(
        handler,
        workers=workers,
        deterministic=deterministic,
        batch_size=7,
        capacity=40,
        on_output=outputs.extend,
    )
    async with proc:
        events = inputs()
        await proc.submit_many(events[:300])
        for e in events[300:]:
            await proc.submit(e)
    return msgspec.json.encode(outputs), proc.dead_letters


def expected_ids() -> list[str]:
    return [f"d-{e.id}" for e in inputs() if e.ts_event % 13]


async def test_one_and_eight_workers_give_the_same_bytes_in_input_order() -> None:
    one, one_letters = await run(1)
    eight, eight_letters = await run(8)
    assert one == eight
    assert [e["id"] for e in msgspec.json.decode(one)] == expected_ids()
    assert one_letters == eight_letters
    assert [letter.event.ts_event for letter in one_letters] == list(range(0, 600, 13))


@pytest.mark.parametrize("form", ["sync", "batch"])
async def test_every_handler_form_gives_the_same_bytes(form: str) -> None:
    reference, letters = await run(3)
    output, other_letters = await run(5, form=form)
    assert output == reference
    assert [letter.event.id for letter in other_letters] == [letter.event.id for letter in letters]


async def test_without_deterministic_mode_several_workers_do_reorder_the_output() -> None:
    """The control: the test above would fail if the reorder buffer did nothing."""
    output, _ = await run(8, deterministic=False)
    ids = [e["id"] for e in msgspec.json.decode(output)]
    assert sorted(ids) == sorted(expected_ids())
    assert ids != expected_ids()


async def test_dead_letters_are_reported_between_the_outputs_around_them() -> None:
    timeline: list[str] = []

    def fails_on_two(e: Event) -> Event:
        if e.ts_event == 2:
            raise ValueError("two")
        return Event(f"d{e.ts_event}", "analysis:x", e.ts_event, e.ts_event, "s", Note("x"))

    proc = OptimizedProcessor(
        per_event(fails_on_two),
        workers=4,
        deterministic=True,
        on_output=lambda events: timeline.extend(e.id for e in events),
        on_failure=lambda letter: timeline.append(f"failed {letter.event.ts_event}"),
    )
    async with proc:
        await proc.submit_many(
            Event(f"e{n}", STREAMS[n % 4], n, n, "s", Trade(1.0, 1.0, "buy", str(n))) for n in range(5)
        )
    assert timeline == ["d0", "d1", "failed 2", "d3", "d4"]


async def test_a_failure_inside_a_run_of_one_stream_is_reported_in_its_place() -> None:
    timeline: list[str] = []

    def fails_on_two_and_five(e: Event) -> list[Event]:
        if e.ts_event in (2, 5):
            raise ValueError("refused")
        return [Event(f"d{e.ts_event}", "analysis:x", e.ts_event, e.ts_event, "s", Note("x"))]

    proc = OptimizedProcessor(
        per_event(fails_on_two_and_five),
        workers=3,
        deterministic=True,
        on_output=lambda events: timeline.extend(e.id for e in events),
        on_failure=lambda letter: timeline.append(f"failed {letter.event.ts_event}"),
    )
    trades = [Event(f"e{n}", STREAMS[0], n, n, "s", Trade(1.0, 1.0, "buy", str(n))) for n in range(7)]
    async with proc:
        assert proc.try_submit_many(trades) == 7  # one run: one queue entry, one result
    assert timeline == ["d0", "d1", "failed 2", "d3", "d4", "failed 5", "d6"]
    assert [letter.event.id for letter in proc.dead_letters] == ["e2", "e5"]
    assert proc.snapshot().events_handled == 7


class QuietUntilTen:
    """Derives a Note from every 10th trade of a stream and fails on ts 23; ``absorb`` counts the others at once."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.absorbed = 0

    def __call__(self, e: Event) -> list[Event]:
        if e.ts_event == 23:
            raise ValueError("refused")
        self.counts[e.stream] += 1
        if self.counts[e.stream] % 10:
            return []
        return [Event(f"d{e.ts_event}", "analysis:x", e.ts_event, e.ts_event, "s", Note(f"{self.counts[e.stream]}"))]

    def absorb(self, events: Sequence[Event], start: int, stop: int) -> int:
        index = start
        while index < stop and events[index].ts_event != 23 and (self.counts[events[index].stream] + 1) % 10:
            self.counts[events[index].stream] += 1
            index += 1
        self.absorbed += index - start
        return index


async def test_a_handler_that_absorbs_quiet_stretches_gives_what_it_gives_one_event_at_a_time() -> None:
    async def outputs(absorbing: bool) -> tuple[list[str], QuietUntilTen]:
        timeline: list[str] = []
        handler = QuietUntilTen()
        proc = OptimizedProcessor(
            per_event(handler, absorb=handler.absorb if absorbing else None),
            workers=3,
            deterministic=True,
            batch_size=16,
            on_output=lambda events: timeline.extend(f"{e.id} {e.payload.message}" for e in events),  # type: ignore[attr-defined]
            on_failure=lambda letter: timeline.append(f"failed {letter.event.ts_event}"),
        )
        trades = [Event(f"e{n}", STREAMS[n % 3 // 2], n, n, "s", Trade(1.0, 1.0, "buy", str(n))) for n in range(90)]
        async with proc:
            await proc.submit_many(trades)
        return timeline, handler

    (plain, _), (absorbed, handler) = await outputs(False), await outputs(True)
    assert absorbed == plain
    assert "failed 23" in plain
    assert handler.absorbed > 60  # the stretches really went through absorb


async def test_absorb_goes_with_a_synchronous_callable_only() -> None:
    async def handler(e: Event) -> None:
        return None

    with pytest.raises(UsageError, match="absorb goes with a synchronous"):
        per_event(handler, absorb=lambda events, start, stop: start)
