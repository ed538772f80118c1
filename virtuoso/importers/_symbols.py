"""Binance market ids (``BTCUSDT``) to ccxt unified symbols (``BTC/USDT``, ``BTC/USDT:USDT``)."""

from __future__ import annotations

import re
from typing import Literal

from virtuoso.errors import UsageError

Market = Literal["spot", "usdm"]

EXCHANGES: dict[Market, str] = {"spot": "binance", "usdm": "binanceusdm"}
"""The ccxt exchange id of each Binance market."""

# Longest first, so that FDUSD is tried before the USD-like endings it contains.
_KNOWN_QUOTES = "USDT USDC FDUSD BUSD TUSD USDP DAI BTC ETH BNB EUR TRY BRL GBP AUD JPY RUB UAH ZAR IDR PLN RON ARS MXN"
QUOTES = tuple(sorted(_KNOWN_QUOTES.split(), key=len, reverse=True))
"""Quote assets recognised at the end of a Binance market id."""

_DELIVERY = re.compile(r"^(?P<pair>[A-Z0-9]+)_(?P<expiry>\d{6})$")


def unified_symbol(market_id: str, market: Market = "spot") -> str:
    """The ccxt unified symbol of a Binance market id.

    USD-M contracts settle in their quote asset; a dated contract keeps its expiry.

    >>> unified_symbol("BTCUSDT"), unified_symbol("ETHBTC"), unified_symbol("BTCUSDT", "usdm")
    ('BTC/USDT', 'ETH/BTC', 'BTC/USDT:USDT')
    >>> unified_symbol("BTCUSDT_240927", "usdm")
    'BTC/USDT:USDT-240927'
    """
    pair = market_id.upper()
    expiry = ""
    dated = _DELIVERY.match(pair)
    if dated:
        pair, expiry = dated["pair"], dated["expiry"]
    for quote in QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            base = pair[: -len(quote)]
            if market == "spot":
                return f"{base}/{quote}"
            return f"{base}/{quote}:{quote}" + (f"-{expiry}" if expiry else "")
    raise UsageError(f"cannot tell the quote asset of market {market_id!r}: pass --symbol (e.g. --symbol BTC/USDT)")
