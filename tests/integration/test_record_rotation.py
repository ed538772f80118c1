"""Session rotation against the loopback exchange: one recording crosses several boundaries.

The loopback serves the BTCUSDT capture in a loop; the recording rotates every
second of its clock, so a few seconds of wall time cross several boundaries.
Across the chain of sessions every served trade is recorded exactly once, each
book of a session after the first starts with a snapshot, and the log verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json
from virtuoso.book import BookBuilder, SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event, SessionEnded, SessionStarted, Trade
from virtuoso.exchange import Channel, RecordConfig, ResilienceSettings, record
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
BOOK = "binance:BTC/USDT:book"
SESSIONS = 5
TIMEOUT_S = 20.0


def _stop_in_session(number: int, stop: asyncio.Event) -> Callable[[Event], None]:
    """Stop once a trade of the ``number``-th session is received."""
    seen: list[str] = []

    def watch(event: Event) -> None:
        if isinstance(event.payload, Trade) and event.session not in seen:
            seen.append(event.session)
            if len(seen) >= number:
                stop.set()

    return watch


@pytest.mark.asyncio
async def test_a_recording_rotates_its_session_without_losing_or_repeating_a_trade(db_path: Path) -> None:
    data_dir = require_data(CAPTURE).parents[3]
    async with LoopbackExchange(data_dir, speed=20, loop=True) as ex:
        config = RecordConfig(
            exchange="binance",
            symbols=("BTC/USDT",),
            channels=(Channel("trades"), Channel("book")),
            ccxt=ex.ccxt_config(timeout=3000),
            book_limit=5000,
            resilience=ResilienceSettings(base_delay_s=0.01, max_delay_s=0.05, seed=1),
            rotate="1s",
            session_name="rotating",
        )
        stop = asyncio.Event()
        summary = await asyncio.wait_for(
            record(config, db_path, stop=stop, handlers=[_stop_in_session(SESSIONS, stop)]), TIMEOUT_S
        )
        served = ex.served.clean_trade_ids("BTCUSDT", "ws")
    store = await open_sqlite_store(db_path, readonly=True)
    try:
        sessions = await store.sessions()
        events = [e async for e in store.read(EventFilter())]
        report = await store.verify()
    finally:
        await store.close()

    assert report.ok, report
    chain = summary["sessions"]
    assert len(chain) >= SESSIONS
    assert [s.id for s in sessions] == chain
    assert [s.manifest.get("previous") for s in sessions] == [None, *chain[:-1]]
    assert [s.manifest.get("part") for s in sessions] == [None, *range(2, len(chain) + 1)]
    assert sessions[0].name == "rotating"
    assert all(s.name.startswith("rotating @20") and s.name.endswith("Z") for s in sessions[1:])
    assert [(s.status, s.end_reason) for s in sessions[:-1]] == [("closed", "rotated")] * (len(chain) - 1)
    assert sessions[-1].status == "closed"

    by_session = {s.id: s for s in sessions}
    market = [e for e in events if not isinstance(e.payload, SessionStarted | SessionEnded)]
    for event in market:  # each event belongs to the session in force when it was received
        info = by_session[event.session]
        assert info.started_ns <= event.ts_recv <= (info.ended_ns or event.ts_recv)

    trades = [int(e.payload.trade_id) for e in events if isinstance(e.payload, Trade)]
    assert len(trades) == len(set(trades))
    assert sorted(trades) == [t for t in served if t <= max(trades)]
    assert len({e.session for e in events if isinstance(e.payload, Trade)}) >= SESSIONS

    later_books = [[e.payload for e in market if e.session == s and e.stream == BOOK] for s in chain[1:]]
    # The book comes once ccxt has synced it: the first rotations may pass before; then every session has one.
    assert sum(1 for book in later_books if book) >= 2
    assert all(isinstance(book[0], BookSnapshot) for book in later_books if book)
    assert all(isinstance(p, BookSnapshot | BookDelta) for book in later_books for p in book)
    builder = BookBuilder(SyncRule.SPOT, BOOK)
    assert not any(builder.apply(e) for e in market if e.stream == BOOK)
    assert builder.in_sync

    listed = await asyncio.to_thread(cli_json, "sessions", "list", "--db", db_path)
    assert [(s["id"], s.get("previous")) for s in listed] == list(zip(chain, [None, *chain[:-1]], strict=True))
    table = await asyncio.to_thread(cli, "sessions", "list", "--db", db_path)
    assert "previous" in table.stdout
    assert chain[0][:12] in table.stdout
