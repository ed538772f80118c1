"""Measure the columnar batch format (``virtuoso.store._batch_codec``): bytes an event and speed against the floor.

Run: ``python -m benchmarks.batch_codec [--rounds 5] [--synthetic-hours 24] [--json FILE]``
(needs the shared data of ``VIRTUOSO_SHARED_DATA``; its captures are imported into a
temporary log first, untimed).

What it prints:

* **bytes**: the blobs' size per event for the real BTCUSDT capture trades and a
  seeded synthetic day of trades, in batches of 5,000, 50,000 and the whole
  session, at zstd level 3 (what a commit uses) and 19 (what sealing could use);
  then the four spot captures' events (one batch per stream and session) against
  the size of the capture files' gzip;
* **sealing**: what re-encoding the capture's trades, committed live in batches of
  100, into one batch costs (CPU time) and saves (bytes);
* **speed**, in one run, rounds interleaved, best CPU time of each side, for the capture's
  BTCUSDT trades, the synthetic day's trades and the capture's BTCUSDT book deltas: the
  floor is a minimal SQLite table ``(seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT,
  payload BLOB)`` holding the same JSON payloads, written with one ``executemany`` and
  read with a ``SELECT`` and a ``msgspec`` decoder of the payload class (the append's
  time includes encoding the payloads, as ours includes encoding the batches); ours
  writes the blobs into a ``(seq INTEGER PRIMARY KEY, blob BLOB)`` table in batches of
  100 (a live commit's size), 5,000 and 50,000 events (encode included, one
  transaction, as the floor's) and reads them back as typed events (``decode_batch``)
  or as trade columns (``decode_columns``, what ``to_frame`` needs). Ratios are floor
  time over ours: above 1 is faster than the floor. The load average is printed
  before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from virtuoso.events import REGISTRY, Event, encode_payload
from virtuoso.importers import import_files
from virtuoso.store import open_sqlite_store
from virtuoso.store._batch_codec import decode_batch, decode_columns, encode_batch
from virtuoso.synthetic import MarketConfig, synthetic_market_events

DATA = Path(os.environ.get("VIRTUOSO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CAPTURES = sorted((DATA / "hftbacktest" / "examples" / "spot").glob("*.gz"))
BTC_TRADES = "binance:BTC/USDT:trades"
BATCH_SIZES = (5_000, 50_000, None)
SPEED_SIZES = (100, 5_000, 50_000)
BTC_BOOK = "binance:BTC/USDT:book"
FRAME_FIELDS = ("ts_event", "price", "amount", "side", "trade_id")


def captured_events(directory: Path) -> list[Event]:
    """The four spot captures imported into a fresh log, read back in position order."""

    async def run() -> list[Event]:
        store = await open_sqlite_store(directory / "capture.sqlite")
        try:
            await import_files(store, "binance-capture", CAPTURES)
            return [e async for e in store.read()]
        finally:
            await store.close()

    return asyncio.run(run())


def synthetic_trades(hours: float, seed: int = 21) -> list[Event]:
    """The trades of a seeded synthetic session of ``hours``, numbered as a log would (book events between)."""
    events = synthetic_market_events("synthetic-day", MarketConfig(hours=hours), seed=seed)
    versions: dict[str, int] = defaultdict(int)
    numbered = []
    for position, event in enumerate(events, start=2):
        versions[event.stream] += 1
        numbered.append(msgspec.structs.replace(event, position=position, version=versions[event.stream]))
    return [e for e in numbered if e.type == "Trade"]


def batches(events: Sequence[Event], size: int | None) -> Iterator[Sequence[Event]]:
    """``events`` cut into batches of ``size`` (``None``: one batch)."""
    step = size or len(events)
    for start in range(0, len(events), step):
        yield events[start : start + step]


def by_stream_and_session(events: Sequence[Event]) -> list[list[Event]]:
    """The events grouped into one list per (session, stream), as a sealed session stores them."""
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        groups[(event.session, event.stream)].append(event)
    return list(groups.values())


def bytes_per_event(events: Sequence[Event], size: int | None, level: int) -> float:
    """Blob bytes an event with batches of ``size``."""
    return sum(len(encode_batch(b, level=level)) for b in batches(events, size)) / len(events)


# -- speed ------------------------------------------------------------------------------------


def floor_write(path: Path, events: Sequence[Event]) -> Callable[[], None]:
    """The raw append: ``executemany`` of (ts, type, JSON payload) into the minimal table, payloads encoded."""

    def run() -> None:
        rows = [(e.ts_event, e.type, encode_payload(e.payload)) for e in events]
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER, type TEXT, payload BLOB)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO events (ts, type, payload) VALUES (?, ?, ?)", rows)
        db.execute("COMMIT")
        db.close()

    return run


def floor_read(path: Path, expected: int) -> Callable[[], None]:
    """The raw read: ``SELECT`` of the minimal table and a ``msgspec`` decode of each payload."""
    decoders = {name: msgspec.json.Decoder(REGISTRY.class_for(name)).decode for name in REGISTRY.names()}

    def run() -> None:
        db = sqlite3.connect(path)
        count = 0
        cursor = db.execute("SELECT * FROM events ORDER BY seq")
        while rows := cursor.fetchmany(10_000):
            count += len([decoders[row[2]](row[3]) for row in rows])
        db.close()
        assert count == expected

    return run


def batch_write(path: Path, events: Sequence[Event], size: int) -> Callable[[], None]:
    """Our append: encode each batch and insert its blob."""

    def run() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("CREATE TABLE batches (seq INTEGER PRIMARY KEY, blob BLOB)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO batches (blob) VALUES (?)", ((encode_batch(b),) for b in batches(events, size)))
        db.execute("COMMIT")
        db.close()

    return run


def batch_read(path: Path, expected: int, columns: bool) -> Callable[[], None]:
    """Our read: every blob decoded to events, or to the trade columns ``to_frame`` needs."""

    def run() -> None:
        db = sqlite3.connect(path)
        count = 0
        for (blob,) in db.execute("SELECT blob FROM batches ORDER BY seq"):
            if columns:
                count += len(decode_columns(blob, FRAME_FIELDS)["price"])
            else:
                count += len(decode_batch(blob))
        db.close()
        assert count == expected

    return run


def best_times(sides: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Best CPU time of each side over ``rounds`` interleaved rounds.

    CPU time (``process_time``), not wall time: on a machine shared with other
    work, wall time mostly measures the waits for a core. Both sides commit once.
    """
    best = dict.fromkeys(sides, float("inf"))
    gc.freeze()
    try:
        for _ in range(rounds):
            for name, side in sides.items():
                start = time.process_time()
                side()
                best[name] = min(best[name], time.process_time() - start)
    finally:
        gc.unfreeze()
    return best


def speed(events: Sequence[Event], directory: Path, rounds: int, columns: bool = True) -> dict[str, Any]:
    """Events/s of the floor and of ours at each of ``SPEED_SIZES``, and our ratios to the floor, in one run.

    Every side runs once a round, rounds interleaved: the floor and the three
    batch sizes see the same load. ``columns``: also read the trade columns.
    """
    n = len(events)
    floor_db = directory / "floor.sqlite"
    ours_db = {size: directory / f"ours-{size}.sqlite" for size in SPEED_SIZES}

    def fresh(run: Callable[[], None], path: Path) -> Callable[[], None]:
        def side() -> None:
            path.unlink(missing_ok=True)
            run()

        return side

    writes = {"floor": fresh(floor_write(floor_db, events), floor_db)}
    writes |= {str(size): fresh(batch_write(ours_db[size], events, size), ours_db[size]) for size in SPEED_SIZES}
    write = best_times(writes, rounds)
    reads = {"floor": floor_read(floor_db, n)}
    for size in SPEED_SIZES:
        reads[f"{size} events"] = batch_read(ours_db[size], n, columns=False)
        if columns:
            reads[f"{size} columns"] = batch_read(ours_db[size], n, columns=True)
    read = best_times(reads, rounds)
    out: dict[str, Any] = {
        "events": n,
        "floor_per_s": {"append": round(n / write["floor"]), "read": round(n / read["floor"])},
    }
    for size in SPEED_SIZES:
        ratios = {
            "append": round(write["floor"] / write[str(size)], 2),
            "read_events": round(read["floor"] / read[f"{size} events"], 2),
        }
        if columns:
            ratios["read_columns"] = round(read["floor"] / read[f"{size} columns"], 2)
        out[f"batches of {size}"] = ratios | {"append_per_s": round(n / write[str(size)])}
    return out


def sealing(events: Sequence[Event], live_size: int = 100) -> dict[str, float]:
    """What sealing a closed session costs: decode its small live batches, encode one batch (levels 3 and 19)."""
    live = [encode_batch(b) for b in batches(events, live_size)]
    out: dict[str, float] = {"live_bytes_per_event": sum(map(len, live)) / len(events)}
    for level in (3, 19):
        start = time.process_time()
        whole = [e for blob in live for e in decode_batch(blob)]
        sealed = encode_batch(whole, level=level)
        out[f"level {level} events_per_cpu_s"] = len(events) / (time.process_time() - start)
        out[f"level {level} bytes_per_event"] = len(sealed) / len(events)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--synthetic-hours", type=float, default=24.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        captured = captured_events(directory)
        btc = [e for e in captured if e.stream == BTC_TRADES]
        day = synthetic_trades(args.synthetic_hours)
        figures: dict[str, Any] = {"bytes_per_trade": {}, "capture": {}}
        for name, trades in (("btcusdt_capture", btc), ("synthetic_day", day)):
            figures["bytes_per_trade"][name] = {
                f"{size or 'session'}@{level}": round(bytes_per_event(trades, size, level), 2)
                for size in BATCH_SIZES
                for level in (3, 19)
            } | {"trades": len(trades)}
        groups = by_stream_and_session(captured)
        gzip_bytes = sum(p.stat().st_size for p in CAPTURES)
        for level in (3, 19):
            stored = sum(len(encode_batch(g, level=level)) for g in groups)
            figures["capture"][f"level {level}"] = {"bytes": stored, "of_gzip": round(stored / gzip_bytes, 3)}
        figures["capture"] |= {"events": len(captured), "gzip_bytes": gzip_bytes}
        small = {size: round(bytes_per_event(btc, size, 3), 1) for size in (10, 100, 1_000)}
        figures["small_batches_bytes_per_trade"] = small
        figures["sealing_btcusdt_trades_from_100_event_batches"] = sealing(btc)
        deltas = [e for e in captured if e.stream == BTC_BOOK and e.type == "BookDelta"]
        figures["load_average_before_speed"] = [round(v, 1) for v in os.getloadavg()]
        figures["speed"] = {
            "btcusdt_capture_trades": speed(btc, directory, args.rounds),
            "synthetic_day_trades": speed(day, directory, args.rounds),
            "btcusdt_capture_book_deltas": speed(deltas, directory, args.rounds, columns=False),
        }
        figures["load_average_after_speed"] = [round(v, 1) for v in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
