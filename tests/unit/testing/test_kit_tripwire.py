"""The wall-clock tripwires: noticed, answered from the Clock, gone afterwards, blind to other threads."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
from time import monotonic_ns

import pytest

import virtuoso.testing
from virtuoso.clock import ReplayClock
from virtuoso.testing._tripwire import WallClockGuard

START = 1_700_000_000_123_456_789
ORIGINALS = (time.time, time.monotonic_ns, time.monotonic_ns, datetime.datetime, datetime.date)


def test_reads_are_noticed_with_their_caller_and_answered_from_the_clock() -> None:
    guard, clock = WallClockGuard(), ReplayClock(START)
    with guard.active(clock):
        seconds, nanos = time.time(), time.perf_counter_ns()
        now = datetime.datetime.now(datetime.UTC)
        today = datetime.date.today()
    assert nanos == START
    assert seconds == START / 1e9
    assert now == datetime.datetime.fromtimestamp(START / 1e9, datetime.UTC)
    assert today == datetime.date.fromtimestamp(START / 1e9)
    assert [read.split("()")[0] for read in guard.reads] == [
        "time.time",
        "time.perf_counter_ns",
        "datetime.now",
        "date.today",
    ]
    assert all(f"{__file__}:" in read for read in guard.reads)


def test_names_imported_into_a_watched_module_are_covered_and_restored() -> None:
    guard = WallClockGuard()
    guard.watch(sys.modules[__name__])
    with pytest.raises(RuntimeError, match="analyzer failed"):
        fail_inside(guard)
    assert (time.time, time.monotonic_ns, monotonic_ns, datetime.datetime, datetime.date) == ORIGINALS
    assert guard.reads[0].startswith("time.monotonic_ns() called from")


def fail_inside(guard: WallClockGuard) -> None:
    with guard.active(ReplayClock(START)):
        assert monotonic_ns() == START
        raise RuntimeError("the analyzer failed")


def test_other_threads_see_the_real_clock_and_are_not_reported() -> None:
    guard, seen = WallClockGuard(), []
    with guard.active(ReplayClock(0)):
        worker = threading.Thread(target=lambda: seen.append(time.time_ns()))
        worker.start()
        worker.join(timeout=5)
    assert seen[0] > START  # real time, not the clock's 0
    assert guard.reads == []


def test_the_loopback_half_of_virtuoso_testing_does_not_need_hypothesis() -> None:
    code = "import sys, virtuoso.testing; print('hypothesis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_every_kit_export_resolves_and_unknown_names_raise() -> None:
    for name in virtuoso.testing.__all__:
        assert getattr(virtuoso.testing, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = virtuoso.testing.nope  # type: ignore[attr-defined]
