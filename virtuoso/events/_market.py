"""Market data payloads: what an exchange tells us."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from virtuoso.events._registry import REGISTRY, Payload, event_type

Side = Literal["buy", "sell"]
Level = tuple[float, float]
"""One order-book level: ``(price, amount)``. An amount of 0 in a delta removes the level."""


@event_type
class Trade(Payload, frozen=True, gc=False):
    """One public trade. ``side`` is the taker's side."""

    TYPE: ClassVar[str] = "Trade"
    SCHEMA: ClassVar[int] = 2
    TOPIC: ClassVar[str] = "market.trade"

    price: float
    amount: float
    side: Side
    trade_id: str


_SIDES: tuple[Side, Side] = ("buy", "sell")


def trades_of(
    prices: Sequence[float], amounts: Sequence[float], sells: Sequence[bool], trade_ids: Sequence[str]
) -> list[Trade]:
    """Trades from their columns (``sells``: the taker sold), made by C-level ``map``; values are not checked here.

    >>> trades_of([61000.5], [0.5], [True], ["7"])
    [Trade(price=61000.5, amount=0.5, side='sell', trade_id='7')]
    """
    return list(map(Trade, prices, amounts, sides_of(sells), trade_ids))


def sides_of(sells: Sequence[bool]) -> list[Side]:
    """The taker sides of trades whose taker sold where ``sells`` is true.

    >>> sides_of([True, False])
    ['sell', 'buy']
    """
    return list(map(_SIDES.__getitem__, sells))


@REGISTRY.upcaster("Trade", 1)
def _trade_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    # Schema 1 kept Binance's own vocabulary: `qty`, and `buyer_maker` (true when
    # the taker sold) instead of the taker side, and an integer trade id.
    return {
        "price": raw["price"],
        "amount": raw["qty"],
        "side": "sell" if raw["buyer_maker"] else "buy",
        "trade_id": str(raw["id"]),
    }


@event_type
class BookSnapshot(Payload, frozen=True, gc=False):
    """A full (or top-N) order book; bids best first (descending), asks ascending."""

    TYPE: ClassVar[str] = "BookSnapshot"
    TOPIC: ClassVar[str] = "market.book.snapshot"

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    sequence: int


@event_type
class BookDelta(Payload, frozen=True, gc=False):
    """Changed levels covering venue update ids ``first_sequence..last_sequence``.

    ``previous_sequence`` is the last id of the venue's previous delta where the
    venue states it (Binance futures ``pu``), else ``None``.
    """

    TYPE: ClassVar[str] = "BookDelta"
    TOPIC: ClassVar[str] = "market.book.delta"

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    first_sequence: int
    last_sequence: int
    previous_sequence: int | None = None


@event_type
class Bar(Payload, frozen=True, gc=False):
    """An OHLCV candle of ``timeframe`` (ccxt notation: ``1m``, ``1h``, ``1d``) opening at ``open_ns``."""

    TYPE: ClassVar[str] = "Bar"
    TOPIC: ClassVar[str] = "market.bar"

    timeframe: str
    open_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int | None = None
    closed: bool = True
    buy_volume: float | None = None
    """Volume of the trades whose taker bought (bars built from trades; ``None`` from a venue's OHLCV)."""
    vwap: float | None = None
    """Volume-weighted average price of the bar's trades (``None`` when unknown or the volume is 0)."""


@event_type
class Quote(Payload, frozen=True, gc=False):
    """Best bid and ask with their sizes (top of book)."""

    TYPE: ClassVar[str] = "Quote"
    TOPIC: ClassVar[str] = "market.quote"

    bid: float
    bid_size: float
    ask: float
    ask_size: float
    sequence: int | None = None


@event_type
class Ticker(Payload, frozen=True, gc=False):
    """A ticker: top of book, last price and rolling volume where the venue gives them."""

    TYPE: ClassVar[str] = "Ticker"
    TOPIC: ClassVar[str] = "market.ticker"

    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    last: float | None
    base_volume: float | None = None
    quote_volume: float | None = None
