"""ccxt's unified market dict <-> our :class:`~virtuoso.events.Market`, both ways.

ccxt's ``precision`` means different things per exchange (``precisionMode``):
a tick (``TICK_SIZE``, Binance in ccxt 4), a number of decimal places
(``DECIMAL_PLACES``) or of significant digits (``SIGNIFICANT_DIGITS``, which has
no fixed tick: stored as 0, "no such rule").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast, get_args

from virtuoso.errors import ExchangeResponseError
from virtuoso.events import Market, MarketType

DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4
"""ccxt's ``precisionMode`` values (``ccxt.base.decimal_to_precision``)."""

_TYPES: tuple[str, ...] = get_args(MarketType)


def _step(value: Any, precision_mode: int) -> float:
    if value is None or precision_mode == SIGNIFICANT_DIGITS:
        return 0.0
    if precision_mode == DECIMAL_PLACES:
        return float(10.0 ** -int(value))
    return float(value)


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _bps(fraction: Any) -> float | None:
    # Rounded: 0.001 * 10_000 is 10.000000000000002 in binary floating point.
    return None if fraction is None else round(float(fraction) * 10_000, 6)


def _limit(market: Mapping[str, Any], which: str) -> float:
    limits = market.get("limits") or {}
    return _number((limits.get(which) or {}).get("min"))


def market_from_ccxt(market: Mapping[str, Any], precision_mode: int = TICK_SIZE) -> Market:
    """Our :class:`Market` for one ccxt unified market (``exchange.markets[symbol]``).

    ``precision_mode`` is the exchange's ``exchange.precisionMode``; fees become basis points.

    >>> m = market_from_ccxt({"symbol": "BTC/USDT", "id": "BTCUSDT", "base": "BTC", "quote": "USDT",
    ...     "type": "spot", "precision": {"price": 2, "amount": 6}, "maker": 0.001}, DECIMAL_PLACES)
    >>> m.tick_size, m.amount_step, m.maker_fee_bps, m.min_amount
    (0.01, 1e-06, 10.0, 0.0)
    """
    kind = market.get("type") or "spot"
    if kind not in _TYPES:
        raise ExchangeResponseError(f"market {market.get('symbol')!r}: unknown market type {kind!r}")
    precision = market.get("precision") or {}
    size = market.get("contractSize")
    return Market(
        symbol=str(market["symbol"]),
        base=str(market.get("base") or ""),
        quote=str(market.get("quote") or ""),
        type=cast(MarketType, kind),
        active=market.get("active") is not False,
        tick_size=_step(precision.get("price"), precision_mode),
        amount_step=_step(precision.get("amount"), precision_mode),
        min_amount=_limit(market, "amount"),
        min_notional=_limit(market, "cost"),
        contract_size=None if size is None else float(size),
        maker_fee_bps=_bps(market.get("maker")),
        taker_fee_bps=_bps(market.get("taker")),
        id=None if market.get("id") is None else str(market["id"]),
    )


def _fraction(bps: float | None) -> float | None:
    return None if bps is None else bps / 10_000


def ccxt_market(market: Market) -> dict[str, Any]:
    """A ccxt unified market dict for ``market`` (tick-size precision), to hand to ``exchange.set_markets``.

    Used when the exchange cannot be asked: ccxt then works from the cached
    markets instead of failing every call on its own ``load_markets``.
    """
    settle = market.symbol.partition(":")[2] or None
    contract = market.type in ("swap", "future", "option")
    market_id = market.id or market.symbol.replace("/", "").split(":")[0]
    return {
        "id": market_id,
        "lowercaseId": market_id.lower(),
        "symbol": market.symbol,
        "base": market.base,
        "quote": market.quote,
        "settle": settle,
        "baseId": market.base,
        "quoteId": market.quote,
        "settleId": settle,
        "type": market.type,
        **{kind: market.type == kind for kind in _TYPES},
        "active": market.active,
        "contract": contract,
        "linear": (settle == market.quote) if contract else None,
        "inverse": (settle == market.base) if contract else None,
        "contractSize": market.contract_size,
        "maker": _fraction(market.maker_fee_bps),
        "taker": _fraction(market.taker_fee_bps),
        "precision": {"price": market.tick_size or None, "amount": market.amount_step or None},
        "limits": _ccxt_limits(market),
        "info": {},
    }


def _ccxt_limits(market: Market) -> dict[str, dict[str, float | None]]:
    return {
        "amount": {"min": market.min_amount or None, "max": None},
        "cost": {"min": market.min_notional or None, "max": None},
        "price": {"min": None, "max": None},
        "leverage": {"min": None, "max": None},
    }
