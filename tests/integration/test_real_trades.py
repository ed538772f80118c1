"""Real Binance spot trades (hftbacktest sample, 2024-08-08) through the buffered writer into SQLite and back."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.store import EventFilter, open_sqlite_store

DATA = "hftbacktest/examples/spot/btcusdt_20240808.gz"
STREAM = "binance:BTC/USDT:trades"
FIRST_TRADE_ID = 3_735_683_259
TRADES = 9_757


@dataclass(frozen=True)
class RawTrade:
    """One WebSocket ``trade`` frame as received: Binance's fields, strings kept."""

    local_ns: int
    data: dict[str, Any]


def raw_trades(path: Path) -> list[RawTrade]:
    """The ``trade`` frames of a hftbacktest capture (lines ``<local ns> <json>``)."""
    out = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            stamp, _, text = line.partition(" ")
            frame = json.loads(text)
            data = frame.get("data") if isinstance(frame, dict) else None
            if isinstance(data, dict) and data.get("e") == "trade":
                out.append(RawTrade(int(stamp), data))
    return out


def to_event(raw: RawTrade, session: str, ids: EventIdFactory) -> Event:
    data = raw.data
    ts_event = data["T"] * 1_000_000
    trade = Trade(float(data["p"]), float(data["q"]), "sell" if data["m"] else "buy", str(data["t"]))
    return Event(ids(ts_event), STREAM, ts_event, raw.local_ns, session, trade)


@pytest.mark.asyncio
async def test_real_trades_round_trip_through_sqlite(tmp_path: Path) -> None:
    raws = raw_trades(require_data(DATA))
    assert len(raws) == TRADES
    path = tmp_path / "btcusdt.sqlite"
    store = await open_sqlite_store(path)
    try:
        session = await store.begin_session(
            "btcusdt 2024-08-08",
            "hftbacktest",
            started_ns=raws[0].local_ns,
            symbols=("BTC/USDT",),
            channels=("trades",),
        )
        ids = EventIdFactory(session.id)
        async with store.writer(max_events=1_000, max_delay_s=0.05) as writer:
            for raw in raws:
                await writer.write(to_event(raw, session.id, ids))
        assert (writer.written, writer.duplicates, writer.failed) == (TRADES, 0, [])
        await store.end_session(session.id, ended_ns=raws[-1].local_ns)
    finally:
        await store.close()

    store = await open_sqlite_store(path, readonly=True)
    try:
        events = [e async for e in store.read(EventFilter(types=("Trade",)), chunk_size=2_000)]
        report = await store.verify()
        (info,) = await store.sessions()
    finally:
        await store.close()

    assert len(events) == TRADES
    assert events[0].payload == Trade(61837.63, 0.02, "sell", "3735683259")
    trades = [e.payload for e in events]
    assert all(isinstance(t, Trade) for t in trades)
    assert [int(t.trade_id) for t in trades] == list(range(FIRST_TRADE_ID, FIRST_TRADE_ID + TRADES))
    for event, raw in zip(events, raws, strict=True):
        data = raw.data
        assert event.payload == Trade(
            float(data["p"]), float(data["q"]), "sell" if data["m"] else "buy", str(data["t"])
        )
        assert (event.ts_event, event.ts_recv) == (data["T"] * 1_000_000, raw.local_ns)
    assert [e.position for e in events] == list(range(2, TRADES + 2))
    assert [e.version for e in events] == list(range(1, TRADES + 1))
    assert report.ok, report.problem
    assert report.events == TRADES + 2
    assert (info.status, info.streams[STREAM].events) == ("closed", TRADES)
    assert info.streams[STREAM].first_ts_event == raws[0].data["T"] * 1_000_000
    sides = {t.side for t in trades}
    assert sides == {"buy", "sell"}
