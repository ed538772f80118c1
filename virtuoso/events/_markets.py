"""Market metadata payloads: what a market looked like (tick size, lot size, minimums, fees) when recorded.

A :class:`MarketsLoaded` event goes to the stream ``<exchange>:markets`` of a
session when a recording starts, whenever the exchange's markets change (a new
tick size, say), and when an importer knows them; replays and the simulated
venue use the markets in force at each event's time.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

import msgspec

from virtuoso.events._registry import Payload, event_type

MarketType = Literal["spot", "margin", "swap", "future", "option"]
MarketsSource = Literal["exchange", "log", "cache-file", "import"]


class Market(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One market's rules, in our own terms (not ccxt's dict). 0 means no such rule."""

    symbol: str
    """The unified symbol (``BTC/USDT``, ``BTC/USDT:USDT``)."""
    base: str
    quote: str
    type: MarketType = "spot"
    active: bool = True
    tick_size: float = 0.0
    amount_step: float = 0.0
    min_amount: float = 0.0
    min_notional: float = 0.0
    contract_size: float | None = None
    maker_fee_bps: float | None = None
    taker_fee_bps: float | None = None
    id: str | None = None
    """The exchange's own id of the market (``BTCUSDT``), when known: what hands the market back to ccxt."""


@event_type
class MarketsLoaded(Payload, frozen=True, gc=False):
    """The markets of ``exchange`` (those a session records, or all), sorted by symbol.

    ``content_hash`` identifies the markets alone (not where they came from), so
    an unchanged list is recognised and not stored again. ``source`` says where
    they came from; ``stale_age_s`` how old they were when the exchange could not
    be asked (``None`` when fresh).
    """

    TYPE: ClassVar[str] = "MarketsLoaded"
    TOPIC: ClassVar[str] = "market.markets"

    exchange: str
    markets: tuple[Market, ...]
    content_hash: str
    source: MarketsSource = "exchange"
    stale_age_s: float | None = None


def markets_hash(markets: tuple[Market, ...]) -> str:
    """The content hash of ``markets`` (sha256 of their canonical JSON, in symbol order).

    >>> m = Market(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=0.01)
    >>> markets_hash((m,)) == markets_hash((m,)) != markets_hash((msgspec.structs.replace(m, tick_size=0.1),))
    True
    """
    ordered = tuple(sorted(markets, key=lambda market: market.symbol))
    return hashlib.sha256(msgspec.json.encode(ordered, order="deterministic")).hexdigest()
