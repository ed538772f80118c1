"""The REST half of the loopback exchange: Binance's public market-data endpoints as aiohttp handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from virtuoso.testing._book import DepthState
from virtuoso.testing._capture import symbol_key
from virtuoso.testing._faults import REST_BODY_ACTIONS, REST_ROW_ACTIONS, RestFault
from virtuoso.testing._markets import MarketRules
from virtuoso.testing._restdata import RestData
from virtuoso.testing._restfaults import FAULT_KEY, SPOILED_KEY, SpoiledAnswer, spoiled_body
from virtuoso.testing._restrows import spoil_depth, spoil_page
from virtuoso.testing._served import Served
from virtuoso.testing._trades import DEFAULT_LIMIT, MAX_LIMIT, BinanceRequestError, TradeList, query_int

_MARKETS = {"/api/v3/": "spot", "/fapi/v1/": "linear"}
_TRADE_ENDPOINTS = ("trades", "historicalTrades", "aggTrades")
MAX_DEPTH_LIMIT = 5000
DEFAULT_DEPTH_LIMIT = 100

Handler = Callable[[web.Request], Any]


def split_path(path: str) -> tuple[str, str] | None:
    """``/api/v3/aggTrades`` -> ``("spot", "aggTrades")``; None for paths outside the two APIs."""
    for prefix, market in _MARKETS.items():
        if path.startswith(prefix):
            return market, path[len(prefix) :]
    return None


def binance_error(code: int, msg: str, status: int = 400) -> web.Response:
    """Binance's error body ``{"code": ..., "msg": ...}``."""
    return web.json_response({"code": code, "msg": msg}, status=status)


class RestApi:
    """Answers for every recorded endpoint; trades and depth follow the playback (see ``docs/loopback.md``)."""

    def __init__(
        self,
        data: RestData,
        *,
        trades: dict[tuple[str, str], TradeList],
        depth: dict[str, DepthState],
        served: Served,
        horizon: Callable[[str], tuple[int | None, int]],
        now_ms: Callable[[], int],
        depth_offset: Callable[[str], int] = lambda key: 0,
    ) -> None:
        self._data = data
        self.rules = MarketRules(data, served)
        self._trades = trades
        self._depth = depth
        self._served = served
        self._horizon = horizon
        self._now_ms = now_ms
        self._depth_offset = depth_offset
        self._known = data.symbols() | {key.split(":")[-1] for key in depth}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch by path; Binance's 400 errors for bad parameters, 404 for unserved paths.

        A body or row fault the middleware put on the request is applied here (see ``_restfaults.py``).
        """
        fault = request.get(FAULT_KEY)
        answer = _Answer(fault, request.path)
        try:
            body = self._answer(request.path, request.query, answer)
        except BinanceRequestError as exc:
            return binance_error(exc.code, exc.msg)
        if isinstance(body, web.StreamResponse):
            return body
        if fault is not None:
            request[SPOILED_KEY] = answer.spoiled
            if fault.action in REST_BODY_ACTIONS:
                return await spoiled_body(request, body, fault.action)
        return web.Response(body=body, content_type="application/json")

    def _answer(self, path: str, query: Any, answer: _Answer) -> bytes | web.StreamResponse:
        encoded = self.rules.encoded(path)
        if encoded is not None:
            return encoded
        fixed = self._fixed(path)
        if fixed is not None:
            return _json(fixed)
        where = split_path(path)
        if where is None:
            return binance_error(-1, f"{path} is not served by the loopback exchange", status=404)
        market, endpoint = where
        symbol = query.get("symbol")
        if symbol is not None and symbol not in self._known:
            raise BinanceRequestError(-1121, "Invalid symbol.")
        return _json(self._market_data(market, endpoint, symbol, query, answer))

    def _fixed(self, path: str) -> Any:
        return {
            "/api/v3/ping": {},
            "/fapi/v1/ping": {},
            "/api/v3/time": {"serverTime": self._now_ms()},
            "/fapi/v1/time": {"serverTime": self._now_ms()},
        }.get(path)

    def _market_data(self, market: str, endpoint: str, symbol: str | None, query: Any, answer: _Answer) -> Any:
        if endpoint in _TRADE_ENDPOINTS:
            return self._trade_page(market, endpoint, _required(symbol), query, answer)
        if endpoint == "depth":
            return self._depth_body(market, _required(symbol), query, answer)
        if endpoint in ("klines", "uiKlines"):
            return self._klines(_required(symbol), query)
        if endpoint.startswith("ticker/") or endpoint == "avgPrice":
            return self._ticker(f"/api/v3/{endpoint}", symbol, query)
        raise BinanceRequestError(-1, f"/{endpoint} is not served by the loopback exchange")

    def _trade_page(self, market: str, endpoint: str, symbol: str, query: Any, answer: _Answer) -> list[dict[str, Any]]:
        key = symbol_key(market, symbol)
        trades = self._trades.get(("agg" if endpoint == "aggTrades" else "raw", key))
        if trades is None:
            return []
        elapsed, _ = self._horizon(key)
        rows = trades.page(endpoint, query, trades.visible(elapsed))
        id_field = "a" if endpoint == "aggTrades" else "id"
        ids = [int(row[id_field]) for row in rows]
        action = answer.action
        if action in REST_BODY_ACTIONS:
            self._served.sent_trades("rest", key, ids, spoiled=True)
            answer.spoiled = SpoiledAnswer(key, tuple(ids), detail=f"{len(ids)} rows lost to a {action!r} body")
            return rows
        if action in REST_ROW_ACTIONS:
            spoiled = spoil_page(rows, action, answer.turn)
            bad = set(spoiled.ids)
            self._served.sent_trades("rest", key, [tid for tid in ids if tid not in bad])
            self._served.sent_trades("rest", key, spoiled.ids, spoiled=True)
            answer.spoiled = SpoiledAnswer(key, spoiled.ids, detail=spoiled.detail)
            return spoiled.rows
        self._served.sent_trades("rest", key, ids)
        return rows

    def _depth_body(self, market: str, symbol: str, query: Any, answer: _Answer) -> dict[str, Any]:
        limit = _bounded(query, "limit", DEFAULT_DEPTH_LIMIT, MAX_DEPTH_LIMIT)
        key = symbol_key(market, symbol)
        state = self._depth.get(key)
        if state is None:
            body = _gct_depth(self._data.entry("/api/v3/depth", symbol), limit)
        else:
            state.advance_to(self._horizon(key)[1])
            body = state.body(limit, self._depth_offset(key))
        ids = ((int(body["lastUpdateId"]), int(body["lastUpdateId"])),)
        if answer.action in REST_BODY_ACTIONS:
            answer.spoiled = SpoiledAnswer(key, (), ids, f"depth {ids[0][0]} lost to a {answer.action!r} body")
            return body
        spoiled = spoil_depth(body, answer.action, answer.turn) if answer.action in REST_ROW_ACTIONS else None
        if spoiled is None:
            self._served.sent_snapshot(key, body)
            if answer.action:
                answer.spoiled = SpoiledAnswer(key, detail=f"{answer.action} does not apply to a depth body")
            return body
        answer.spoiled = SpoiledAnswer(key, (), ids, f"depth {ids[0][0]}: {spoiled[1]}")
        return spoiled[0]

    def _klines(self, symbol: str, query: Any) -> list[list[Any]]:
        candles = self._data.klines.get((symbol, query.get("interval", "")), [])
        limit = _bounded(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        start, end = query_int(query, "startTime"), query_int(query, "endTime")
        chosen = [c for c in candles if (start is None or c[0] >= start) and (end is None or c[0] <= end)]
        return chosen[:limit] if start is not None else chosen[-limit:]

    def _ticker(self, path: str, symbol: str | None, query: Any) -> Any:
        if symbol is not None:
            return self._data.entry(path, symbol) or _one(self._data.entry(path, None), symbol)
        every = self._data.entry(path, None)
        wanted = query.get("symbols")
        if wanted is None or not isinstance(every, list):
            return every
        names = set(wanted.strip("[]").replace('"', "").split(","))
        return [row for row in every if row.get("symbol") in names]


class _Answer:
    """One request's fault, and what it spoiled (filled in while answering)."""

    __slots__ = ("action", "spoiled", "turn")

    def __init__(self, fault: RestFault | None, path: str) -> None:
        self.action = fault.action if fault is not None else ""
        self.turn = fault.first if fault is not None else 0
        if fault is None:
            self.spoiled = SpoiledAnswer()
        elif fault.action in REST_BODY_ACTIONS:
            self.spoiled = SpoiledAnswer(detail=f"{path}: the whole body")
        else:
            self.spoiled = SpoiledAnswer(detail=f"{fault.action} does not apply to {path}: served intact")


def _json(body: Any) -> bytes:
    return msgspec.json.encode(body)


def _required(symbol: str | None) -> str:
    if symbol is None:
        raise BinanceRequestError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    return symbol


def _bounded(query: Any, name: str, default: int, maximum: int) -> int:
    value = query_int(query, name)
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise BinanceRequestError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return value


def _one(rows: Any, symbol: str) -> Any:
    if not isinstance(rows, list):
        return None
    return next((row for row in rows if row.get("symbol") == symbol), None)


def _gct_depth(recorded: Any, limit: int) -> dict[str, Any]:
    if not isinstance(recorded, dict):
        return {"lastUpdateId": 0, "bids": [], "asks": []}
    return {
        "lastUpdateId": recorded["lastUpdateId"],
        "bids": recorded["bids"][:limit],
        "asks": recorded["asks"][:limit],
    }
