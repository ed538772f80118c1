"""market_from_ccxt against ccxt's own parse of real exchangeInfo, and MarketsCache on real stores.

The fetch functions stand in for ccxt's ``load_markets`` (a foreign library); the
stores, clocks and cache files are real.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from virtuoso.clock import ReplayClock
from virtuoso.errors import BadSymbol, ExchangeUnavailable, PermanentExchangeError
from virtuoso.events import Event
from virtuoso.exchange import MarketsCache, ccxt_market, market_from_ccxt, markets_cache_file
from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.store import MemoryEventStore

GCT = "gocryptotrader/testdata/http_mock/binance/binance.json"
NS = 1_000_000_000
T0 = 1_700_000_000 * NS


def _binance_markets() -> dict[str, dict[str, Any]]:
    info = json.loads(require_data(GCT).read_text())["routes"]["/api/v3/exchangeInfo"]["GET"][0]["data"]
    exchange = ccxt_module().binance()
    exchange.options.update(crossMarginPairsData=[], isolatedMarginPairsData=[])
    parsed = (exchange.parse_market(raw) for raw in info["symbols"])
    return {market["symbol"]: market for market in parsed}


def test_binance_markets_from_real_exchange_info() -> None:
    markets = _binance_markets()
    btc = market_from_ccxt(markets["BTC/USDT"])
    assert (btc.symbol, btc.id, btc.type, btc.active) == ("BTC/USDT", "BTCUSDT", "spot", True)
    assert (btc.tick_size, btc.amount_step, btc.min_amount, btc.min_notional) == (0.01, 1e-06, 1e-06, 10.0)
    assert (btc.maker_fee_bps, btc.taker_fee_bps, btc.contract_size) == (10.0, 10.0, None)
    assert len({market_from_ccxt(m).symbol for m in markets.values()}) == len(markets) == 786


def test_decimal_places_and_significant_digits_precision() -> None:
    raw = {"symbol": "X/Y", "base": "X", "quote": "Y", "precision": {"price": 3, "amount": 1}}
    assert market_from_ccxt(raw, 2).tick_size == 0.001
    assert market_from_ccxt(raw, 3).tick_size == 0.0  # no fixed tick: "no such rule"


def test_unknown_market_type_is_a_one_line_error() -> None:
    with pytest.raises(PermanentExchangeError, match="unknown market type 'weird'"):
        market_from_ccxt({"symbol": "X/Y", "type": "weird"})


def test_ccxt_market_round_trips_through_our_struct() -> None:
    btc = market_from_ccxt(_binance_markets()["BTC/USDT"])
    again = ccxt_market(btc)
    assert (again["id"], again["lowercaseId"], again["spot"], again["swap"]) == ("BTCUSDT", "btcusdt", True, False)
    assert market_from_ccxt(again) == btc


class Exchange:
    """ccxt's load_markets: the given markets, or the given error."""

    def __init__(self, markets: Mapping[str, Mapping[str, Any]]) -> None:
        self.markets = dict(markets)
        self.error: Exception | None = None
        self.calls = 0

    async def load(self) -> Mapping[str, Mapping[str, Any]]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.markets


def _ccxt(symbol: str, tick: float) -> dict[str, Any]:
    base, quote = symbol.split("/")
    return {"symbol": symbol, "base": base, "quote": quote, "type": "spot", "precision": {"price": tick}}


def _cache(exchange: Exchange, clock: ReplayClock, **options: Any) -> MarketsCache:
    return MarketsCache("binance", exchange.load, clock, **options)


@pytest.mark.asyncio
async def test_fresh_within_ttl_then_asked_again() -> None:
    exchange, clock = Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01)}), ReplayClock(T0)
    cache = _cache(exchange, clock, ttl_s=60)
    first = await cache.load(["BTC/USDT"])
    clock.advance_to(T0 + 30 * NS)
    await cache.load(["BTC/USDT"])
    assert (first.fresh, first.source, first.age_s, exchange.calls) == (True, "exchange", 0.0, 1)
    clock.advance_to(T0 + 61 * NS)
    await cache.load(["BTC/USDT"])
    assert exchange.calls == 2


@pytest.mark.asyncio
async def test_transient_failure_serves_the_log_markets_stale_with_their_age() -> None:
    store = MemoryEventStore()
    session = await store.begin_session("s", "test", started_ns=T0)
    old = await _cache(Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01)}), ReplayClock(T0)).load(["BTC/USDT"])
    event = Event("m1", "binance:markets", T0, T0, session.id, old.event("binance"))
    await store.append([event])
    down = Exchange({})
    down.error = ExchangeUnavailable("503", exchange="binance", operation="load_markets")
    snapshot = await _cache(down, ReplayClock(T0 + 90 * NS), store=store).load(["BTC/USDT"])
    assert (snapshot.fresh, snapshot.source, snapshot.age_s) == (False, "log", 90.0)
    assert snapshot.markets == old.markets
    assert "ExchangeUnavailable" in snapshot.reason
    assert snapshot.event("binance").stale_age_s == 90.0
    with pytest.raises(BadSymbol, match=r"no market ETH/USDT in the cached markets \(log\)"):
        await _cache(down, ReplayClock(T0 + 90 * NS), store=store).load(["ETH/USDT"])


@pytest.mark.asyncio
async def test_cache_file_serves_a_new_database(tmp_path: Path) -> None:
    file = markets_cache_file(tmp_path / "a.sqlite", "binance")
    assert file == tmp_path / "binance.markets.json"
    up = Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01), "ETH/USDT": _ccxt("ETH/USDT", 0.1)})
    await _cache(up, ReplayClock(T0), cache_file=file).load(["BTC/USDT"])
    up.error = TimeoutError("no answer")
    snapshot = await _cache(up, ReplayClock(T0 + 5 * NS), cache_file=file).load(["ETH/USDT"])
    assert (snapshot.source, snapshot.age_s, snapshot.markets[0].tick_size) == ("cache-file", 5.0, 0.1)


@pytest.mark.asyncio
async def test_no_cached_markets_reraises_and_permanent_errors_pass() -> None:
    exchange = Exchange({})
    exchange.error = TimeoutError("no answer")
    with pytest.raises(TimeoutError):
        await _cache(exchange, ReplayClock(T0)).load(["BTC/USDT"])
    exchange.error = BadSymbol("nope", exchange="binance")
    with pytest.raises(BadSymbol):
        await _cache(exchange, ReplayClock(T0)).load(["BTC/USDT"])


@pytest.mark.asyncio
async def test_a_symbol_never_listed_is_never_invented(tmp_path: Path) -> None:
    exchange = Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01)})
    cache = _cache(exchange, ReplayClock(T0), cache_file=tmp_path / "m.json")
    with pytest.raises(BadSymbol, match="binance markets: no market DOGE/XYZ in the exchange's markets"):
        await cache.load(["BTC/USDT", "DOGE/XYZ"])
    exchange.error = TimeoutError("no answer")
    with pytest.raises(BadSymbol, match="DOGE/XYZ"):
        await cache.load(["DOGE/XYZ"], refresh=True)


@pytest.mark.asyncio
async def test_unreadable_cache_file_is_ignored(tmp_path: Path) -> None:
    file = tmp_path / "m.json"
    file.write_text("{not json")
    exchange = Exchange({})
    exchange.error = TimeoutError("no answer")
    with pytest.raises(TimeoutError):
        await _cache(exchange, ReplayClock(T0), cache_file=file).load(["BTC/USDT"])


@pytest.mark.asyncio
async def test_content_hash_is_the_same_fresh_or_stale(tmp_path: Path) -> None:
    exchange = Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01)})
    cache = _cache(exchange, ReplayClock(T0), cache_file=tmp_path / "m.json")
    fresh = (await cache.load(["BTC/USDT"])).event("binance")
    exchange.error = TimeoutError("no answer")
    stale = (await cache.load(["BTC/USDT"], refresh=True)).event("binance")
    assert (fresh.source, fresh.stale_age_s, stale.stale_age_s) == ("exchange", None, 0.0)
    assert fresh.content_hash == stale.content_hash


@pytest.mark.asyncio
async def test_the_log_fallback_takes_each_symbols_latest_market_across_events() -> None:
    store = MemoryEventStore()
    session = await store.begin_session("s", "test", started_ns=T0)
    both = Exchange({"BTC/USDT": _ccxt("BTC/USDT", 0.01), "ETH/USDT": _ccxt("ETH/USDT", 0.1)})
    btc_and_eth = await _cache(both, ReplayClock(T0)).load(["BTC/USDT", "ETH/USDT"])
    both.markets["ETH/USDT"] = _ccxt("ETH/USDT", 0.05)
    eth_only = await _cache(both, ReplayClock(T0)).load(["ETH/USDT"])
    await store.append(
        [
            Event("m1", "binance:markets", T0, T0, session.id, btc_and_eth.event("binance")),
            Event("m2", "binance:markets", T0 + 10 * NS, T0 + 10 * NS, session.id, eth_only.event("binance")),
        ]
    )
    down = Exchange({})
    down.error = TimeoutError("no answer")
    snapshot = await _cache(down, ReplayClock(T0 + 60 * NS), store=store).load(["BTC/USDT", "ETH/USDT"])
    assert [(m.symbol, m.tick_size) for m in snapshot.markets] == [("BTC/USDT", 0.01), ("ETH/USDT", 0.05)]
    assert (snapshot.source, snapshot.age_s) == ("log", 60.0)  # as old as the oldest market it serves
