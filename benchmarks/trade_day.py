"""A generated day of BTCUSDT trades in Binance's trade-dump format, and the day's jobs run in a child process.

    python -m benchmarks.trade_day generate DIR TRADES [SEED]   # writes DIR/BTCUSDT-trades-2024-08-09.zip
    python -m benchmarks.trade_day import ZIP LOG               # binance-vision import into a new log
    python -m benchmarks.trade_day replay LOG                   # the day replayed with the default analyzers
    python -m benchmarks.trade_day backtest LOG                 # the day backtested with MovingAverageCross

Each job prints one JSON object: ``events`` (trades), ``seconds`` (the job alone,
timed inside the child, imports and interpreter start-up left out), ``cpu_seconds``
(the child's CPU time over the same span, all threads) and
``peak_rss_mib`` (the child's own high-water mark, ``VmHWM``: see
``replay_memory.py`` for why not ``ru_maxrss``).

**The file** is what https://data.binance.vision publishes for a spot market, and
what ``virtuoso import binance-vision`` reads (``virtuoso/importers/_vision.py``): a
zip holding one CSV member of the same name, no header row, seven columns
``id, price, qty, quote_qty, time, is_buyer_maker, is_best_match``, times in
milliseconds (spot files before 2025), prices and quantities with 8 decimals,
flags as ``True``/``False``. The content is seeded (``random.Random(seed)``): taker
orders arrive at random over the 24 hours, each filling one to a few maker orders
in the same millisecond and on the same side, walking the price a tick per fill;
between orders the price takes a random step in cents; sizes are log-normal
around 0.002 BTC in steps of 0.00001. Same trades and seed, same bytes.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.replay_memory import _peak_rss_kb
from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, StrategySpec, VenueConfig, run_backtest
from virtuoso.importers import import_files
from virtuoso.replay import ReplaySelection, RunConfig, analyzers_named, replay_run
from virtuoso.store import open_sqlite_store
from virtuoso.strategies import MovingAverageCross, MovingAverageCrossConfig

DAY = "2024-08-09"
DAY_START_MS = 1_723_161_600_000
DAY_MS = 86_400_000
FIRST_ID = 3_735_683_259
FILE_STEM = f"BTCUSDT-trades-{DAY}"
_ROWS_PER_WRITE = 50_000


def day_rows(trades: int, seed: int) -> list[str]:
    """The CSV lines (with their newline) of ``trades`` trades of one day, drawn from ``seed``."""
    rng = random.Random(seed)
    lines: list[str] = []
    cents = 6_000_000  # 60,000.00 USDT
    order_times = sorted(rng.randrange(DAY_MS) for _ in range(trades))
    trade_id = FIRST_ID
    for order_ms in order_times:
        if len(lines) == trades:
            break
        maker_is_buyer = rng.random() < 0.5
        cents = max(100, cents + round(rng.gauss(0.0, 150.0)))
        fills = min(1 + int(rng.expovariate(1.2)), trades - len(lines))
        for _ in range(fills):
            lots = max(1, round(math.exp(rng.gauss(math.log(200.0), 1.3))))
            lines.append(_line(trade_id, cents, lots, DAY_START_MS + order_ms, maker_is_buyer))
            trade_id += 1
            cents += -1 if maker_is_buyer else 1  # the taker walks the book a tick per fill
    return lines


def _line(trade_id: int, cents: int, lots: int, ms: int, maker_is_buyer: bool) -> str:
    price = cents / 100
    qty = lots / 100_000
    return f"{trade_id},{price:.8f},{qty:.8f},{price * qty:.8f},{ms},{maker_is_buyer},True\n"


def write_day_zip(directory: Path, trades: int, seed: int = 21) -> Path:
    """``directory/BTCUSDT-trades-2024-08-09.zip``: one day of ``trades`` generated trades, Binance's layout."""
    rows = day_rows(trades, seed)
    path = directory / f"{FILE_STEM}.zip"
    info = zipfile.ZipInfo(f"{FILE_STEM}.csv", date_time=(2024, 8, 10, 0, 0, 0))  # fixed: same bytes every run
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive, archive.open(info, "w") as member:
        for start in range(0, len(rows), _ROWS_PER_WRITE):
            member.write("".join(rows[start : start + _ROWS_PER_WRITE]).encode())
    return path


async def import_day(zip_path: Path, log: Path) -> dict[str, Any]:
    """Import the day into a new log at ``log`` (the store is opened before the clock starts)."""
    store = await open_sqlite_store(log)
    try:
        began = _clocks()
        report = await import_files(store, "binance-vision", [zip_path])
        spent = _since(began)
    finally:
        await store.close()
    return {"events": report.counts.get("Trade", 0), **spent, "session": report.session}


async def replay_day(log: Path) -> dict[str, Any]:
    """Replay the log's one session with the default analyzers into a run."""
    run = RunConfig(ReplaySelection(sessions=(await _only_session(log),)), analyzers_named("default"))
    began = _clocks()
    result = await replay_run(AppConfig(db=log), run, force=True)
    return {"events": result.events_in, **_since(began), "events_out": result.events_out}


async def backtest_day(log: Path) -> dict[str, Any]:
    """Backtest the log's one session with ``MovingAverageCross`` (its defaults: 10 and 30 one-minute bars)."""
    spec = StrategySpec("virtuoso.strategies:MovingAverageCross", MovingAverageCross, MovingAverageCrossConfig())
    selection = ReplaySelection(sessions=(await _only_session(log),), order="exchange-time")
    config = BacktestConfig(selection, spec, VenueConfig(initial_cash=1_000_000.0))
    began = _clocks()
    result = await run_backtest(AppConfig(db=log), config)
    return {"events": result.events_in, **_since(began), "fills": len(result.fills)}


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(began: tuple[float, float]) -> dict[str, float]:
    """Wall seconds since ``began``, and this process's CPU seconds (all its threads: SQLite's too), which a
    busy machine stretches less than wall time."""
    wall, cpu = _clocks()
    return {"seconds": wall - began[0], "cpu_seconds": round(cpu - began[1], 3)}


async def _only_session(log: Path) -> str:
    store = await open_sqlite_store(log, readonly=True)
    try:
        (session,) = await store.sessions()
    finally:
        await store.close()
    return session.id


def main(argv: list[str]) -> None:
    """``generate DIR TRADES [SEED]``, ``import ZIP LOG``, ``replay LOG`` or ``backtest LOG``."""
    match argv:
        case ["generate", directory, trades, *seed]:
            print(write_day_zip(Path(directory), int(trades), *(int(s) for s in seed)))
            return
        case ["import", zip_path, log]:
            report = asyncio.run(import_day(Path(zip_path), Path(log)))
        case ["replay", log]:
            report = asyncio.run(replay_day(Path(log)))
        case ["backtest", log]:
            report = asyncio.run(backtest_day(Path(log)))
        case _:
            sys.exit(__doc__)
    print(json.dumps({**report, "peak_rss_mib": round(_peak_rss_kb() / 1024, 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
