"""The L2 order book: price levels and their sizes, with the usual questions answered fast.

Each side is a dict ``price -> size`` plus a sorted list of its prices. Both
lists keep the *best* price at the end (bids ascending; asks as negated prices,
ascending), because nearly all updates touch the top of the book: inserting or
deleting near a list's end moves few items. Best bid/ask is then one index,
depth-N one slice, and an update one dict operation plus, for a new or removed
level, one bisect and a short memmove.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Literal

from virtuoso.events import BookDelta, BookSnapshot, Level

BookSide = Literal["bid", "ask"]


class OrderBook:
    """An L2 book: sizes per price on each side; a size of 0 in an update removes the level.

    >>> book = OrderBook(bids=[(100.0, 2.0), (99.5, 1.0)], asks=[(100.5, 3.0), (101.0, 4.0)])
    >>> book.best_bid, book.best_ask, book.mid, book.spread
    ((100.0, 2.0), (100.5, 3.0), 100.25, 0.5)
    >>> book.apply(bids=[(100.0, 0.0), (100.2, 0.5)], asks=[(100.5, 1.5)])
    >>> book.bids(), book.asks(1)
    ([(100.2, 0.5), (99.5, 1.0)], [(100.5, 1.5)])
    >>> book.imbalance(1), book.volume_at_or_better("ask", 101.0), book.size_at("bid", 99.5)
    (-0.5, 5.5, 1.0)
    """

    __slots__ = ("_ask_keys", "_ask_sizes", "_bid_prices", "_bid_sizes")

    def __init__(self, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        self._bid_sizes: dict[float, float] = {}
        self._bid_prices: list[float] = []
        self._ask_sizes: dict[float, float] = {}
        self._ask_keys: list[float] = []  # negated ask prices, ascending: the best ask is last
        self.reset(bids, asks)

    @classmethod
    def from_snapshot(cls, snapshot: BookSnapshot) -> OrderBook:
        """A book holding the levels of ``snapshot``."""
        return cls(snapshot.bids, snapshot.asks)

    # -- updates -------------------------------------------------------------------

    def reset(self, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        """Replace every level (a snapshot); levels of size 0 are left out."""
        self._bid_sizes = {price: size for price, size in bids if size}
        self._ask_sizes = {price: size for price, size in asks if size}
        self._bid_prices = sorted(self._bid_sizes)
        self._ask_keys = sorted(-price for price in self._ask_sizes)

    def clear(self) -> None:
        """Remove every level."""
        self.reset()

    def apply(self, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        """Set each given level's size; a size of 0 removes the level."""
        sizes, prices = self._bid_sizes, self._bid_prices
        for price, size in bids:
            if size:
                if price not in sizes:
                    insort(prices, price)
                sizes[price] = size
            elif sizes.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]
        sizes, keys = self._ask_sizes, self._ask_keys
        for price, size in asks:
            if size:
                if price not in sizes:
                    insort(keys, -price)
                sizes[price] = size
            elif sizes.pop(price, None) is not None:
                del keys[bisect_left(keys, -price)]

    def apply_delta(self, delta: BookDelta) -> None:
        """Apply the levels of ``delta`` (sequence numbers are the builder's business)."""
        self.apply(delta.bids, delta.asks)

    # -- questions -----------------------------------------------------------------

    @property
    def best_bid(self) -> Level | None:
        """The highest bid and its size, or None when there are no bids."""
        if not self._bid_prices:
            return None
        price = self._bid_prices[-1]
        return price, self._bid_sizes[price]

    @property
    def best_ask(self) -> Level | None:
        """The lowest ask and its size, or None when there are no asks."""
        if not self._ask_keys:
            return None
        price = -self._ask_keys[-1]
        return price, self._ask_sizes[price]

    @property
    def mid(self) -> float | None:
        """The mean of the best bid and best ask; None when a side is empty."""
        if not self._bid_prices or not self._ask_keys:
            return None
        return (self._bid_prices[-1] - self._ask_keys[-1]) / 2

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid; None when a side is empty (negative when crossed)."""
        if not self._bid_prices or not self._ask_keys:
            return None
        return -self._ask_keys[-1] - self._bid_prices[-1]

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a book no venue would show)."""
        return bool(self._bid_prices and self._ask_keys and self._bid_prices[-1] >= -self._ask_keys[-1])

    def bids(self, depth: int | None = None) -> list[Level]:
        """The best ``depth`` bids (all when None), best (highest) first."""
        prices = self._bid_prices if depth is None else self._bid_prices[-depth:] if depth > 0 else []
        sizes = self._bid_sizes
        return [(price, sizes[price]) for price in reversed(prices)]

    def asks(self, depth: int | None = None) -> list[Level]:
        """The best ``depth`` asks (all when None), best (lowest) first."""
        keys = self._ask_keys if depth is None else self._ask_keys[-depth:] if depth > 0 else []
        sizes = self._ask_sizes
        return [(-key, sizes[-key]) for key in reversed(keys)]

    def depth(self, levels: int | None = None) -> tuple[list[Level], list[Level]]:
        """``(bids, asks)``, each the best ``levels`` levels (all when None), best first."""
        return self.bids(levels), self.asks(levels)

    def imbalance(self, levels: int) -> float | None:
        """``(bid size - ask size) / (bid size + ask size)`` over the best ``levels`` of each side.

        From -1 (only asks) to 1 (only bids); None when both sides are empty.
        """
        bid = sum(size for _, size in self.bids(levels))
        ask = sum(size for _, size in self.asks(levels))
        total = bid + ask
        return None if not total else (bid - ask) / total

    def volume_at_or_better(self, side: BookSide, price: float) -> float:
        """Total size on ``side`` at ``price`` or better: bids at or above it, asks at or below it."""
        if side == "bid":
            prices = self._bid_prices[bisect_left(self._bid_prices, price) :]
            sizes = self._bid_sizes
        elif side == "ask":
            prices = [-key for key in self._ask_keys[bisect_left(self._ask_keys, -price) :]]
            sizes = self._ask_sizes
        else:
            raise ValueError(f"side must be 'bid' or 'ask', not {side!r}")
        return sum(sizes[p] for p in prices)

    def size_at(self, side: BookSide, price: float) -> float:
        """The size shown at exactly ``price`` on ``side`` (0 when there is no such level)."""
        return (self._bid_sizes if side == "bid" else self._ask_sizes).get(price, 0.0)

    def levels(self, side: BookSide) -> int:
        """The number of price levels on ``side``."""
        return len(self._bid_sizes if side == "bid" else self._ask_sizes)

    def snapshot(self, sequence: int) -> BookSnapshot:
        """Every level as a :class:`BookSnapshot` at venue update id ``sequence``, best first."""
        return BookSnapshot(tuple(self.bids()), tuple(self.asks()), sequence)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return self._bid_sizes == other._bid_sizes and self._ask_sizes == other._ask_sizes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        levels = f"{len(self._bid_sizes)}/{len(self._ask_sizes)}"
        return f"OrderBook(best_bid={self.best_bid}, best_ask={self.best_ask}, levels={levels})"
