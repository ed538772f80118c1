"""Normalizers against ccxt's own parsed outputs of real Binance payloads.

Two sources: ccxt's static-response fixture (``httpResponse`` with the
``parsedResponse`` ccxt must produce), and GoCryptoTrader's recorded Binance REST
bodies fed through real ccxt parsing after loading markets from the recorded
exchangeInfo.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tests.conftest import require_data
from virtuoso.errors import EventError
from virtuoso.events import Bar, BookSnapshot, Ticker, Trade
from virtuoso.exchange import (
    bar_payload,
    book_snapshot_payload,
    ticker_payload,
    trade_event,
    trade_event_id,
    trade_payload,
)
from virtuoso.exchange._ccxt import ccxt_module

CCXT_CASES = "ccxt/ts/src/test/static/response/binance.json"
GCT = "gocryptotrader/testdata/http_mock/binance/binance.json"


@cache
def _json(relative: str) -> Any:
    return json.loads(require_data(relative).read_text())


def _case(method: str, description: str) -> dict[str, Any]:
    cases = _json(CCXT_CASES)["methods"][method]
    return next(c for c in cases if c["description"] == description)  # type: ignore[no-any-return]


def _gct_route(path: str, query_part: str) -> Any:
    entries = _json(GCT)["routes"][path]["GET"]
    return next(e for e in entries if query_part in e["queryString"])["data"]


@cache
def _binance() -> Any:
    """A real ccxt binance with BTC/USDT loaded from the recorded exchangeInfo (no network)."""
    exchange = ccxt_module().binance()
    exchange.options["crossMarginPairsData"] = []
    exchange.options["isolatedMarginPairsData"] = []
    info = _json(GCT)["routes"]["/api/v3/exchangeInfo"]["GET"][0]["data"]
    exchange.set_markets([exchange.parse_market(m) for m in info["symbols"] if m["symbol"] == "BTCUSDT"])
    return exchange


# -- ccxt's fixture: parsedResponse -> our payloads ----------------------------------


def test_trade_from_ccxt_fixture() -> None:
    case = _case("fetchTrades", "public spot trades")
    ((parsed,), (raw,)) = case["parsedResponse"], case["httpResponse"]
    side = "sell" if raw["m"] else "buy"  # m: the buyer was the maker, so the taker sold
    assert trade_payload(parsed) == Trade(float(raw["p"]), float(raw["q"]), side, raw["a"])


def test_trade_event_from_ccxt_fixture() -> None:
    case = _case("fetchTrades", "public spot trades")
    ((parsed,), (raw,)) = case["parsedResponse"], case["httpResponse"]
    event = trade_event(parsed, stream="binance:BTC/USDT:trades", prefix="00000000", session="s", ts_recv=5)
    assert (event.ts_event, event.ts_recv, event.stream) == (int(raw["T"]) * 1_000_000, 5, "binance:BTC/USDT:trades")
    assert event.id == trade_event_id("00000000", event.ts_event, raw["a"])


@pytest.mark.parametrize("description", ["spot orderbook", "swap orderbook"])
def test_book_from_ccxt_fixture(description: str) -> None:
    parsed = _case("fetchOrderBook", description)["parsedResponse"]
    snapshot = book_snapshot_payload(parsed, parsed["nonce"])
    assert snapshot.bids == tuple((p, a) for p, a in parsed["bids"])
    assert snapshot.asks == tuple((p, a) for p, a in parsed["asks"])
    assert snapshot.sequence == parsed["nonce"]
    assert snapshot.bids[0][0] > snapshot.bids[-1][0]
    assert snapshot.asks[0][0] < snapshot.asks[-1][0]


@pytest.mark.parametrize("description", ["Spot OHLCV with since and limit", "swap ohlcv", "inverse index price"])
def test_bars_from_ccxt_fixture(description: str) -> None:
    case = _case("fetchOHLCV", description)
    timeframe = case["input"][1]
    for row in case["parsedResponse"]:
        bar = bar_payload(row, timeframe)
        assert bar == Bar(timeframe, row[0] * 1_000_000, *map(float, row[1:6]))


def test_ticker_from_ccxt_fixture() -> None:
    case = _case("fetchTicker", "public spot ticker")
    raw = case["httpResponse"]
    fields = ("bidPrice", "bidQty", "askPrice", "askQty", "lastPrice", "volume", "quoteVolume")
    assert ticker_payload(case["parsedResponse"]) == Ticker(*(float(raw[name]) for name in fields))


# -- ccxt parses the fixture's httpResponse to its parsedResponse, and so to our payloads --


def test_ccxt_parses_the_fixture_trade_to_our_trade() -> None:
    case = _case("fetchTrades", "public spot trades")
    parsed = _binance().parse_trades(case["httpResponse"], _binance().market("BTC/USDT"))
    assert [trade_payload(t) for t in parsed] == [trade_payload(t) for t in case["parsedResponse"]]


# -- GoCryptoTrader's recorded REST bodies through real ccxt parsing --------------------


def test_gct_agg_trades_through_ccxt() -> None:
    raw = _gct_route("/api/v3/aggTrades", "limit=1000")
    trades = [trade_payload(t) for t in _binance().parse_trades(raw, _binance().market("BTC/USDT"))]
    assert len(trades) == 1000
    first = int(raw[0]["a"])
    assert [int(t.trade_id) for t in trades] == list(range(first, first + 1000))  # consecutive ids
    for payload, row in zip(trades, raw, strict=True):
        assert payload.price == float(row["p"])
        assert payload.amount == float(row["q"])
        assert payload.side == ("sell" if row["m"] else "buy")  # m: the buyer was the maker, so the taker sold


def test_gct_trades_through_ccxt() -> None:
    raw = _gct_route("/api/v3/trades", "limit=1000")
    trades = [trade_payload(t) for t in _binance().parse_trades(raw, _binance().market("BTC/USDT"))]
    assert [t.trade_id for t in trades] == [str(row["id"]) for row in raw]
    assert {t.side for t in trades} == {"buy", "sell"}


def test_gct_klines_through_ccxt() -> None:
    raw = _gct_route("/api/v3/klines", "interval=1d&limit=1000")
    bars = [bar_payload(c, "1d") for c in _binance().parse_ohlcvs(raw, _binance().market("BTC/USDT"), "1d")]
    assert len(bars) == 365
    assert bars[0].open_ns == int(raw[0][0]) * 1_000_000
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close) == tuple(float(x) for x in raw[0][1:5])
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)


def test_gct_depth_through_ccxt() -> None:
    raw = _gct_route("/api/v3/depth", "limit=1000")
    book = _binance().parse_order_book(raw, "BTC/USDT")
    snapshot = book_snapshot_payload(book, int(raw["lastUpdateId"]))
    assert isinstance(snapshot, BookSnapshot)
    assert (len(snapshot.bids), len(snapshot.asks), snapshot.sequence) == (1000, 1000, int(raw["lastUpdateId"]))
    assert snapshot.bids[0] == (float(raw["bids"][0][0]), float(raw["bids"][0][1]))
    assert snapshot.bids[0][0] < snapshot.asks[0][0]


def test_gct_ticker_through_ccxt() -> None:
    raw = _gct_route("/api/v3/ticker/24hr", "symbol=BTCUSDT")
    ticker = ticker_payload(_binance().parse_ticker(raw, _binance().market("BTC/USDT")))
    assert ticker.last == float(raw["lastPrice"])
    assert ticker.bid == float(raw["bidPrice"])
    assert ticker.base_volume == float(raw["volume"])


# -- bad input -----------------------------------------------------------------------


def test_a_trade_without_side_or_id_is_an_error() -> None:
    with pytest.raises(EventError, match="side None"):
        trade_payload({"id": "1", "price": 1.0, "amount": 1.0, "side": None})
    with pytest.raises(EventError, match="has no id"):
        trade_payload({"id": None, "price": 1.0, "amount": 1.0, "side": "buy", "timestamp": 3})


def test_same_trade_same_id_other_trade_other_id() -> None:
    assert trade_event_id("p", 1, "42") == trade_event_id("p", 1, "42")
    assert trade_event_id("p", 1, "42") != trade_event_id("p", 1, "43")
    assert trade_event_id("p", 1, "42") != trade_event_id("q", 1, "42")
