"""Recording at full speed: the BTCUSDT spot capture from a loopback exchange in another process.

The recorder (real ccxt.pro, trades and the book, into a fresh SQLite log) runs
under cProfile; the budget is absolute, not a ratio: our code's share of the
recording process's CPU stays under 25% (the rest is ccxt's parsing and order
book, aiohttp, asyncio and SQLite). Full size serves the whole 11-minute capture
(19,904 trades); ``VIRTUOSO_BENCH_QUICK=1`` serves its first 12,000 frames.
See ``benchmarks/profile_record.py`` for the method.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.harness import Scale
from benchmarks.profile_record import profile_recording

pytestmark = pytest.mark.timeout(600)

OUR_SHARE_BUDGET = 0.25
CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
DATA = Path(os.environ.get("VIRTUOSO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_recording_spends_under_a_quarter_of_its_cpu_in_our_code(benchmark: object, scale: Scale) -> None:
    if not (DATA / CAPTURE).exists():
        pytest.skip(f"{DATA / CAPTURE} is absent (set VIRTUOSO_SHARED_DATA)")
    frames = 12_000 if scale.quick else 0
    profile = benchmark.pedantic(lambda: profile_recording(DATA, frames), rounds=1, iterations=1)  # type: ignore[attr-defined]
    summary = profile.summary()
    benchmark.extra_info.update({**summary, "budget_our_share": OUR_SHARE_BUDGET})  # type: ignore[attr-defined]
    print(f"\nrecording profile: {summary}")
    assert profile.events > 0
    assert profile.our_share < OUR_SHARE_BUDGET
