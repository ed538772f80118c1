"""StageTimer: nested stages are charged exclusively, the stages partition the measured time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from time import perf_counter_ns

import pytest

from virtuoso.timing import OTHER, StageTimer


def _spin(ns: int) -> None:
    end = perf_counter_ns() + ns
    while perf_counter_ns() < end:
        pass


def test_nested_stages_are_charged_exclusively_and_add_up_to_the_interval() -> None:
    timer = StageTimer()
    inner = timer.wrap("inner", lambda: _spin(2_000_000))

    def outer_body() -> None:
        _spin(1_000_000)
        inner()

    outer = timer.wrap("outer", outer_body)
    timer.reset()
    for _ in range(3):
        outer()
    timer.stop()
    totals = timer.totals()
    # Each interval is charged once (the sum is the interval), the inner spins to inner and the outer's own
    # spins to outer: were the inner time also the outer's, the sum would pass the interval.
    assert sum(totals.values()) == timer.elapsed_ns()
    assert totals["inner"] >= 6_000_000
    assert totals["outer"] >= 3_000_000
    assert (timer.calls("outer"), timer.calls("inner"), timer.calls("nope")) == (3, 3, 0)


def test_a_raising_call_still_gives_the_stage_back() -> None:
    timer = StageTimer()

    def fail() -> None:
        raise ValueError("boom")

    failing = timer.wrap("failing", fail)
    timer.reset()
    with pytest.raises(ValueError, match="boom"):
        failing()
    _spin(1_000_000)
    timer.stop()
    assert timer.totals()[OTHER] >= 1_000_000  # back in "other" after the exception


def test_reset_zeroes_every_stage_and_keeps_them_known() -> None:
    timer = StageTimer()
    timer.wrap("a", lambda: None)()
    timer.reset()
    timer.stop()
    assert timer.totals()["a"] == 0
    assert timer.calls("a") == 0


def test_awaited_stages_count_their_waits_and_what_ran_meanwhile() -> None:
    timer = StageTimer()
    work = timer.wrap("work", lambda: _spin(1_000_000))

    async def chunks() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0.002)
            yield i

    async def other_task() -> None:
        for _ in range(3):
            work()
            await asyncio.sleep(0)

    async def main() -> list[int]:
        helper = asyncio.create_task(other_task())
        got = [i async for i in timer.iterate("read", chunks())]
        await helper
        await timer.wrap_async("flush", asyncio.sleep)(0.001)
        return got

    timer.reset()
    assert asyncio.run(main()) == [0, 1, 2]
    timer.stop()
    totals, waits = timer.totals(), timer.waits()
    assert sum(totals.values()) == timer.elapsed_ns()
    assert timer.calls("read") == 4  # three chunks and the end
    assert totals["read"] >= 2_000_000
    assert set(waits) == {"read", "flush"}
    cpu, nested = waits["read"]
    assert cpu >= 0
    assert nested <= totals["work"]  # what ran while the read waited is the other task's, not the read's
