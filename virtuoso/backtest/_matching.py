"""Walking the recorded book: what a taking order gets, level by level."""

from __future__ import annotations

from virtuoso.backtest._orders import Order
from virtuoso.book import OrderBook

Fill = tuple[float, float]
"""``(price, amount)`` of one fill against one level."""


def walk_book(book: OrderBook, taken: dict[float, float], order: Order, *, dry: bool = False) -> list[Fill]:
    """The fills ``order``'s remaining amount gets from the opposite side of ``book``, best level first,
    up to its limit price, each level's size less what ``taken`` says earlier fills took from it.

    Unless ``dry``, what is filled is added to ``taken`` (the venue clears a level's entry when the
    recorded book next updates that level).

    >>> from virtuoso.backtest._orders import Order
    >>> book = OrderBook(asks=[(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)])
    >>> order = Order("o1", "BTC/USDT", "buy", "market", 2.5, None, "GTC", 0, 0)
    >>> walk_book(book, {}, order)
    [(100.0, 1.0), (101.0, 1.5)]
    """
    levels = book.asks() if order.is_buy else book.bids()
    limit = order.price
    wanted = order.remaining
    fills: list[Fill] = []
    for price, size in levels:
        if wanted <= 0 or (limit is not None and (price > limit if order.is_buy else price < limit)):
            break
        available = size - taken.get(price, 0.0)
        if available <= 0:
            continue
        amount = min(available, wanted)
        fills.append((price, amount))
        wanted -= amount
        if not dry:
            taken[price] = taken.get(price, 0.0) + amount
    return fills
