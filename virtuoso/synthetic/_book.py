"""The synthetic market's own L2 book, in integers: taker sweeps, re-centring on the mid, resting noise.

Prices are counted in ticks and sizes in amount steps, so no rounding error
accumulates; a level becomes a float only when published (``n / 10**k`` is
the float nearest the decimal). Between two book updates the book only loses
liquidity (takers consume it); at each update it re-centres on the mid and
resting orders come and go. What is published is the difference between the
book at the last update and now, so a delta always takes the published book
to the generator's own.
"""

from __future__ import annotations

import math
import random

from virtuoso.events import BookDelta, BookSnapshot, Level
from virtuoso.synthetic._config import MarketConfig

Side = dict[int, int]
"""Levels of one side: ``{price in ticks: size in amount steps}``."""


class SyntheticBook:
    """Bids and asks in ticks and amount steps, with the update id of what was last published."""

    def __init__(self, config: MarketConfig, rng: random.Random, sequence: int) -> None:
        self.config = config
        self._rng = rng
        self.price_scale = round(1 / config.tick_size)
        self.size_scale = round(1 / config.amount_step)
        self._levels = config.book_levels
        self._size_rate = 1 / (config.level_size * self.size_scale)
        self._gap_rate = 1 / max(config.level_gap_ticks - 1, 1e-9)
        self.bids: Side = {}
        self.asks: Side = {}
        self.sequence = sequence
        """The update id of the book as last published."""
        self._published: tuple[Side, Side] = ({}, {})
        self._hit: set[int] = set()

    # -- takers ---------------------------------------------------------------------------------

    def take(self, side: str, units: int) -> list[tuple[int, int]]:
        """A taker order of ``units`` amount steps walks the opposite side from the touch; its fills
        ``(ticks, units)``. What the book cannot fill is dropped: the last level of a side always stays."""
        book = self.asks if side == "buy" else self.bids
        fills: list[tuple[int, int]] = []
        for tick in sorted(book, reverse=side == "sell"):
            if units <= 0 or len(book) == 1:
                break
            size = book[tick]
            filled = min(units, size)
            fills.append((tick, filled))
            units -= filled
            if filled == size:
                del book[tick]
            else:
                book[tick] = size - filled
            self._hit.add(tick)
        return fills

    # -- resting orders -------------------------------------------------------------------------

    def recentre(self, mid: float) -> None:
        """Move the touch to the mid (never crossing), refill each side to its levels, add resting noise."""
        best_bid, best_ask = self._touch(mid)
        for tick in [t for t in self.bids if t > best_bid]:
            del self.bids[tick]
        for tick in [t for t in self.asks if t < best_ask]:
            del self.asks[tick]
        self._side(self.bids, best_bid, -1)
        self._side(self.asks, best_ask, 1)

    def _touch(self, mid: float) -> tuple[int, int]:
        spread = 1 if self._rng.random() < 0.7 else self._rng.randint(2, 4)
        best_bid = max(1, math.floor(mid * self.price_scale - spread / 2))
        return best_bid, best_bid + spread

    def _side(self, book: Side, touch: int, away: int) -> None:
        """Levels from the touch out to the nearest surviving one (at most a side's worth), then the
        side filled up to its levels and the farthest trimmed, then noise."""
        nearest = min(((t - touch) * away for t in book), default=math.inf)
        tick, added = touch, 0
        while (tick - touch) * away < nearest and added < self._levels:
            if tick not in self._hit:
                book[tick] = self._size()
                added += 1
            tick += away * self._gap()
        while len(book) < self._levels:
            book[max(book, key=lambda t: t * away, default=touch) + away * self._gap()] = self._size()
        if len(book) > self._levels:
            for far in sorted(book, key=lambda t: t * away)[self._levels :]:
                del book[far]
        self._noise(book)

    def _noise(self, book: Side) -> None:
        for _ in range(_poisson(self._rng, self.config.updates_per_step)):
            tick = self._rng.choice(sorted(book))
            if tick not in self._hit:
                book[tick] = self._size()

    def _gap(self) -> int:
        return 1 + int(self._rng.expovariate(self._gap_rate))

    def _size(self) -> int:
        return 1 + int(self._rng.expovariate(self._size_rate))

    # -- publishing -----------------------------------------------------------------------------

    def snapshot(self) -> BookSnapshot:
        """The whole book, and the start of the published state."""
        self._publish()
        bids = self._floats(sorted(self.bids.items(), reverse=True))
        return BookSnapshot(bids, self._floats(sorted(self.asks.items())), self.sequence)

    def delta(self) -> BookDelta | None:
        """The changes since the last publication (None when there are none); one update id per level."""
        bids = _changes(self._published[0], self.bids, reverse=True)
        asks = _changes(self._published[1], self.asks, reverse=False)
        self._publish()
        if not bids and not asks:
            return None
        first = self.sequence + 1
        self.sequence += len(bids) + len(asks)
        return BookDelta(self._floats(bids), self._floats(asks), first, self.sequence)

    def _publish(self) -> None:
        self._published = (dict(self.bids), dict(self.asks))
        self._hit.clear()

    def _floats(self, levels: list[tuple[int, int]]) -> tuple[Level, ...]:
        prices, sizes = self.price_scale, self.size_scale
        return tuple((tick / prices, size / sizes) for tick, size in levels)


def _changes(before: Side, after: Side, *, reverse: bool) -> list[tuple[int, int]]:
    changed = {tick: size for tick, size in after.items() if before.get(tick) != size}
    changed.update((tick, 0) for tick in before if tick not in after)
    return sorted(changed.items(), reverse=reverse)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by counting exponential gaps (the means here are small)."""
    count, total = 0, rng.expovariate(1.0) if mean > 0 else math.inf
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count
