"""A seeded synthetic diff-depth stream, for tests, benchmarks and demos.

It has the shape of a Binance recording: a few deltas arrive before the REST
snapshot (all but the last of them already contained in it, the last one
straddling its ``lastUpdateId``), then a gap-free chain of deltas chained by the
stream's rule. Prices move on a 0.01 tick around a random-walk mid; most updates
touch the top of the book, and the book never crosses.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from virtuoso.book._builder import rule_for_stream
from virtuoso.book._sync import SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event, EventIdFactory, Level

SYNTHETIC_START_NS = 1_723_161_255_000_000_000
"""Exchange time of the first synthetic delta (2024-08-08T23:54:15Z)."""
_FIRST_UPDATE_ID = 50_093_239_189
_MID_TICKS = 6_000_000  # 60,000.00 in ticks of 0.01
_BEFORE_SNAPSHOT = 3


class _Walk:
    """The generator's own book, in integer ticks, and the random choices that change it."""

    def __init__(self, rng: random.Random, levels: int) -> None:
        self.rng = rng
        self.mid = _MID_TICKS
        self.spread_levels = levels
        self.bids = {self.mid - k: self.size() for k in range(1, levels + 1)}
        self.asks = {self.mid + k: self.size() for k in range(1, levels + 1)}

    def size(self) -> float:
        return round(0.00001 + self.rng.expovariate(2.0), 5)

    def offset(self) -> int:
        return 1 + min(int(self.rng.expovariate(1 / 15)), self.spread_levels)

    def step(self, changes: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        bids: dict[int, float] = {}
        asks: dict[int, float] = {}
        if self.rng.random() < 0.1:
            self.mid += self.rng.choice((-1, 1))
            bids.update((tick, 0.0) for tick in self.bids if tick >= self.mid)
            asks.update((tick, 0.0) for tick in self.asks if tick <= self.mid)
        for _ in range(changes):
            side, book, sign = (bids, self.bids, -1) if self.rng.random() < 0.5 else (asks, self.asks, 1)
            tick = self.mid + sign * self.offset()
            side[tick] = 0.0 if tick in book and self.rng.random() < 0.3 else self.size()
        for changed, book in ((bids, self.bids), (asks, self.asks)):
            for tick, size in changed.items():
                if size:
                    book[tick] = size
                else:
                    book.pop(tick, None)
        return _levels(bids), _levels(asks)

    def snapshot(self, sequence: int) -> BookSnapshot:
        bids = tuple((tick / 100, self.bids[tick]) for tick in sorted(self.bids, reverse=True))
        asks = tuple((tick / 100, self.asks[tick]) for tick in sorted(self.asks))
        return BookSnapshot(bids, asks, sequence)


def _levels(changed: dict[int, float]) -> tuple[Level, ...]:
    return tuple((tick / 100, size) for tick, size in changed.items())


def synthetic_book_events(
    session: str,
    stream: str,
    deltas: int,
    *,
    seed: int = 0,
    levels: int = 500,
    start_ns: int = SYNTHETIC_START_NS,
    step_ns: int = 10_000_000,
    rule: SyncRule | None = None,
) -> Iterator[Event]:
    """``deltas`` BookDelta events and one BookSnapshot on ``stream``, deterministic for a ``seed``.

    The book starts with ``levels`` levels a side; deltas are ``step_ns`` apart
    and change 1 to 8 levels each. The snapshot follows the first few deltas (as
    in the hftbacktest captures), stamped with the time of the delta before it.
    """
    rng = random.Random(seed)
    walk = _Walk(rng, levels)
    ids = EventIdFactory(f"{session}:{stream}")
    futures = rule_for_stream(stream, rule) is SyncRule.FUTURES
    last = _FIRST_UPDATE_ID - 1
    before = min(_BEFORE_SNAPSHOT, deltas)
    snapshot: BookSnapshot | None = None
    for n in range(deltas):
        if n == before - 1:
            snapshot = walk.snapshot(last + 1)  # inside the coming delta's range: it straddles
        first, last = last + 1, last + 1 + rng.randrange(1, 20)
        bids, asks = walk.step(rng.randrange(1, 9))
        ts = start_ns + n * step_ns
        delta = BookDelta(bids, asks, first, last, first - 1 if futures else None)
        yield Event(ids(ts), stream, ts, ts, session, delta)
        if snapshot is not None and n == before - 1:
            yield Event(ids(ts), stream, ts, ts, session, snapshot)
