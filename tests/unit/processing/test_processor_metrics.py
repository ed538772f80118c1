"""Metrics: the snapshot's counters and latencies, and periodic ProcessorStats events timed by the clock."""

from __future__ import annotations

import asyncio

import pytest

from virtuoso.clock import ReplayClock
from virtuoso.events import REGISTRY, Event, Note, Trade, encode_payload
from virtuoso.processing import LATENCY_WINDOW, OptimizedProcessor, ProcessorSnapshot, ProcessorStats, per_event
from virtuoso.processing._reports import LatencyWindow


def trade(n: int) -> Event:
    return Event(f"e{n:06d}", f"binance:S{n % 3}/USDT:trades", n, n, "s", Trade(100.0, 1.0, "buy", str(n)))


def derive_every_third(e: Event) -> Event | None:
    if e.ts_event % 3:
        return None
    sum(range(200))  # some work, so each call takes measurable time
    return Event(f"d-{e.id}", "analysis:x", e.ts_event, e.ts_event, "s", Note("third"))


@pytest.mark.asyncio
async def test_the_snapshot_counts_in_out_and_measures_latency() -> None:
    proc = OptimizedProcessor(per_event(derive_every_third), workers=2, batch_size=10)
    before = proc.snapshot()
    assert (before.events_in, before.events_per_s, before.latency_p99_ns) == (0, 0.0, 0)
    async with proc:
        await proc.submit_many(trade(n) for n in range(300))
    snapshot = proc.snapshot()
    assert isinstance(snapshot, ProcessorSnapshot)
    assert snapshot.depths == {"system": 0, "market": 0, "analysis": 0}
    assert (snapshot.events_in, snapshot.events_handled, snapshot.events_out) == (300, 300, 100)
    assert (snapshot.dead_letters, snapshot.in_flight, snapshot.blocked_submitters) == (0, 0, 0)
    assert snapshot.events_per_s > 0
    assert 0 < snapshot.latency_p50_ns <= snapshot.latency_p90_ns <= snapshot.latency_p99_ns


@pytest.mark.asyncio
async def test_depths_show_what_waits_in_each_lane() -> None:
    release = asyncio.Event()

    async def held(e: Event) -> None:
        await release.wait()

    async with OptimizedProcessor(per_event(held), workers=1) as proc:
        await proc.submit(trade(0))
        await asyncio.sleep(0)  # the worker takes trade 0 and waits
        await proc.submit_many([trade(1), trade(2), Event("n", "system:s:notes", 3, 3, "s", Note("n"))])
        snapshot = proc.snapshot()
        assert snapshot.depths == {"system": 1, "market": 2, "analysis": 0}
        assert (snapshot.events_in, snapshot.in_flight) == (4, 1)
        release.set()


def test_latency_percentiles_are_taken_over_the_latest_window() -> None:
    window = LatencyWindow()
    for _ in range(LATENCY_WINDOW):
        window.add(1_000_000)  # old, slow samples
    for sample in range(1, LATENCY_WINDOW + 1):
        window.add(sample)
    assert window.percentiles((50, 90, 99, 100)) == [2048, 3687, 4056, 4096]
    assert LatencyWindow().percentiles((50,)) == [0]


@pytest.mark.asyncio
async def test_stats_events_come_at_the_clock_s_interval_with_its_timestamps() -> None:
    clock = ReplayClock(start_ns=1_000_000)
    stats: list[Event] = []
    proc = OptimizedProcessor(
        per_event(derive_every_third),
        clock=clock,
        stats_interval_ns=500,
        on_stats=stats.append,
        name="features",
        session="sess-1",
    )
    async with proc:
        await proc.submit_many(trade(n) for n in range(30))
        await proc.drain()
        clock.advance_to(1_001_200)
    assert [e.ts_event for e in stats] == [1_000_500, 1_001_000]
    last = stats[-1]
    assert (last.topic, last.stream, last.session) == (
        "system.processor.stats",
        "system:sess-1:processor:features",
        "sess-1",
    )
    assert last.ts_recv == last.ts_event
    assert isinstance(last.payload, ProcessorStats)
    assert last.payload.processor == "features"
    assert (last.payload.events_in, last.payload.events_handled, last.payload.events_out) == (30, 30, 10)
    assert last.payload.depths == {"system": 0, "market": 0, "analysis": 0}
    clock.advance_to(1_005_000)
    assert len(stats) == 2, "a closed processor emits no more stats"


@pytest.mark.asyncio
async def test_stats_event_ids_repeat_in_a_replay() -> None:
    async def ids() -> list[str]:
        clock = ReplayClock(start_ns=0)
        stats: list[Event] = []
        async with OptimizedProcessor(
            per_event(lambda e: None), clock=clock, stats_interval_ns=10, on_stats=stats.append
        ) as proc:
            clock.advance_to(35)
            assert proc.snapshot().events_in == 0
        return [e.id for e in stats]

    first = await ids()
    assert len(first) == 3
    assert first == await ids()
    assert len(set(first)) == 3


@pytest.mark.asyncio
async def test_no_stats_events_unless_asked() -> None:
    clock = ReplayClock(start_ns=0)
    async with OptimizedProcessor(per_event(lambda e: None), clock=clock):
        assert clock.next_timer_ns() is None


@pytest.mark.asyncio
async def test_live_stats_use_the_live_clock_by_default() -> None:
    stats: list[Event] = []
    got = asyncio.Event()

    def receive(e: Event) -> None:
        stats.append(e)
        got.set()

    async with OptimizedProcessor(per_event(lambda e: None), stats_interval_ns=1_000, on_stats=receive):
        await got.wait()
    assert stats[0].ts_event > 1_600_000_000 * 10**9  # wall-clock ns


def test_processor_stats_round_trip_through_the_registry() -> None:
    payload = ProcessorStats("p", {"market": 3}, 10, 7, 0, 2, 1, 1234.5, 100, 200, 300)
    decoded = REGISTRY.kind("ProcessorStats", ProcessorStats.SCHEMA).decode(encode_payload(payload))
    assert decoded == payload


@pytest.mark.asyncio
async def test_the_rate_stops_counting_time_when_the_processor_stops() -> None:
    async with OptimizedProcessor(per_event(lambda e: None)) as proc:
        await proc.submit_many(trade(n) for n in range(100))
    rate = proc.snapshot().events_per_s
    await asyncio.sleep(0.01)  # wall time passes after the stop; the rate must not decay with it
    assert proc.snapshot().events_per_s == rate > 0
