"""Market rules changed mid-session: the loopback exchange serves a patched copy of a recorded exchangeInfo.

The recorded bodies (:class:`RestData`) are cached per process and shared by every loopback
exchange, so they are never changed: a change copies the path's top-level body and its
``symbols`` list, deep-copies the one symbol's entry, patches the copy, and re-encodes that
endpoint's body once.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from virtuoso.errors import UsageError
from virtuoso.testing._restdata import RestData
from virtuoso.testing._served import MarketChange, Served

INFO_PATHS = {"spot": "/api/v3/exchangeInfo", "linear": "/fapi/v1/exchangeInfo"}
_ALL_INFO_PATHS = (*INFO_PATHS.values(), "/dapi/v1/exchangeInfo")
STATUSES = {
    "spot": ("PRE_TRADING", "TRADING", "POST_TRADING", "END_OF_DAY", "HALT", "AUCTION_MATCH", "BREAK"),
    "linear": (
        "PENDING_TRADING",
        "TRADING",
        "PRE_DELIVERING",
        "DELIVERING",
        "DELIVERED",
        "PRE_SETTLE",
        "SETTLING",
        "CLOSE",
    ),
}
# field -> (filter types holding it, keys it may have there): spot says minNotional, USDT-M notional
FILTER_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tick_size": (("PRICE_FILTER",), ("tickSize",)),
    "step_size": (("LOT_SIZE",), ("stepSize",)),
    "min_qty": (("LOT_SIZE",), ("minQty",)),
    "min_notional": (("MIN_NOTIONAL", "NOTIONAL"), ("minNotional", "notional")),
}
_POSITIVE = ("tick_size", "step_size")
_SPOT_DECIMALS = Decimal("1E-8")


class MarketRules:
    """The exchangeInfo bodies as changed so far; an unchanged endpoint is served from the shared :class:`RestData`."""

    def __init__(self, data: RestData, served: Served) -> None:
        self._data = data
        self._served = served
        self._bodies: dict[str, dict[str, Any]] = {}
        self._encoded: dict[str, bytes] = {}

    def encoded(self, path: str) -> bytes | None:
        """The JSON body of a fixed endpoint, changed or recorded; counts each exchangeInfo body served."""
        body = self._encoded.get(path) or self._data.encoded(path)
        if body is not None and path in _ALL_INFO_PATHS:
            self._served.exchange_infos[path] = self._served.exchange_infos.get(path, 0) + 1
        return body

    def change(self, symbol: str, market: str, values: dict[str, Any]) -> MarketChange:
        """Serve ``symbol``'s ``values`` (field name -> number or decimal text, or ``status``) from now on."""
        path = _info_path(market)
        given = {name: value for name, value in values.items() if value is not None}
        if not given:
            raise UsageError(f"change_market({symbol!r}) changes nothing: give one of {', '.join(values)}")
        body = self._bodies.get(path) or _recorded(self._data, path)
        index = _symbol_index(body, symbol, path)
        entry = copy.deepcopy(body["symbols"][index])
        changed = [(name, *_apply(entry, name, value, market)) for name, value in given.items()]
        symbols = list(body["symbols"])
        symbols[index] = entry
        self._bodies[path] = {**body, "symbols": symbols}
        self._encoded[path] = json.dumps(self._bodies[path], separators=(",", ":")).encode()
        return self._record(symbol, market, changed, self._served.exchange_infos.get(path, 0))

    def _record(self, symbol: str, market: str, changed: list[tuple[str, str, str]], before: int) -> MarketChange:
        fields = tuple((name, new) for name, _, new in changed)
        previous = tuple((name, old) for name, old, _ in changed)
        change = MarketChange(symbol, market, fields, previous, before)
        self._served.market_changes.append(change)
        return change


def _info_path(market: str) -> str:
    if market not in INFO_PATHS:
        raise UsageError(f"market must be one of {', '.join(INFO_PATHS)}, got {market!r}")
    return INFO_PATHS[market]


def _recorded(data: RestData, path: str) -> dict[str, Any]:
    body: dict[str, Any] = data.exchange_info if path == INFO_PATHS["spot"] else data.futures_info
    return body


def _symbol_index(body: dict[str, Any], symbol: str, path: str) -> int:
    for index, entry in enumerate(body["symbols"]):
        if entry.get("symbol") == symbol:
            return index
    raise UsageError(f"unknown symbol {symbol!r}: {path} of the loopback exchange does not list it")


def _apply(entry: dict[str, Any], name: str, value: Any, market: str) -> tuple[str, str]:
    """Set ``name`` in ``entry`` (a copy); the old and the new text."""
    if name == "status":
        new = _status(value, market)
        old, entry["status"] = str(entry.get("status")), new
        return old, new
    holder, key = _filter_slot(entry, name)
    new = binance_decimal(value, name=name, market=market)
    old, holder[key] = str(holder[key]), new
    return old, new


def _filter_slot(entry: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    types, keys = FILTER_FIELDS[name]
    for found in entry.get("filters", []):
        if found.get("filterType") in types:
            key = next((key for key in keys if key in found), None)
            if key is not None:
                return found, key
    raise UsageError(f"{entry.get('symbol')} has no {' or '.join(types)} filter with {' or '.join(keys)} to change")


def _status(value: Any, market: str) -> str:
    if value not in STATUSES[market]:
        raise UsageError(f"status must be one of {', '.join(STATUSES[market])} for {market}, got {value!r}")
    return str(value)


def binance_decimal(value: Any, *, name: str, market: str) -> str:
    """``value`` as Binance writes a filter value: 8 decimals on spot (``0.10000000``), trimmed on USDT-M (``0.1``).

    >>> binance_decimal(0.1, name="tick_size", market="spot"), binance_decimal("0.10000000", name="x", market="linear")
    ('0.10000000', '0.1')
    """
    number = _decimal(value, name)
    if number < 0 or (number == 0 and name in _POSITIVE):
        raise UsageError(f"{name} must be {'> 0' if name in _POSITIVE else '>= 0'}, got {value!r}")
    if market != "spot":
        return format(number.normalize(), "f")
    if number != number.quantize(_SPOT_DECIMALS):
        raise UsageError(f"{name} {value!r} has more than 8 decimals (Binance spot filters have 8)")
    return f"{number:.8f}"


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a decimal number, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise UsageError(f"{name} must be a decimal number, got {value!r}") from None
    if not number.is_finite():
        raise UsageError(f"{name} must be a finite decimal number, got {value!r}")
    return number
