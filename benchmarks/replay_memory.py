"""Peak memory of a long replay: build a log of N trades, replay it in a fresh process, report peak RSS.

    python -m benchmarks.replay_memory build LOG N      # N trades, one session (streamed: flat memory)
    python -m benchmarks.replay_memory replay LOG       # prints {"events_in", "events_out", "peak_rss_mb", ...}

The replay is a full run: ``replay_run`` with the default analyzers, their
output appended to a run in the log. Peak RSS is the child's own high-water mark,
``VmHWM`` in ``/proc/self/status``, so the interpreter and the imports are
included (about 60 MB of it). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux
carries the parent's peak over a fork and exec into it, so a child of a large
pytest process would report the parent's memory (seen: 306 MB for a small replay).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.workloads import SESSION_ID, START_NS, STREAM
from virtuoso.app import AppConfig
from virtuoso.events import Event, EventIdFactory, Side, Trade
from virtuoso.replay import ReplaySelection, RunConfig, analyzers_named, replay_run
from virtuoso.store import open_sqlite_store

BATCH = 50_000


def trade_batches(count: int) -> Iterator[list[Event]]:
    """The benchmark trades (as ``workloads.trade_events``), ``BATCH`` at a time."""
    ids = EventIdFactory(SESSION_ID)
    for start in range(0, count, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, count)):
            ts = START_NS + i * 1_000_000
            side: Side = "buy" if i % 2 else "sell"
            trade = Trade(58_000.0 + (i % 1000) * 0.01, 0.001 * (1 + i % 50), side, str(3_735_683_259 + i))
            batch.append(Event(ids(ts), STREAM, ts, ts + 250_000, SESSION_ID, trade))
        yield batch


async def build(path: Path, count: int) -> None:
    """A log at ``path`` holding one closed session of ``count`` trades."""
    store = await open_sqlite_store(path)
    try:
        await store.begin_session("memory", "benchmarks", started_ns=START_NS - 1, session_id=SESSION_ID)
        async with store.writer(max_events=BATCH) as writer:
            for batch in trade_batches(count):
                await writer.write_many(batch)
        await store.end_session(SESSION_ID, ended_ns=START_NS + count * 1_000_000)
    finally:
        await store.close()


async def replay(path: Path) -> dict[str, float]:
    """Replay the session into a run; what it did, how long it took and the peak RSS of this process."""
    began = time.perf_counter()
    run = RunConfig(ReplaySelection(sessions=(SESSION_ID,)), analyzers_named("default"))
    result = await replay_run(AppConfig(db=path), run, force=True)
    seconds = time.perf_counter() - began
    peak_kb = _peak_rss_kb()
    return {
        "events_in": result.events_in,
        "events_out": result.events_out,
        "seconds": round(seconds, 2),
        "events_per_s": round(result.events_in / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def _peak_rss_kb() -> int:
    """This process's peak resident set size in KiB (its own, not inherited from the parent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> None:
    """``build LOG N`` or ``replay LOG``."""
    if argv[:1] == ["build"] and len(argv) == 3:
        asyncio.run(build(Path(argv[1]), int(argv[2])))
    elif argv[:1] == ["replay"] and len(argv) == 2:
        print(json.dumps(asyncio.run(replay(Path(argv[1])))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
