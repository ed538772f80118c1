"""The recording soak: hours of exchange time through seeded chaos, in minutes of wall time.

    python -m benchmarks.soak --minutes 10            # or: make soak
    python -m benchmarks.soak --minutes 1 --seed 7 --rotate 10s --json

A ``virtuoso record`` child process records BTC/USDT trades and book over
WebSocket from the loopback exchange (in this process), which serves the
BTCUSDT capture lap after lap as fast as the recorder reads (ids and times
shifted each lap), with faults drawn from its whole WebSocket and REST
catalogue (``chaos=SEED``), Binance's forced reconnect after ``connection_hours``
of playback, and sessions rotating every ``rotate`` of the recorder's clock.
While it runs, the recorder's RSS (``/proc/PID/status``) and the WAL's size are
sampled; at the end it gets SIGINT. Then the log is checked against what the
loopback served (:func:`check`): every trade served is in the log once or inside
a declared Gap, every recorded book snapshot (and the book rebuilt from the log's
deltas just before it) equals the exchange's book at that update id,
``sessions verify`` is clean and ``sessions list`` shows the rotated chain.
``tests/integration/test_record_soak.py`` runs a short soak in the test suite;
the figures of a long one are in ``docs/recording.md`` ("Soak").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from virtuoso.book import BookBuilder, SyncRule
from virtuoso.cli import app
from virtuoso.events import BookSnapshot, Event, Gap, Trade
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import DEFAULT_CAPTURES, LoopbackExchange, Served

REPO = Path(__file__).resolve().parents[1]
SYMBOL = "BTCUSDT"
BOOK = "binance:BTC/USDT:book"
MISSING = re.compile(r"trade ids (\d+)\.\.(\d+) missing")
KB = 1024
EXIT_TIMEOUT_S = 60.0
RSS_BOUND_MB = 512  # interpreter, ccxt, store ~150 MB; ccxt.pro's trade cache ~100 MB; transient peaks seen to 378
FLAT_AFTER_S = 300.0  # runs this long must hold RSS flat over their second half (the caches fill in the first)
FLAT_GROWTH = 0.15  # allowed growth of RSS from half-time to the end
WAL_BOUND_MB = 64  # the store checkpoints the WAL at 64 MiB, and at every rotation
STARTUP_S = 120.0  # a loaded 2-core machine has taken 36 s to start a recorder


@dataclass(frozen=True)
class SoakPlan:
    """What a soak runs: wall time, chaos, rotation, the venue's connection lifetime, the sampling period."""

    wall_s: float
    seed: int = 18
    chaos_rate: float = 0.0002
    chaos_seconds: float = 0.5
    rotate: str = "1m"
    connection_hours: float = 0.1
    sample_s: float = 0.5


@dataclass
class Sample:
    """One look at the running recorder: seconds since it started, its RSS, the WAL's size, trades flowing yet."""

    at_s: float
    rss_kb: int
    wal_bytes: int
    recording: bool


@dataclass
class BookCheck:
    """Recorded snapshots compared with the exchange's book, and the rebuilt books before them."""

    snapshots: int = 0
    rebuilt: int = 0
    mismatches: list[str] = field(default_factory=list)


@dataclass
class SoakResult:
    """What a soak saw; :func:`check` lists what is wrong with it, :func:`figures` the table."""

    plan: SoakPlan
    alive_at_end: bool = False
    recording_after_s: float | None = None
    exit_code: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    rss_peak_kb: int = 0
    stderr_tail: list[str] = field(default_factory=list)
    laps: int = 0
    ws_connections: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    exchange_hours: float = 0.0
    events: int = 0
    trades: int = 0
    duplicates: int = 0
    not_served_intact: int = 0
    undeclared: list[int] = field(default_factory=list)
    gap_trades: int = 0
    book: BookCheck = field(default_factory=BookCheck)
    verify_exit: int | None = None
    verify_output: str = ""
    listed: list[dict[str, Any]] = field(default_factory=list)


# -- running ---------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def write_config(path: Path, ccxt: dict[str, Any], plan: SoakPlan) -> Path:
    """The recorder's TOML config: trades and book of BTC/USDT over WebSocket, quick restarts, rotation."""
    record = {
        "symbols": ["BTC/USDT"],
        "channels": ["trades", "book"],
        "mode": "ws",
        "book_limit": 5000,
        "status_interval_s": 1.0,
        "stall_timeout_s": 1.0,
        "restart_base_s": 0.05,
        "restart_max_s": 0.5,
        "rotate": plan.rotate,
        "session_name": "soak",
    }
    resilience = {"base_delay_s": 0.01, "max_delay_s": 0.1, "failure_threshold": 1000, "seed": plan.seed}
    lines = ["[exchange]", 'id = "binance"', "", "[ccxt]"]
    lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in ccxt.items()]
    lines += ["", "[record]", *(f"{k} = {_toml(v)}" for k, v in record.items())]
    lines += ["", "[resilience]", *(f"{k} = {_toml(v)}" for k, v in resilience.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _proc_status(pid: int, key: str) -> int:
    """A ``kB`` figure of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``); 0 once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found[1]) if found else 0


def _wal_bytes(db: Path) -> int:
    try:
        return db.with_name(db.name + "-wal").stat().st_size
    except OSError:
        return 0


async def _drain(stream: asyncio.StreamReader, tail: list[str]) -> None:
    """Read the recorder's status lines as they come (a full pipe would block it), keeping the last ones."""
    while line := await stream.readline():
        tail.append(line.decode(errors="replace").rstrip())
        del tail[:-20]


def _recording(tail: list[str]) -> bool:
    return any(":trades " in line for line in tail)


async def _sample_until(
    proc: asyncio.subprocess.Process, db: Path, plan: SoakPlan, result: SoakResult, started: float
) -> None:
    """Sample every ``plan.sample_s`` until ``plan.wall_s`` after the first trade was recorded.

    The wall time counts from there: a loaded machine may take half a minute to start a recorder.
    """
    deadline = started + STARTUP_S
    while (now := time.monotonic()) < deadline and proc.returncode is None:
        rss, wal = _proc_status(proc.pid, "VmRSS"), _wal_bytes(db)
        recording = result.recording_after_s is not None or _recording(result.stderr_tail)
        if recording and result.recording_after_s is None:
            result.recording_after_s, deadline = round(now - started, 2), now + plan.wall_s
        result.samples.append(Sample(round(now - started, 2), rss, wal, recording))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), min(plan.sample_s, max(deadline - now, 0.01)))


async def _record(ex: LoopbackExchange, db: Path, config: Path, plan: SoakPlan, result: SoakResult) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "virtuoso", "record", "--config", str(config), "--db", str(db), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    drain = asyncio.create_task(_drain(proc.stderr, result.stderr_tail))
    try:
        await _sample_until(proc, db, plan, result, time.monotonic())
        result.alive_at_end = proc.returncode is None
        result.rss_peak_kb = _proc_status(proc.pid, "VmHWM")
        if result.alive_at_end:
            proc.send_signal(signal.SIGINT)
        out = await asyncio.wait_for(proc.stdout.read(), EXIT_TIMEOUT_S)
        result.exit_code = await asyncio.wait_for(proc.wait(), EXIT_TIMEOUT_S)
        await asyncio.wait_for(drain, EXIT_TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result.summary = json.loads(out) if out.strip().startswith(b"{") else {}


async def run_soak(plan: SoakPlan, data_dir: Path, workdir: Path) -> SoakResult:
    """Record through chaos for ``plan.wall_s``, SIGINT, and compare the log with what was served."""
    db = workdir / "soak.sqlite"
    result = SoakResult(plan)
    chaos = {"chaos": plan.seed, "chaos_rate": plan.chaos_rate, "chaos_seconds": plan.chaos_seconds}
    async with LoopbackExchange(data_dir, speed=0, loop=True, connection_hours=plan.connection_hours, **chaos) as ex:
        config = write_config(workdir / "soak.toml", ex.ccxt_config(timeout=3000), plan)
        await _record(ex, db, config, plan, result)
        served = ex.served
        result.laps, result.ws_connections = served.laps, served.ws_connections
        result.faults = dict(sorted(Counter(_kind(f.action, f.where) for f in served.faults).items()))
        await _compare(db, ex, result)
    await asyncio.to_thread(_cli_checks, db, result)
    return result


def _kind(action: str, where: str) -> str:
    return "reconnect (24 h lifetime)" if where == "ws:age" else action


# -- checking --------------------------------------------------------------------------


def _fingerprint(bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]]) -> int:
    return hash((tuple(sorted(bids, reverse=True)), tuple(sorted(asks))))


@dataclass
class _LogScan:
    """One pass over the log: trade ids, declared gaps, and the book's points to compare."""

    trades: array[int] = field(default_factory=lambda: array("q"))
    gap_ids: set[int] = field(default_factory=set)
    events: int = 0
    first_ns: int | None = None
    last_ns: int = 0
    wanted: dict[int, list[tuple[str, int]]] = field(default_factory=dict)

    def take(self, event: Event, builder: BookBuilder) -> None:
        self.events += 1
        payload = event.payload
        if isinstance(payload, Trade):
            self.trades.append(int(payload.trade_id))
            self.first_ns = event.ts_event if self.first_ns is None else self.first_ns
            self.last_ns = max(self.last_ns, event.ts_event)
        elif isinstance(payload, Gap):
            for low, high in MISSING.findall(payload.reason):
                self.gap_ids.update(range(int(low), int(high) + 1))
        elif event.stream == BOOK:
            self._book(event, payload, builder)

    def _book(self, event: Event, payload: Any, builder: BookBuilder) -> None:
        if isinstance(payload, BookSnapshot):
            if builder.in_sync and builder.sequence is not None:
                book = builder.book
                self._want(builder.sequence, f"rebuilt before position {event.position}", book.bids(), book.asks())
            self._want(payload.sequence, f"snapshot at position {event.position}", payload.bids, payload.asks)
        builder.apply(event)

    def _want(self, sequence: int, what: str, bids: Iterable[Any], asks: Iterable[Any]) -> None:
        self.wanted.setdefault(sequence, []).append((what, _fingerprint(bids, asks)))


async def _compare(db: Path, ex: LoopbackExchange, result: SoakResult) -> None:
    scan, builder = _LogScan(), BookBuilder(SyncRule.SPOT, BOOK)
    store = await open_sqlite_store(db, readonly=True)
    try:
        async for event in store.read(EventFilter()):
            scan.take(event, builder)
    finally:
        await store.close()
    served = ex.served
    recorded = set(scan.trades)
    clean = set(served.clean_trade_ids(SYMBOL, "ws"))
    spoiled = set(served.spoiled_trade_ids(SYMBOL, "ws"))
    up_to = max(recorded, default=0)
    result.events, result.trades = scan.events, len(scan.trades)
    result.duplicates = len(scan.trades) - len(recorded)
    result.not_served_intact = len(recorded - clean)
    lost = {tid for tid in clean | spoiled if tid <= up_to} - recorded
    result.undeclared = sorted(lost - scan.gap_ids)[:20]
    result.gap_trades = len(lost & scan.gap_ids)
    result.exchange_hours = (scan.last_ns - (scan.first_ns or scan.last_ns)) / 3.6e12
    result.book = _check_books(scan.wanted, ex, served)


def _numberings(served: Served) -> list[tuple[int, int]]:
    """Per numbering of the depth stream (a sequence reset starts a new one): ``(first id, offset)``.

    An id sent in a numbering minus its offset is the id it had before any reset (the loopback
    moves ids by ``restarted - upcoming`` at each reset, cumulatively). Each reset restarts at
    half the next id, so a later numbering lies below the earlier ones.
    """
    start = int(served.recorded_snapshots[SYMBOL]["lastUpdateId"])
    numberings, offset = [(start, 0)], 0
    for fault in served.faults:
        if fault.action == "reset" and fault.symbol == SYMBOL and fault.depth_ids:
            upcoming, restarted = fault.depth_ids[0]
            offset += restarted - upcoming
            numberings.append((restarted, offset))
    return numberings


def _original_id(sequence: int, numberings: list[tuple[int, int]]) -> int:
    """The id ``sequence`` had before the resets: its numbering is the one starting highest at or below it."""
    _, offset = max((n for n in numberings if n[0] <= sequence), default=numberings[0])
    return sequence - offset


def _check_books(wanted: dict[int, list[tuple[str, int]]], ex: LoopbackExchange, served: Served) -> BookCheck:
    """Play the exchange's book (the capture, lap after lap) and compare it at every id the log asks about."""
    numberings = _numberings(served)
    by_original: dict[int, list[tuple[str, int]]] = {}
    for sequence, items in wanted.items():
        by_original.setdefault(_original_id(sequence, numberings), []).extend(items)
    check = BookCheck()
    for original, fingerprint in _exchange_books(ex, served, set(by_original)):
        for what, expected in by_original.pop(original):
            check.snapshots += what.startswith("snapshot")
            check.rebuilt += what.startswith("rebuilt")
            if expected != fingerprint:
                check.mismatches.append(f"{what}: update id {original} differs from the exchange's book")
    check.mismatches += [
        f"{w}: update id {o} never reached by the exchange" for o, i in by_original.items() for w, _ in i
    ]
    return check


def _exchange_books(ex: LoopbackExchange, served: Served, ids: set[int]) -> Iterable[tuple[int, int]]:
    """``(update id, fingerprint)`` of the exchange's book at each of ``ids``, as ``/api/v3/depth`` would serve it."""
    snapshot = served.recorded_snapshots[SYMBOL]
    bids, asks = dict(snapshot["bids"]), dict(snapshot["asks"])
    last, top = int(snapshot["lastUpdateId"]), max(ids, default=0)
    if last in ids:
        yield last, _book_fingerprint(bids, asks)
    for u, data in _played_updates(ex, served.laps):
        if u <= last:
            continue  # already in the book (Binance's rule: an update at or below the snapshot's id)
        _set_levels(bids, data["b"])
        _set_levels(asks, data["a"])
        last = u
        if u in ids:
            yield u, _book_fingerprint(bids, asks)
        if u >= top:
            return


def _played_updates(ex: LoopbackExchange, laps_begun: int) -> Iterable[tuple[int, dict[str, Any]]]:
    """The capture's depth updates lap after lap, each lap after the first opened by its bridge update."""
    updates, laps = ex.capture.depth(SYMBOL), ex.laps
    shift = laps.depth_shift(SYMBOL)
    for lap in range(laps_begun):
        if lap:
            bridge = laps.bridge(SYMBOL, lap, updates[0]).data  # ids already of its lap
            yield int(bridge["u"]), bridge
        for frame in updates:
            yield int(frame.data["u"]) + shift * lap, frame.data


def _set_levels(side: dict[str, str], levels: list[list[str]]) -> None:
    for price, size in levels:
        if float(size):
            side[price] = size
        else:
            side.pop(price, None)


def _book_fingerprint(bids: dict[str, str], asks: dict[str, str]) -> int:
    return _fingerprint(
        ((float(p), float(s)) for p, s in bids.items()), ((float(p), float(s)) for p, s in asks.items())
    )


def _cli_checks(db: Path, result: SoakResult) -> None:
    verified = CliRunner().invoke(app, ["sessions", "verify", "--db", str(db)])
    result.verify_exit, result.verify_output = verified.exit_code, verified.output.strip()
    listed = CliRunner().invoke(app, ["sessions", "list", "--db", str(db), "--json"])
    result.listed = json.loads(listed.stdout) if listed.exit_code == 0 else []


def check(result: SoakResult) -> list[str]:
    """What is wrong with a soak: empty when every promise held."""
    problems = []
    if result.recording_after_s is None:
        problems.append(f"no trade recorded {STARTUP_S:g} s after the start: {result.stderr_tail[-3:]}")
    if not result.alive_at_end:
        problems.append(f"the recorder ended before SIGINT: {result.stderr_tail[-3:]}")
    if result.exit_code != 0:
        problems.append(f"exit code {result.exit_code} on SIGINT: {result.stderr_tail[-3:]}")
    if result.duplicates or result.not_served_intact:
        problems.append(f"{result.duplicates} trades twice, {result.not_served_intact} never served intact")
    if result.undeclared:
        problems.append(f"trades neither recorded nor in a gap, first {result.undeclared[:5]}")
    problems += result.book.mismatches[:5]
    if result.verify_exit != 0:
        problems.append(f"sessions verify: exit {result.verify_exit}: {result.verify_output}")
    if result.rss_peak_kb >= RSS_BOUND_MB * KB:
        problems.append(f"peak RSS {result.rss_peak_kb / KB:.0f} MB, over {RSS_BOUND_MB} MB")
    if result.plan.wall_s >= FLAT_AFTER_S and (growth := _second_half_growth(result)) > FLAT_GROWTH:
        problems.append(f"RSS grew {growth:.0%} over the second half: memory is not flat")
    if (wal := max((s.wal_bytes for s in result.samples), default=0)) >= WAL_BOUND_MB * 2**20:
        problems.append(f"WAL peak {wal / 2**20:.0f} MB, over {WAL_BOUND_MB} MB")
    chain = [(s["id"], s.get("previous")) for s in result.listed]
    if len(chain) < 2 or any(
        previous != earlier for (_, previous), (earlier, _) in zip(chain[1:], chain, strict=False)
    ):
        problems.append(f"sessions list does not show a chain of rotated sessions: {chain}")
    return problems


def _second_half_growth(result: SoakResult) -> float:
    rss = [s.rss_kb for s in result.samples if s.rss_kb and s.recording]
    return (rss[-1] - rss[len(rss) // 2]) / rss[len(rss) // 2] if len(rss) >= 2 else 0.0


# -- figures ---------------------------------------------------------------------------


def figures(result: SoakResult) -> dict[str, Any]:
    """The soak's figures, by name (what ``docs/recording.md`` reports)."""
    rss = [s.rss_kb for s in result.samples if s.rss_kb and s.recording]
    summary = result.summary
    return {
        "wall time recording (s)": result.plan.wall_s,
        "recorder start to first trade (s)": result.recording_after_s,
        "exchange time covered (h)": round(result.exchange_hours, 2),
        "laps of the capture": result.laps,
        "events committed": result.events,
        "trades recorded": result.trades,
        "faults injected": sum(result.faults.values()),
        **{f"  {kind}": count for kind, count in result.faults.items()},
        "gaps declared": len(summary.get("gaps", [])),
        "trades inside gaps": result.gap_trades,
        "channel restarts": len(summary.get("channel_restarts", [])),
        "payloads rejected": sum(r["count"] for r in summary.get("rejected", [])),
        "WebSocket connections": result.ws_connections,
        "sessions (rotations + 1)": len(result.listed),
        "book snapshots compared": result.book.snapshots,
        "rebuilt books compared": result.book.rebuilt,
        "RSS once recording (MB)": _mb(rss[:1]),
        "RSS at 1/4, 1/2, 3/4 (MB)": " ".join(str(_mb(rss[len(rss) * q // 4 :][:1])) for q in (1, 2, 3)),
        "RSS at the end (MB)": _mb(rss[-1:]),
        "RSS growth over the second half": f"{_second_half_growth(result):.1%}",
        "RSS peak, VmHWM (MB)": round(result.rss_peak_kb / KB, 1),
        "WAL peak (MB)": round(max((s.wal_bytes for s in result.samples), default=0) / 2**20, 1),
        "exit code on SIGINT": result.exit_code,
    }


def _mb(kb: list[int]) -> float:
    return round(kb[0] / KB, 1) if kb else 0.0


def _table(named: dict[str, Any]) -> str:
    width = max(map(len, named))
    return "\n".join(f"{name:<{width}}  {value}" for name, value in named.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall time of the recording (default 10)")
    parser.add_argument("--seed", type=int, default=18, help="the chaos seed")
    parser.add_argument("--chaos-rate", type=float, default=SoakPlan.chaos_rate)
    parser.add_argument("--rotate", default="1m", help="session rotation period of the recorder's clock")
    parser.add_argument("--connection-hours", type=float, default=SoakPlan.connection_hours,
                        help="the venue's connection lifetime in hours of playback (Binance: 24)")  # fmt: skip
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("VIRTUOSO_SHARED_DATA", "../shared/data")))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the log here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the figures and samples as JSON")
    args = parser.parse_args(argv)
    if not (args.data / DEFAULT_CAPTURES[0]).is_file():
        print(f"error: the BTCUSDT capture is not in {args.data} (--data or VIRTUOSO_SHARED_DATA)", file=sys.stderr)
        return 2
    plan = SoakPlan(args.minutes * 60, args.seed, args.chaos_rate, rotate=args.rotate,
                    connection_hours=args.connection_hours)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run_soak(plan, args.data, workdir))
    problems = check(result)
    if args.json:
        print(json.dumps({"figures": figures(result), "samples": [asdict(s) for s in result.samples]}, indent=1))
    else:
        print(_table(figures(result)))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
