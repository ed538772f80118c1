"""Profile a recording: the BTCUSDT spot capture served over loopback WebSocket at maximum speed.

``python -m benchmarks.profile_record [--frames N] [--top K]``

The loopback exchange runs in a child process (so its CPU is not counted); this
process records trades and the book with real ccxt.pro into a fresh SQLite log
under cProfile until the last trade and the last depth update are in. The
report gives events/s and where this process's CPU went: our code
(``virtuoso/``), ccxt (``ccxt/``: parsing, the order book, its WebSocket
client), and everything else (asyncio, aiohttp, SQLite, msgspec). A C function's
time counts for the Python code that called it (ccxt's ``json.loads`` is ccxt's).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtuoso.events import Trade
from virtuoso.exchange import Channel, RecordConfig, record
from virtuoso.exchange._ccxt import pro_module

IDLE_S = 1.0
REPO = Path(__file__).resolve().parents[1]
PACKAGE = str(REPO / "virtuoso") + os.sep
SERVER = """
import asyncio, json, sys
from pathlib import Path
from virtuoso.testing import LoopbackExchange

async def main(data, frames, speed):
    async with LoopbackExchange(Path(data), speed=speed, max_messages=frames or None) as ex:
        trades = [int(f.data["t"]) for f in ex.capture.frames if f.event == "trade"]
        depth = [int(f.data["u"]) for f in ex.capture.frames if f.event == "depth"]
        print(json.dumps({"ccxt": ex.ccxt_config(), "last_trade": max(trades), "last_update": max(depth)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


@dataclass
class Profile:
    """What one profiled recording measured."""

    events: int
    seconds: float
    cpu: dict[str, float]
    stats: pstats.Stats | None

    def top(self, owner: str, count: int) -> list[tuple[str, float]]:
        """The ``count`` functions of ``owner`` with the most own time."""
        table: dict[Any, Any] = {} if self.stats is None else self.stats.stats  # type: ignore[attr-defined]
        rows = [
            (f"{Path(f).name}:{line}({name})", v[2]) for (f, line, name), v in table.items() if category(f) == owner
        ]
        return sorted(rows, key=lambda row: -row[1])[:count]

    @property
    def events_per_s(self) -> float:
        """Events recorded per second of wall time, first market event to last."""
        return self.events / self.seconds

    @property
    def our_share(self) -> float:
        """Our code's share of this process's CPU time."""
        return self.cpu["ours"] / sum(self.cpu.values())

    def summary(self) -> dict[str, Any]:
        """The figures as JSON-friendly values."""
        plain = {"events": self.events, "seconds": round(self.seconds, 2), "events_per_s": round(self.events_per_s)}
        if not self.cpu:
            return plain
        total = sum(self.cpu.values())
        shares = {k: round(v / total, 3) for k, v in self.cpu.items()}
        return {
            "events": self.events,
            "seconds": round(self.seconds, 2),
            "events_per_s": round(self.events_per_s),
            "cpu_s": round(total, 2),
            "share": shares,
            "ours_vs_ccxt": round(self.cpu["ours"] / self.cpu["ccxt"], 3),
        }


def category(filename: str) -> str | None:
    """Whose code a profiled function is: ours, ccxt's, other, or ``None`` for C functions."""
    if filename.startswith("~") or filename.startswith("<"):
        return None
    if filename.startswith(PACKAGE):
        return "ours"
    return "ccxt" if f"{os.sep}ccxt{os.sep}" in filename else "other"


def attribute(stats: pstats.Stats) -> dict[str, float]:
    """Own CPU time per category; a C function's time goes to its callers' categories, split as they called it."""
    cpu: Counter[str] = Counter()
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, _), (_, _, own, _, callers) in table.items():
        owner = category(filename)
        if owner is not None:
            cpu[owner] += own
            continue
        for (caller_file, _, _), edge in callers.items():
            cpu[category(caller_file) or "other"] += edge[2]
    return {name: cpu[name] for name in ("ours", "ccxt", "other")}


def _start_server(data: Path, frames: int, speed: float) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(data), str(frames), str(speed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())


def _until(last_trade: int, last_update: int, stop: asyncio.Event, clock: list[float]) -> Callable[[Any], None]:
    done = {"trade": False, "book": False}

    def watch(event: Any) -> None:
        if stop.is_set():
            return  # what the recorder takes from ccxt's caches as it stops: not timed
        now = time.perf_counter()
        if not clock:
            clock.append(now)
        clock[1:] = [now]
        payload = event.payload
        if isinstance(payload, Trade) and int(payload.trade_id) >= last_trade:
            done["trade"] = True
        sequence = getattr(payload, "last_sequence", getattr(payload, "sequence", None))
        if event.stream.endswith(":book") and sequence is not None and sequence >= last_update:
            done["book"] = True
        if all(done.values()):
            stop.set()

    return watch


async def _record(ccxt: dict[str, Any], db: Path, last_trade: int, last_update: int, span: list[float]) -> int:
    config = RecordConfig("binance", ("BTC/USDT",), (Channel("trades"), Channel("book")), ccxt=ccxt, book_limit=5000)
    stop, clock = asyncio.Event(), []
    watch = _until(last_trade, last_update, stop, clock)
    idle = asyncio.create_task(_stop_when_idle(stop, clock))
    try:
        summary = await asyncio.wait_for(record(config, db, stop=stop, handlers=[watch]), 600)
    finally:
        idle.cancel()
    span.extend(clock[:2])
    return sum(n for name, n in summary["counts"].items() if name in ("Trade", "BookSnapshot", "BookDelta"))


async def _stop_when_idle(stop: asyncio.Event, clock: list[float]) -> None:
    """Stop once nothing new has come for IDLE_S (ccxt.pro delivers a burst's tail only with a later message)."""
    while not stop.is_set():
        await asyncio.sleep(0.1)
        if clock and time.perf_counter() - clock[-1] > IDLE_S:
            stop.set()
    del clock[2:]


def profile_recording(data: Path, frames: int = 0, speed: float = 0.0, *, profiled: bool = True) -> Profile:
    """Serve ``frames`` frames of the capture (0: all) at ``speed`` (0: flat out); profile recording them."""
    pro_module()  # imported before profiling: a second of import is not recording work
    server, info = _start_server(data, frames, speed)
    try:
        with tempfile.TemporaryDirectory() as directory:
            profiler, clock = cProfile.Profile(), []
            db = Path(directory) / "rec.sqlite"
            work = _record(info["ccxt"], db, info["last_trade"], info["last_update"], clock)
            if profiled:
                profiler.enable()
            events = asyncio.run(work)
            profiler.disable()
    finally:
        server.communicate("", timeout=30)
    if not profiled:
        return Profile(events, clock[-1] - clock[0], {}, None)
    stats = pstats.Stats(profiler)
    return Profile(events, clock[-1] - clock[0], attribute(stats), stats)


def main() -> None:
    """Command line: run the profile and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=0, help="serve only the first N frames (0: the whole capture)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--speed", type=float, default=0.0, help="times the recorded pace (0: as fast as possible)")
    parser.add_argument("--plain", action="store_true", help="no profiler: events/s at full speed only")
    parser.add_argument("--top", type=int, default=0, help="also list our K most expensive functions")
    args = parser.parse_args()
    profile = profile_recording(args.data, args.frames, args.speed, profiled=not args.plain)
    print(json.dumps(profile.summary(), indent=2))
    for owner in ("ours", "ccxt") if args.top else ():
        for name, seconds in profile.top(owner, args.top):
            print(f"{owner:5} {seconds:8.3f}s  {name}")


if __name__ == "__main__":
    main()
