"""A recorder that ``test_store_crash.py`` kills with SIGKILL while it writes.

Run as ``python _crash_writer.py DB BATCH``: it opens the event log at ``DB``,
begins a session, prints ``session <id>``, then writes trades through a buffered
writer whose batches are exactly ``BATCH`` events. Whenever the count of
committed trades grows it prints that count on its own line. Every line is
flushed at once, so the parent knows what was committed before it kills us.

Batches are cut by size only (the delay is an hour), so every committed batch
holds exactly ``BATCH`` trades. If nobody kills it, it stops after
:data:`LIMIT` trades and ends the session normally (the test then fails).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

STREAM = "crash:BTC/USDT:trades"
SESSION_NAME = "crash-test"
SOURCE = "tests"
STARTED_NS = 1_700_000_000_000_000_000
LIMIT = 5_000_000


async def record(path: Path, batch: int) -> None:
    """Write trades in batches of ``batch`` until killed (or :data:`LIMIT`)."""
    from virtuoso.events import Event, EventIdFactory, Trade
    from virtuoso.store import open_sqlite_store

    store = await open_sqlite_store(path)
    info = await store.begin_session(
        SESSION_NAME, SOURCE, started_ns=STARTED_NS, symbols=("BTC/USDT",), channels=("trades",)
    )
    print(f"session {info.id}", flush=True)
    ids = EventIdFactory(info.id)
    writer = store.writer(max_events=batch, max_delay_s=3600.0)
    reported = 0
    queued = 0
    while queued < LIMIT:
        events = []
        for offset in range(batch):
            ts = STARTED_NS + queued + offset + 1
            trade = Trade(58_000.0 + offset % 7, 0.001, "buy" if offset % 2 else "sell", str(queued + offset))
            events.append(Event(ids(ts), STREAM, ts, ts + 1_000, info.id, trade))
        await writer.write_many(events)
        queued += batch
        if writer.written != reported:
            reported = writer.written
            print(reported, flush=True)
    await writer.close()
    await store.end_session(info.id, ended_ns=STARTED_NS + queued + 1, reason="limit reached, nobody killed me")
    await store.close()


def main(argv: list[str]) -> None:
    """Entry point: ``_crash_writer.py DB BATCH``."""
    db, batch = argv
    asyncio.run(record(Path(db), int(batch)))


if __name__ == "__main__":
    main(sys.argv[1:])
