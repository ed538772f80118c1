"""A session exported to Parquet and rebuilt into a log of its own holds the same events, in the same order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from virtuoso.events import Event, Note, Trade
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.sweep._ship import export_session, local_log


async def write_log(path: Path) -> str:
    store = await open_sqlite_store(path)
    other = await store.begin_session("other", "test", started_ns=0)
    await store.append([Event("o1", "binance:ETH/USDT:trades", 5, 6, other.id, Trade(3.0, 1.0, "sell", "1"))])
    info = await store.begin_session("wanted", "test", started_ns=10, symbols=("BTC/USDT",), config={"k": 1})
    await store.append([
        Event(f"t{i}", "binance:BTC/USDT:trades", 10 + i, 11 + i, info.id, Trade(100.0 + i, 0.5, "buy", str(i)))
        for i in range(7)
    ])  # fmt: skip
    await store.append([Event("n1", "binance:BTC/USDT:notes", 20, 21, info.id, Note("hi", "info", {"a": "1"}), 2)])
    await store.end_session(info.id, ended_ns=30, reason="done")
    await store.close()
    return info.id


async def events(path: Path, session: str) -> tuple[list[tuple[object, ...]], object]:
    store = await open_sqlite_store(path, readonly=True)
    try:
        found = [e async for e in store.read(EventFilter(session=session))]
        info = await store.session(session)
    finally:
        await store.close()
    rows = [(e.id, e.stream, e.ts_event, e.ts_recv, e.payload, e.causation, e.version) for e in found]
    return rows, (info.name, info.source, info.symbols, info.config_hash, info.started_ns, info.ended_ns, info.status)


def test_an_exported_session_rebuilds_into_the_same_events_once_per_process(tmp_path: Path) -> None:
    session = asyncio.run(write_log(tmp_path / "log.sqlite"))
    blob = asyncio.run(export_session(tmp_path / "log.sqlite", session[:8]))
    copy = local_log(blob)
    assert local_log(blob) == copy
    assert copy.parent != tmp_path
    original = asyncio.run(events(tmp_path / "log.sqlite", session))
    rebuilt = asyncio.run(events(copy, session))
    assert rebuilt == original
    assert len(rebuilt[0]) == 10  # started, 7 trades, the note, ended
