"""Run a store workload under a file size limit, for each limit given; print one JSON line per run.

Used by ``test_store_faults.py`` in a child process: ``RLIMIT_FSIZE`` applies to
the whole process, so a write past ``n`` bytes of any file (log, -wal, -shm)
fails there, as on a full disk (a write cut short gives SQLite's SQLITE_FULL, a
write that cannot start its SQLITE_IOERR_WRITE).

    python _fault_workload.py BASE_LOG WORK_DIR CCXT_JSON N [N ...]

With ``FAULT_BALLAST`` set, that file is deleted after a failure (room is freed).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from virtuoso.errors import VirtuosoError
from virtuoso.events import Event, EventIdFactory, Note, Trade
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, SQLiteEventStore, open_sqlite_store

UNLIMITED = resource.RLIM_INFINITY
T0 = 1_700_000_000_000_000_000


def _free_room() -> None:
    """On a full filesystem, delete the ballast file once the workload has failed, as a user would."""
    if "FAULT_BALLAST" in os.environ:
        Path(os.environ["FAULT_BALLAST"]).unlink(missing_ok=True)


def _limit(size: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, UNLIMITED))


def _trades(session: str, tag: str, count: int, streams: list[str]) -> list[Event]:
    ids = EventIdFactory(f"{session}:{tag}")
    return [
        Event(
            ids(T0 + n), streams[n % len(streams)], T0 + n, T0 + n, session, Trade(100.0 + n, 1.0, "buy", f"{tag}{n}")
        )
        for n in range(count)
    ]


class Workload:
    """The operations, in order; ``committed`` is the last position once each one has returned."""

    def __init__(self, store: SQLiteEventStore, capture: Path, committed: int) -> None:
        self.store = store
        self.capture = capture
        self.session = ""
        self.current = ""
        self.committed = committed

    async def run(self) -> None:
        steps = [
            ("begin_session", self.begin),
            ("append one stream", self.append_new_stream),
            ("append mixed", self.append_mixed),
            ("import", self.import_file),
            ("end_session", self.end),
        ]
        for name, step in steps:
            self.current = name
            await step()
            self.committed = await self.store.max_position()
        self.current = "close"
        await self.store.close()

    async def begin(self) -> None:
        info = await self.store.begin_session("faults", "tests", started_ns=T0, config={"limit": 1})
        self.session = info.id

    async def append_new_stream(self) -> None:
        await self.store.append(_trades(self.session, "a", 300, ["test:NEW/USDT:trades"]))

    async def append_mixed(self) -> None:
        events = _trades(self.session, "m", 400, ["test:X/USDT:trades", "test:Y/USDT:trades"])
        note = Event("note-1", "test:notes", T0, T0, self.session, Note("a note"))
        await self.store.append([*events, note])

    async def import_file(self) -> None:
        await import_files(self.store, "ccxt-json", [self.capture], exchange="binance", symbol="BTC/USDT")

    async def end(self) -> None:
        await self.store.end_session(self.session, ended_ns=T0 + 10**9)


async def one_run(base: Path, work: Path, capture: Path, size: int) -> dict[str, Any]:
    log = work / f"run-{size}.sqlite"
    shutil.copyfile(base, log)
    store = await open_sqlite_store(log, key=None)
    workload = Workload(store, capture, await store.max_position())
    failure: dict[str, Any] = {}
    _limit(size)
    try:
        await workload.run()
    except VirtuosoError as exc:
        failure = {"op": workload.current, "error": type(exc).__name__, "message": str(exc)}
    except Exception as exc:  # a foreign error escaping is what the test reports
        failure = {"op": workload.current, "error": type(exc).__name__, "message": str(exc), "foreign": True}
    finally:
        _limit(UNLIMITED)
    _free_room()
    expected = workload.committed
    if failure and failure["op"] != "close" and workload.session:
        # The process goes on once there is room again: the catalog must not hold numbers the log lacks.
        streams = ["test:NEW/USDT:trades", "test:X/USDT:trades", "test:Z/USDT:trades"]
        try:
            expected = (await store.append(_trades(workload.session, "r", 50, streams))).last_position
        except VirtuosoError as exc:
            failure["retry_error"] = str(exc)
    try:
        await store.close()
    except VirtuosoError as exc:
        failure["close_error"] = str(exc)
    return {"size": size, **failure, **await check(log, expected)}


async def check(log: Path, expected: int) -> dict[str, Any]:
    """Reopen; the log must verify, read whole, and hold exactly the committed positions."""
    store = await open_sqlite_store(log, key=None)
    try:
        report = await store.verify()
        positions = [e.position async for e in store.read(EventFilter())]
        listed = await store.sessions()
    finally:
        await store.close()
    return {
        "verify_ok": report.ok,
        "problem": report.problem,
        "read": len(positions),
        "contiguous": positions == list(range(1, len(positions) + 1)),
        "max_position": positions[-1] if positions else 0,
        "expected_max": expected,
        "sessions": len(listed),
    }


async def main() -> None:
    base, work, capture = (Path(a) for a in sys.argv[1:4])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for size in map(int, sys.argv[4:]):
        print(json.dumps(await one_run(base, work, capture, size)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
