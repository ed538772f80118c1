"""The recorded REST payloads the loopback exchange serves, read once from the shared data directory.

* ``/api/v3/exchangeInfo``: GoCryptoTrader's Binance HTTP mock (``binance.json``), 786 spot symbols,
  or (``spot_info="cryptofeed"``) cryptofeed's ``BINANCE.0``, 1,695.
* ``/fapi/v1/exchangeInfo``, ``/dapi/v1/exchangeInfo``: cryptofeed's ``BINANCE_FUTURES.0`` and
  ``BINANCE_DELIVERY.0`` recordings.
* klines, tickers, book ticker, price, average price, a 1000-level depth and two 1000-row trade
  lists: the GoCryptoTrader mock (all BTCUSDT).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso.errors import UsageError

GCT_MOCK = "gocryptotrader/testdata/http_mock/binance/binance.json"
FUTURES_INFO = "cryptofeed/sample_data/BINANCE_FUTURES.0"
DELIVERY_INFO = "cryptofeed/sample_data/BINANCE_DELIVERY.0"
SPOT_INFOS = {"gct": GCT_MOCK, "cryptofeed": "cryptofeed/sample_data/BINANCE.0"}

_KLINE_OPEN = 0


@dataclass(slots=True)
class RestData:
    """Recorded REST bodies by endpoint; see the module docstring for where each comes from."""

    exchange_info: dict[str, Any]
    futures_info: dict[str, Any]
    delivery_info: dict[str, Any]
    routes: dict[str, list[dict[str, Any]]]
    klines: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    _encoded: dict[str, bytes] = field(default_factory=dict)

    def encoded(self, path: str) -> bytes | None:
        """The JSON body of a fixed endpoint (the exchange infos), encoded once."""
        if path not in self._encoded:
            body = {
                "/api/v3/exchangeInfo": self.exchange_info,
                "/fapi/v1/exchangeInfo": self.futures_info,
                "/dapi/v1/exchangeInfo": self.delivery_info,
            }.get(path)
            if body is None:
                return None
            self._encoded[path] = json.dumps(body, separators=(",", ":")).encode()
        return self._encoded[path]

    def entry(self, path: str, symbol: str | None) -> Any:
        """The recorded body for ``path`` whose query names ``symbol`` (or names no symbol), else None."""
        wanted = f"symbol={symbol}" if symbol else ""
        for recorded in self.routes.get(path, []):
            names = [part for part in str(recorded["queryString"]).split("&") if part.startswith("symbol=")]
            if (names[0] if names else "") == wanted:
                return recorded["data"]
        return None

    def symbols(self) -> set[str]:
        """The spot symbols of the exchange info."""
        return {str(info["symbol"]) for info in self.exchange_info["symbols"]}


def load_rest_data(data_dir: Path, spot_info: str = "gct") -> RestData:
    """Read the GoCryptoTrader mock and the cryptofeed exchange infos under ``data_dir`` (cached per process).

    ``spot_info`` picks the spot exchange info: ``gct`` (786 symbols, 2020-04) or ``cryptofeed``
    (``BINANCE.0``, 1,695 symbols, 2021-10, which lists the symbols of cryptofeed's captures).
    """
    if spot_info not in SPOT_INFOS:
        raise UsageError(f"spot_info must be one of {', '.join(SPOT_INFOS)}, got {spot_info!r}")
    for relative in (GCT_MOCK, FUTURES_INFO, DELIVERY_INFO, SPOT_INFOS[spot_info]):
        if not (data_dir / relative).is_file():
            raise UsageError(f"data file {data_dir / relative} does not exist (is --data the shared data directory?)")
    return _load(data_dir.resolve(), spot_info)


@functools.lru_cache(maxsize=2)
def _load(data_dir: Path, spot_info: str) -> RestData:
    mock = _json_file(data_dir / GCT_MOCK)
    routes = {path: methods.get("GET", []) for path, methods in mock["routes"].items()}
    gct_info = routes["/api/v3/exchangeInfo"][0]["data"]
    data = RestData(
        exchange_info=gct_info if spot_info == "gct" else _cryptofeed_body(data_dir / SPOT_INFOS[spot_info]),
        futures_info=_cryptofeed_body(data_dir / FUTURES_INFO),
        delivery_info=_cryptofeed_body(data_dir / DELIVERY_INFO),
        routes=routes,
    )
    data.klines = _klines_by_interval(routes.get("/api/v3/klines", []))
    return data


def _json_file(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


def _cryptofeed_body(path: Path) -> dict[str, Any]:
    """The first recorded body of a cryptofeed ``<url> -> <epoch>: <body>`` REST recording."""
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    _, arrow, rest = first.partition(" -> ")
    _, colon, body = rest.partition(": ")
    if not (arrow and colon):
        raise UsageError(f"{path}:1: not a cryptofeed '<url> -> <epoch>: <body>' line")
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _klines_by_interval(entries: list[dict[str, Any]]) -> dict[tuple[str, str], list[list[Any]]]:
    """Every recorded candle per (symbol, interval), merged across entries, by open time."""
    merged: dict[tuple[str, str], dict[int, list[Any]]] = {}
    for entry in entries:
        query = dict(part.split("=", 1) for part in str(entry["queryString"]).split("&") if "=" in part)
        key = (query.get("symbol", ""), query.get("interval", ""))
        for candle in entry["data"]:
            merged.setdefault(key, {})[int(candle[_KLINE_OPEN])] = candle
    return {key: [candles[t] for t in sorted(candles)] for key, candles in merged.items()}
