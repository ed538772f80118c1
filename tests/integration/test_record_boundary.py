"""Nothing the exchange sends or fails to send ends a recording: real ccxt against the loopback exchange.

Truncated and non-JSON REST bodies, broken WebSocket frames and disconnects
become retries, resyncs or gaps; a market the exchange turns inactive stops
that symbol alone. Each test compares the log with what the loopback served.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.test_record_loopback import (
    FRAMES,
    TIMEOUT_S,
    _config,
    _data_dir,
    _gap_ids,
    _last_capture_trade,
    _log,
    _record,
    _trade_ids,
)
from virtuoso.events import ChannelRestarted, Event, MarketsLoaded, Note, Trade, event_problem
from virtuoso.exchange import record
from virtuoso.testing import LoopbackExchange


@pytest.mark.asyncio
async def test_truncated_and_malformed_rest_pages_mid_recording_do_not_end_it(db_path: Path) -> None:
    faults = "rest:/api/v3/aggTrades#2=truncated,rest:/api/v3/aggTrades#3=malformed,rest:/api/v3/aggTrades#4=502"
    # At 20x the capture's pace the trades come over seconds, so the faults hit pages mid-recording.
    async with LoopbackExchange(_data_dir(), speed=20, max_messages=FRAMES, faults=faults) as ex:
        summary = await _record(db_path, _config(ex, mode="rest", trades_limit=100), ex)
        served = ex.served.trade_ids("BTCUSDT", "rest")
        applied = [f.action for f in ex.served.faults]
    events = await _log(db_path)
    assert applied == ["truncated", "malformed", "502"]
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    recorded = _trade_ids(events)
    assert recorded == sorted(set(served))  # every trade once: the failed pages were fetched again
    assert recorded == list(range(recorded[0], recorded[-1] + 1))
    assert recorded[-1] == _last_capture_trade(ex)
    assert [e for e in events if event_problem(e) is not None] == []


@pytest.mark.asyncio
async def test_a_broken_websocket_frame_stalls_ccxt_and_the_stall_timeout_reconnects(db_path: Path) -> None:
    # ccxt's receive loop dies on a frame that is not JSON: the socket stays open and says nothing more.
    # The stall timeout fails the silent connection, ccxt opens a new one, and what the dead one missed
    # is a declared gap.
    async with LoopbackExchange(_data_dir(), speed=60, max_messages=FRAMES, faults="ws:malformed@300") as ex:
        summary = await _record(db_path, _config(ex, stall_timeout_s=0.3), ex)
        served = ex.served.trade_ids("BTCUSDT", "ws")
    events = await _log(db_path)
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    recorded, missing = _trade_ids(events), set(_gap_ids(events))
    assert len(recorded) == len(set(recorded))
    assert set(served) <= set(recorded) | missing  # every trade served: recorded once, or inside a gap
    assert not set(recorded) & missing
    assert missing
    assert any("stall" in g["reason"] for g in summary["gaps"])


@pytest.mark.asyncio
async def test_a_market_turned_inactive_stops_that_symbol_while_the_other_keeps_recording(db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=60, max_messages=FRAMES) as ex:
        config = _config(ex, mode="rest", trades_limit=100, symbols=("BTC/USDT", "ETH/USDT"), markets_ttl_s=0.2)
        stop, loaded = asyncio.Event(), asyncio.Event()
        last, seen = _last_capture_trade(ex), {"inactive": False, "last": False}

        def watch(event: Event) -> None:
            payload = event.payload
            if isinstance(payload, MarketsLoaded):
                loaded.set()
                seen["inactive"] |= any(m.symbol == "ETH/USDT" and not m.active for m in payload.markets)
            seen["last"] |= isinstance(payload, Trade) and int(payload.trade_id) >= last
            if all(seen.values()):
                stop.set()

        run = asyncio.create_task(record(config, db_path, stop=stop, handlers=[watch]))
        await asyncio.wait_for(loaded.wait(), TIMEOUT_S)
        ex.change_market("ETHUSDT", status="BREAK")
        summary = await asyncio.wait_for(run, TIMEOUT_S)
        served = ex.served.trade_ids("BTCUSDT", "rest")
    events = await _log(db_path)
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    assert _trade_ids(events) == sorted(set(served))
    stopped = [e.payload for e in events if isinstance(e.payload, ChannelRestarted)]
    assert [(s.stream, s.stopped) for s in stopped] == [("binance:ETH/USDT:trades", True)]
    assert "inactive" in stopped[0].reason
    notes = [e.payload.message for e in events if isinstance(e.payload, Note) and e.payload.level == "warning"]
    assert any(n.startswith("ETH/USDT stopped:") for n in notes)
    assert summary["channel_restarts"][0]["stopped"] is True
