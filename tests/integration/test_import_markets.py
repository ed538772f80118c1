"""Markets from Binance's real exchangeInfo (GoCryptoTrader's mock), and ``import --markets``."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_import_ccxt import unified_trades
from tests.integration.test_import_vision import _routes
from virtuoso.errors import ConfigError
from virtuoso.events import Event, MarketsLoaded, Note
from virtuoso.importers import import_files, markets_from_exchange_info, session_markets
from virtuoso.store import EventFilter, open_sqlite_store


def exchange_info() -> dict[str, Any]:
    """The recorded ``GET /api/v3/exchangeInfo`` body (786 spot symbols, 2020-04-15): a copy, free to change."""
    info: dict[str, Any] = copy.deepcopy(_routes()["/api/v3/exchangeInfo"]["GET"][0]["data"])
    return info


def test_real_exchange_info_btc_usdt() -> None:
    markets = markets_from_exchange_info(exchange_info())
    assert len(markets) == 786
    assert [m.symbol for m in markets] == sorted(m.symbol for m in markets)
    btc = next(m for m in markets if m.symbol == "BTC/USDT")
    assert (btc.base, btc.quote, btc.type, btc.active) == ("BTC", "USDT", "spot", True)
    assert (btc.tick_size, btc.amount_step, btc.min_amount, btc.min_notional) == (0.01, 1e-6, 1e-6, 10.0)
    assert btc.maker_fee_bps is None
    assert btc.taker_fee_bps is None


def test_symbols_keep_only_those_asked() -> None:
    markets = markets_from_exchange_info(exchange_info(), symbols=["ETH/BTC", "BTC/USDT", "NOPE/USDT"])
    assert [m.symbol for m in markets] == ["BTC/USDT", "ETH/BTC"]


def test_futures_rows_are_swaps_and_futures() -> None:
    filters = [{"filterType": "PRICE_FILTER", "tickSize": "0.10"}, {"filterType": "MIN_NOTIONAL", "notional": "5"}]
    row = {"baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT", "status": "TRADING", "filters": filters}
    rows = [
        {**row, "symbol": "BTCUSDT", "contractType": "PERPETUAL"},
        {**row, "symbol": "BTCUSDT_210924", "contractType": "CURRENT_QUARTER", "status": "SETTLING"},
    ]
    swap, future = markets_from_exchange_info({"symbols": rows}, exchange="binanceusdm")
    assert (swap.symbol, swap.type, swap.tick_size, swap.min_notional) == ("BTC/USDT:USDT", "swap", 0.1, 5.0)
    assert (future.symbol, future.type, future.active) == ("BTC/USDT:USDT-210924", "future", False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON exchangeInfo document"),
        ("[1, 2]", "a JSON object expected"),
        ('{"serverTime": 1}', "no 'symbols' list"),
        ('{"symbols": [{"symbol": "BTCUSDT", "quoteAsset": "USDT"}]}', "symbols[0] (BTCUSDT): malformed: KeyError"),
        ('{"symbols": [7]}', "symbols[0]: an object expected"),
        (
            '{"symbols": [{"baseAsset": "A", "quoteAsset": "B", "filters": [{"filterType": "LOT_SIZE", '
            '"stepSize": "x"}]}]}',
            "malformed: ValueError",
        ),
        *[
            (
                '{"symbols": [{"symbol": "AB", "baseAsset": "A", "quoteAsset": "B", "filters": [{"filterType": '
                f'"PRICE_FILTER", "tickSize": "{value}"}}]}}]}}',
                f"symbols[0] (AB): malformed: ValueError: PRICE_FILTER tickSize {shown} is not a finite number >= 0",
            )
            for value, shown in (("nan", "nan"), ("-0.01", "-0.01"), ("1e999", "inf"))
        ],
        ("[" * 100_000, "not a JSON exchangeInfo document"),
    ],
)
def test_malformed_files_fail_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "info.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        markets_from_exchange_info(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.json: no such markets file"):
        markets_from_exchange_info("nowhere.json")


def _files(tmp_path: Path, info: dict[str, Any]) -> tuple[Path, Path]:
    trades, markets = tmp_path / "trades.json", tmp_path / "info.json"
    trades.write_text(json.dumps(unified_trades()))
    markets.write_text(json.dumps(info))
    return trades, markets


async def _import(db: Path, trades: Path, markets: Path) -> tuple[str, list[Event]]:
    store = await open_sqlite_store(db)
    try:
        report = await import_files(store, "ccxt-json", [trades], exchange="binance", markets=markets)
        events = [e async for e in store.read(EventFilter(session=report.session, streams=("binance:markets",)))]
        return report.session, events
    finally:
        await store.close()


def test_import_records_the_markets_once(tmp_path: Path) -> None:
    trades, markets = _files(tmp_path, exchange_info())
    db = tmp_path / "log.sqlite"
    session, events = asyncio.run(_import(db, trades, markets))
    assert [e.type for e in events] == ["MarketsLoaded"]
    loaded = events[0].payload
    assert isinstance(loaded, MarketsLoaded)
    assert (loaded.exchange, loaded.source, [m.symbol for m in loaded.markets]) == ("binance", "import", ["BTC/USDT"])
    assert loaded.markets[0].tick_size == 0.01
    assert events[0].ts_event == unified_trades()[0]["timestamp"] * 1_000_000  # in force from the session's start
    again, events = asyncio.run(_import(db, trades, markets))
    assert again == session
    assert [e.type for e in events] == ["MarketsLoaded"]


def test_a_changed_file_is_a_new_event_and_session_markets_lists_the_change(tmp_path: Path) -> None:
    info = exchange_info()
    trades, markets = _files(tmp_path, info)
    db = tmp_path / "log.sqlite"
    session, _ = asyncio.run(_import(db, trades, markets))
    for row in info["symbols"]:
        if row["symbol"] == "BTCUSDT":
            row["filters"][0]["tickSize"] = "0.10000000"
    markets.write_text(json.dumps(info))
    _, events = asyncio.run(_import(db, trades, markets))
    assert [e.type for e in events] == ["MarketsLoaded", "MarketsLoaded"]

    async def listed() -> list[tuple[str, float, str]]:
        store = await open_sqlite_store(db, readonly=True)
        try:
            return [(r.market.symbol, r.market.tick_size, r.source) for r in await session_markets(store, session)]
        finally:
            await store.close()

    assert asyncio.run(listed()) == [("BTC/USDT", 0.01, "import"), ("BTC/USDT", 0.1, "import")]


def test_a_symbol_the_file_lacks_is_a_note_not_a_market(tmp_path: Path) -> None:
    info = exchange_info()
    info = {**info, "symbols": [row for row in info["symbols"] if row["symbol"] != "BTCUSDT"]}
    trades, markets = _files(tmp_path, info)
    db = tmp_path / "log.sqlite"
    _, events = asyncio.run(_import(db, trades, markets))
    assert [e.type for e in events] == ["Note"]
    note = events[0].payload
    assert isinstance(note, Note)
    assert note.level == "warning"
    assert note.message == f"{markets} has no market BTC/USDT"
    _, events = asyncio.run(_import(db, trades, markets))
    assert [e.type for e in events] == ["Note"]  # a re-run adds no second note
