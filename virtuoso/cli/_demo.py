"""``virtuoso demo``: write a small, deterministic synthetic event log and check it.

A stand-in until the real demo exists: one session of seeded synthetic BTC/USDT
trades (a random walk) with a quote every hundred trades. The same seed always
gives the same log, down to the head of the hash chain.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from virtuoso.cli._app import fail, out_console, run
from virtuoso.cli._sessions import print_table, print_verify, sessions_table
from virtuoso.events import Event, EventIdFactory, Payload, Quote, Trade, stream_name
from virtuoso.store import SessionInfo, VerifyReport, open_sqlite_store

DEMO_START_NS = 1_723_161_255_000_000_000
"""Exchange time of the demo session's start (2024-08-08T23:54:15Z); never the wall clock."""
SYMBOL = "BTC/USDT"
TRADES = stream_name("synthetic", SYMBOL, "trades")
QUOTES = stream_name("synthetic", SYMBOL, "quotes")
QUOTE_EVERY = 100
_FIRST_TRADE_ID = 3_735_683_000
_MEAN_GAP_NS = 50_000_000
_BATCH = 500


def synthetic_events(session_id: str, seed: int, trades: int) -> Iterator[Event]:
    """``trades`` seeded random-walk trades, and a Quote after every :data:`QUOTE_EVERY`-th."""
    rng = random.Random(seed)
    envelope = _Envelope(session_id, rng)
    price, ts = 58_000.0, DEMO_START_NS
    for n in range(1, trades + 1):
        ts += 1 + int(rng.expovariate(1 / _MEAN_GAP_NS))
        price = max(round(price * (1 + rng.gauss(0, 0.0002)), 2), 0.01)
        amount = round(0.00001 + rng.expovariate(100), 5)
        yield envelope(TRADES, ts, Trade(price, amount, rng.choice(("buy", "sell")), str(_FIRST_TRADE_ID + n)))
        if n % QUOTE_EVERY == 0:
            bid_size, ask_size = round(rng.uniform(0.1, 3), 4), round(rng.uniform(0.1, 3), 4)
            yield envelope(QUOTES, ts, Quote(price, bid_size, round(price + 0.01, 2), ask_size, n))


class _Envelope:
    """Events of one session: deterministic ids and a seeded receive latency of 1-5 ms."""

    def __init__(self, session_id: str, rng: random.Random) -> None:
        self._session_id = session_id
        self._ids = EventIdFactory(session_id)
        self._rng = rng

    def __call__(self, stream: str, ts: int, payload: Payload) -> Event:
        latency = self._rng.randrange(1_000_000, 5_000_000)
        return Event(self._ids(ts), stream, ts, ts + latency, self._session_id, payload)


def _replace_earlier_log(path: Path) -> None:
    """Remove an earlier event log at ``path`` with its -wal and -shm files; refuse any other file."""
    if not path.exists():
        return
    if not path.is_file():
        raise fail(f"{path}: not a file")
    # Only an event log is removed: a mistyped --db must not delete someone's file.
    run(lambda: _check_event_log(path))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


async def _check_event_log(path: Path) -> None:
    store = await open_sqlite_store(path, readonly=True)
    await store.close()


async def build_demo(path: Path, seed: int, trades: int) -> tuple[list[SessionInfo], VerifyReport]:
    """Write the demo session to the log at ``path``; return its sessions and verify report."""
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session(
            "demo",
            "synthetic",
            started_ns=DEMO_START_NS,
            symbols=(SYMBOL,),
            channels=("trades", "quotes"),
            config={"seed": seed, "events": trades},
        )
        events = list(synthetic_events(info.id, seed, trades))
        # Batches (and so the head hash) must depend on the event count alone, never on timing.
        async with store.writer(max_events=_BATCH, max_delay_s=3600.0) as writer:
            await writer.write_many(events)
        await store.end_session(info.id, ended_ns=events[-1].ts_recv, reason="demo complete")
        return await store.sessions(), await store.verify()
    finally:
        await store.close()


def demo(
    db: Annotated[
        Path,
        typer.Option(
            "--db",
            help="Where to write the log. An existing event log there is deleted first (with its "
            "-wal and -shm files) so reruns are reproducible; any other file is left alone.",
        ),
    ] = Path("out/demo.sqlite"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic trades; same seed, same log.")] = 7,
    events: Annotated[int, typer.Option("--events", min=1, max=1_000_000, help="Number of synthetic trades.")] = 2000,
) -> None:
    """Write a small deterministic synthetic event log, then list and verify it."""
    _replace_earlier_log(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    infos, report = run(lambda: build_demo(db, seed, events))
    out_console.print(f"wrote {infos[-1].events} events to {escape(str(db))}")
    print_table(sessions_table(infos))
    print_verify(db, report, as_json=False)
    if not report.ok:
        raise typer.Exit(1)
