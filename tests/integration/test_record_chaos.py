"""Recordings through seeded chaos: whatever the loopback exchange throws, every trade served intact is in the log
exactly once, every trade it spoiled or withheld is inside a declared Gap, and nothing malformed is stored.

Real ccxt.pro (and ccxt REST for two seeds) against the loopback exchange with
``chaos=SEED``: faults drawn at random from the whole catalogue (broken and
wrong-shaped frames, garbage values, cuts mid-frame, stalls, disconnects, forced
reconnects, depth resets; truncated, empty, HTML and object bodies, rows with
garbage or missing fields, ids backwards, pages out of order, absurd times, 429,
418, 5xx, slow answers). Five seeds; together they must have applied every kind
the channels can draw.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_record_loopback import _config, _data_dir, _log
from virtuoso.events import Event, Gap, Trade
from virtuoso.exchange import Channel, ResilienceSettings, record
from virtuoso.testing import LoopbackExchange
from virtuoso.testing._chaos import REST_CHAOS, WS_CHAOS

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

FRAMES = 6_000
RUN_S = 90.0
REST_S = 8.0
REST_LIMIT_S = 60.0
REST_RATE = 0.15
MIN_KINDS = 3
MISSING = re.compile(r"trade ids (\d+)\.\.(\d+) missing")
SEEDS = [(1, "ws"), (2, "ws"), (3, "ws"), (4, "rest"), (5, "rest")]
APPLIED: dict[int, set[str]] = {}
EVERY_KIND = {"ws": set(WS_CHAOS), "rest": set(REST_CHAOS)}


def _gap_ids(events: list[Event]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        if isinstance(event.payload, Gap):
            for low, high in MISSING.findall(event.payload.reason):
                ids.update(range(int(low), int(high) + 1))
    return ids


async def _record_until_served(ex: LoopbackExchange, db: Path, mode: str) -> dict[str, Any]:
    """Record until every trade the loopback will serve intact is in, or (REST) for a while of the playback."""
    stop = asyncio.Event()
    last = max(int(f.data["t"]) for f in ex.capture.frames[:FRAMES] if f.event == "trade")
    newest = [0]

    def watch(event: Event) -> None:
        if isinstance(event.payload, Trade):
            newest[0] = max(newest[0], int(event.payload.trade_id))

    settings = ResilienceSettings(base_delay_s=0.01, max_delay_s=0.05, failure_threshold=1000, seed=1)
    config = _config(
        ex,
        mode=mode,
        channels=(Channel("trades"), Channel("book")) if mode == "ws" else (Channel("trades"),),
        trades_limit=200,
        stall_timeout_s=1.0,
        restart_base_s=0.05,
        restart_max_s=0.2,
        resilience=settings,
    )
    # WebSocket: until the last trade of the frames was dealt with (served intact or spoiled) and every trade
    # served intact is recorded. REST pages from the newest trades on at the start, so it records for a while
    # of the capture's playback instead.
    run = asyncio.create_task(record(config, db, stop=stop, handlers=[watch]))
    if mode == "ws":
        await _until_ws_recorded(ex, run, last, newest)
    else:
        await _until_rest_covered(ex, run)
    stop.set()
    return await asyncio.wait_for(run, 30)


async def _until_ws_recorded(ex: LoopbackExchange, run: asyncio.Task[Any], last: int, newest: list[int]) -> None:
    """Wait (at most ``RUN_S``) until the loopback dealt with its last trade and the newest trade it served
    intact is recorded: a chaos fault can spoil the very last trade, which then never arrives."""
    async with asyncio.timeout(RUN_S):
        while not run.done():
            clean = ex.served.clean_trade_ids("BTCUSDT", "ws")
            dealt = last in clean or last in ex.served.spoiled_trade_ids("BTCUSDT", "ws")
            if dealt and clean and newest[0] >= clean[-1]:
                return
            await asyncio.wait([run], timeout=0.05)


async def _until_rest_covered(ex: LoopbackExchange, run: asyncio.Task[Any]) -> None:
    """Let a REST recording run ``REST_S``, and on past it (up to ``REST_LIMIT_S``) until chaos applied
    every REST kind: a loaded machine polls fewer pages in the same time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not run.done():
        elapsed = loop.time() - start
        kinds = {fault.action for fault in ex.served.faults}
        if elapsed >= REST_LIMIT_S or (elapsed >= REST_S and kinds >= EVERY_KIND["rest"]):
            return
        await asyncio.wait([run], timeout=0.1)


@pytest.mark.parametrize(("seed", "mode"), SEEDS, ids=[f"seed{s}-{m}" for s, m in SEEDS])
async def test_every_served_trade_once_or_in_a_declared_gap(
    db_path: Path, seed: int, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A REST recording makes a few requests a second: a higher rate lets its seeds deal every kind.
    chaos = {"chaos": seed, "chaos_rate": 0.02 if mode == "ws" else REST_RATE, "chaos_seconds": 0.3}
    speed = 0 if mode == "ws" else 40
    async with LoopbackExchange(_data_dir(), speed=speed, max_messages=FRAMES, **chaos) as ex:
        summary = await _record_until_served(ex, db_path, mode)
        clean = set(ex.served.clean_trade_ids("BTCUSDT", mode))
        spoiled = set(ex.served.spoiled_trade_ids("BTCUSDT", mode))
        APPLIED[seed] = {fault.action for fault in ex.served.faults}
    events = await _log(db_path)
    recorded = [int(e.payload.trade_id) for e in events if isinstance(e.payload, Trade)]
    assert summary["status"] == "closed", summary["reason"]
    assert len(APPLIED[seed]) >= MIN_KINDS, f"chaos applied too few kinds of fault: {APPLIED[seed]} {summary}"
    print(f"seed {seed} {mode}: faults {sorted(APPLIED[seed])}, {len(recorded)} trades, gaps {len(summary['gaps'])}")
    assert len(recorded) == len(set(recorded)), "a trade stored twice"
    assert set(recorded) <= clean, f"stored trades never served intact: {sorted(set(recorded) - clean)[:5]}"
    up_to = max(recorded)
    lost = {tid for tid in clean | spoiled if tid <= up_to} - set(recorded)
    undeclared = sorted(lost - _gap_ids(events))
    assert not undeclared, f"{len(undeclared)} trades neither recorded nor in a gap, first {undeclared[:5]}"
    assert clean - set(recorded) <= _gap_ids(events) | {tid for tid in clean if tid > up_to}
    _all_seeds_applied_every_kind(tmp_path_factory, seed, mode)


def _all_seeds_applied_every_kind(tmp_path_factory: pytest.TempPathFactory, seed: int, mode: str) -> None:
    """Once every seed has run (in whichever worker), the faults they applied cover the catalogue of their mode.

    Each seed leaves what it applied in a folder of this test run that all workers share; the
    seed that completes the set checks it.
    """
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if root.name.startswith("popen-gw") else root) / "chaos-applied"
    shared.mkdir(exist_ok=True)
    draft = shared / f"{seed}-{mode}.part"
    draft.write_text(json.dumps(sorted(APPLIED[seed])), encoding="utf-8")
    draft.rename(shared / f"{seed}-{mode}.json")
    done = {path.stem: set(json.loads(path.read_text(encoding="utf-8"))) for path in shared.glob("*.json")}
    if len(done) < len(SEEDS):
        return
    for kind_mode, every in EVERY_KIND.items():
        applied = set().union(*(kinds for name, kinds in done.items() if name.endswith(f"-{kind_mode}")))
        assert every <= applied, f"no {kind_mode} seed applied {sorted(every - applied)}"
