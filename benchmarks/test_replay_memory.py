"""A long replay keeps memory flat: peak RSS of a child process replaying N trades into a run.

N is 10,000,000 at full size (``VIRTUOSO_BENCH_MEMORY_EVENTS`` overrides; 50,000
with ``VIRTUOSO_BENCH_QUICK=1``). Building the log takes most of the time.
The target is an absolute budget, not a ratio: under 300 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import Scale
from benchmarks.replay_memory import build

pytestmark = pytest.mark.timeout(3600)

BUDGET_MB = 300
REPO = Path(__file__).resolve().parent.parent


def _events(scale: Scale) -> int:
    default = 50_000 if scale.quick else 10_000_000
    return int(os.environ.get("VIRTUOSO_BENCH_MEMORY_EVENTS", default))


def test_replay_peak_rss_stays_under_budget(benchmark: object, scale: Scale, tmp_path: Path) -> None:
    events = _events(scale)
    log = tmp_path / "memory.sqlite"
    asyncio.run(build(log, events))

    def replay_in_a_child() -> dict[str, float]:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.replay_memory", "replay", str(log)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=3600,
            check=True,
        )
        report: dict[str, float] = json.loads(child.stdout)
        return report

    report = benchmark.pedantic(replay_in_a_child, rounds=1, iterations=1)  # type: ignore[attr-defined]
    benchmark.extra_info.update({"memory_events": events, **report, "budget_mb": BUDGET_MB})  # type: ignore[attr-defined]
    print(f"\nreplay of {events:,} trades: {report}")
    assert report["events_in"] == events + 2
    assert report["peak_rss_mb"] < BUDGET_MB
