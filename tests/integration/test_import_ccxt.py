"""``ccxt-json`` lists, written in tmp_path as ccxt would return real Binance rows (GoCryptoTrader's mock)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_import_vision import _data
from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import Bar, Event, Trade
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, open_sqlite_store


def unified_trades() -> list[dict[str, Any]]:
    """The raw aggTrades as ccxt's ``fetch_trades`` unifies them (the fields the importer reads, and some more)."""
    return [
        {
            "info": raw,
            "id": str(raw["a"]),
            "timestamp": raw["T"],
            "datetime": None,
            "symbol": "BTC/USDT",
            "order": None,
            "type": None,
            "side": "sell" if raw["m"] else "buy",
            "takerOrMaker": None,
            "price": float(raw["p"]),
            "amount": float(raw["q"]),
            "cost": float(raw["p"]) * float(raw["q"]),
            "fee": None,
            "fees": [],
        }
        for raw in _data("/api/v3/aggTrades", "limit=1000&symbol")
    ]


def ohlcv_rows() -> list[list[float]]:
    """The raw 1m klines as ccxt's ``fetch_ohlcv`` returns them."""
    return [[k[0], *(float(v) for v in k[1:6])] for k in _data("/api/v3/klines", "interval=1m&startTime")]


async def _run(db: Path, paths: list[Path], **options: str) -> tuple[dict[str, Any], list[Event]]:
    store = await open_sqlite_store(db)
    try:
        report = await import_files(store, "ccxt-json", paths, **options)  # type: ignore[arg-type]
        events = [e async for e in store.read(EventFilter(session=report.session))]
        return report.as_dict(), [e for e in events if not e.stream.startswith("system:")]
    finally:
        await store.close()


def test_unified_trades(tmp_path: Path) -> None:
    trades = unified_trades()
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(trades, indent=2))

    report, events = asyncio.run(_run(tmp_path / "log.sqlite", [path], exchange="binance"))

    assert report["counts"] == {"Trade": 1000}
    assert {e.stream for e in events} == {"binance:BTC/USDT:trades"}
    first = trades[0]
    assert events[0].payload == Trade(first["price"], first["amount"], first["side"], first["id"])
    assert events[0].ts_event == events[0].ts_recv == first["timestamp"] * 1_000_000


def test_ohlcv_rows_need_a_symbol_and_tell_their_timeframe(tmp_path: Path) -> None:
    rows = ohlcv_rows()
    path = tmp_path / "candles.json"
    path.write_text(json.dumps(rows))

    with pytest.raises(UsageError, match="pass --symbol"):
        asyncio.run(_run(tmp_path / "a.sqlite", [path], exchange="binance"))
    report, events = asyncio.run(_run(tmp_path / "b.sqlite", [path], exchange="binance", symbol="BTC/USDT"))

    assert report["counts"] == {"Bar": 60}
    assert events[0].stream == "binance:BTC/USDT:bars"
    assert events[0].payload == Bar("1m", int(rows[0][0]) * 1_000_000, *rows[0][1:])  # type: ignore[arg-type]
    assert events[0].ts_event == (int(rows[0][0]) + 59_999) * 1_000_000


def test_the_exchange_is_required(tmp_path: Path) -> None:
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(unified_trades()[:2]))
    with pytest.raises(UsageError, match="pass --exchange"):
        asyncio.run(_run(tmp_path / "log.sqlite", [path]))


@pytest.mark.parametrize(
    ("damage", "line", "what"),
    [
        (lambda t: {**t, "side": "up"}, 3, "'side' must be 'buy' or 'sell', not 'up'"),
        (lambda t: {k: v for k, v in t.items() if k != "price"}, 3, "trade field 'price' is missing or not a number"),
        (lambda t: [1, 2], 3, "expected a trade object"),
    ],
)
def test_a_malformed_item_names_its_line(tmp_path: Path, damage: Any, line: int, what: str) -> None:
    trades = unified_trades()[:5]
    path = tmp_path / "trades.json"
    # One item a line: the array opens on line 1, so item n (from 0) is on line n + 2.
    items = [json.dumps(t) for t in trades]
    items[1] = json.dumps(damage(trades[1]))
    path.write_text("[\n" + ",\n".join(items) + "\n]\n")

    with pytest.raises(ImportFormatError, match=f"^{re.escape(str(path))}:{line}: {re.escape(what)}"):
        asyncio.run(_run(tmp_path / "log.sqlite", [path], exchange="binance"))


def test_broken_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "trades.json"
    text = json.dumps(unified_trades()[:3], indent=1)
    cut = text.rindex('"amount"')
    path.write_text(text[:cut] + '"amount": ,' + text[cut:])

    with pytest.raises(ImportFormatError, match="invalid JSON") as caught:
        asyncio.run(_run(tmp_path / "log.sqlite", [path], exchange="binance"))

    # The error names the line where the broken item (the third trade object) starts.
    item_start = text.rindex("\n {", 0, cut) + 1
    assert caught.value.line == text[:item_start].count("\n") + 1


def test_an_empty_list_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "trades.json"
    path.write_text("[ ]\n")

    with pytest.raises(ImportFormatError, match=r"trades.json:1: an empty list: nothing to import"):
        asyncio.run(_run(tmp_path / "log.sqlite", [path], exchange="binance"))

    assert asyncio.run(_sessions(tmp_path / "log.sqlite")) == []


async def _sessions(db: Path) -> list[str]:
    store = await open_sqlite_store(db)
    try:
        return [s.id for s in await store.sessions()]
    finally:
        await store.close()
