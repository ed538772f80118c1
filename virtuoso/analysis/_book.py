"""Book analyzers: book events in, an :class:`IndicatorValue` per event after which the book is valid.

Each market book stream gets its own :class:`~virtuoso.book.BookBuilder`, with
the sync rule of the stream's exchange (``rule`` in the config overrides it), so
a book is only measured while it is in sync: before the first snapshot and
after a break in the delta chain until the next snapshot, nothing is emitted.
The values carry ``timeframe=""`` and ``at_ns`` = the event's exchange time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from virtuoso.analysis._base import PerStream, derive, source_stream
from virtuoso.analysis._protocol import AnalyzerConfig
from virtuoso.book import BookBuilder, DepthSync, OrderBook, SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event, IndicatorValue

BPS = 10_000.0
Rule = Literal["spot", "futures"]


class BookConfig(AnalyzerConfig, frozen=True, kw_only=True):
    """``rule``: the delta sync rule (``spot``/``futures``); by default the one of the stream's exchange."""

    rule: Rule | None = None


class ImbalanceConfig(BookConfig, frozen=True, kw_only=True):
    """Imbalance over the best ``levels`` levels of each side."""

    levels: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 5


class DepthConfig(BookConfig, frozen=True, kw_only=True):
    """Depth within ``bps`` basis points of the mid."""

    bps: Annotated[float, msgspec.Meta(gt=0)] = 10.0


def spread_bps(book: OrderBook) -> tuple[float, dict[str, float]] | None:
    """``(best ask - best bid) / mid`` in basis points, with ``spread`` and ``mid``; None while a side is empty."""
    mid, spread = book.mid, book.spread
    if mid is None or spread is None or mid <= 0.0:
        return None
    return spread / mid * BPS, {"spread": spread, "mid": mid}


def imbalance(book: OrderBook, levels: int) -> tuple[float, dict[str, float]] | None:
    """``(bid - ask) / (bid + ask)`` of the sizes over the best ``levels`` a side, with ``bid`` and ``ask``."""
    bid = sum(size for _, size in book.bids(levels))
    ask = sum(size for _, size in book.asks(levels))
    if not bid + ask:
        return None
    return (bid - ask) / (bid + ask), {"bid": bid, "ask": ask}


def depth_within(book: OrderBook, bps: float) -> tuple[float, dict[str, float]] | None:
    """Bid plus ask size priced within ``bps`` of the mid (bids >= mid * (1 - bps/1e4), asks <= mid * (1 + bps/1e4))."""
    mid = book.mid
    if mid is None:
        return None
    bid = book.volume_at_or_better("bid", mid * (1.0 - bps / BPS))
    ask = book.volume_at_or_better("ask", mid * (1.0 + bps / BPS))
    return bid + ask, {"bid": bid, "ask": ask}


class BookAnalyzer(PerStream[BookBuilder]):
    """Base of the book analyzers: one builder per book stream, a value per event after which it is in sync."""

    consumes: ClassVar[tuple[str, ...]] = ("market.book.*",)
    config_type: ClassVar[type[BookConfig]] = BookConfig

    def __init__(self, config: BookConfig | None = None) -> None:
        super().__init__()
        self.config: BookConfig = config if config is not None else self.config_type()
        self._stream = ""

    def measure(self, book: OrderBook) -> tuple[float, dict[str, float]] | None:
        """The value of ``book`` (None when undefined, e.g. a side is empty)."""
        raise NotImplementedError

    def fresh(self) -> BookBuilder:
        """A builder for the stream being started."""
        rule = SyncRule(self.config.rule) if self.config.rule else None
        return BookBuilder.for_stream(self._stream, rule)

    def state_for(self, stream: str) -> BookBuilder:
        """The builder of ``stream`` (its rule depends on the stream's exchange)."""
        self._stream = stream
        return super().state_for(stream)

    def dump(self, state: BookBuilder) -> Any:
        """The book's levels and the sync state."""
        return {"book": _book_levels(state.book), "sync": dump_sync(state.sync), "ts": state.ts_event}

    def load(self, values: Any) -> BookBuilder:
        """A builder back from :meth:`dump`."""
        builder = self.fresh()
        builder.book.reset(*values["book"])
        builder.sync = load_sync(builder.sync.rule, values["sync"])
        builder.ts_event = values["ts"]
        return builder

    def restore(self, state: Any) -> None:
        """Continue from :meth:`snapshot`'s state (each builder gets its own stream's rule)."""
        self._ready = bool(state["ready"])
        self.states = {}
        for stream, values in state["streams"].items():
            self._stream = stream
            self.states[stream] = self.load(values)

    def on_event(self, event: Event) -> Sequence[Event]:
        """The value of the book after ``event``, when the book is in sync and the value defined."""
        if type(event.payload) not in (BookDelta, BookSnapshot):
            return []
        builder = self.state_for(source_stream(event.stream))
        builder.apply(event)
        output = self.measure(builder.book) if builder.in_sync else None
        if output is None:
            return []
        self._ready = True
        return [derive(event, self.name, 0, IndicatorValue(self.name, "", event.ts_event, output[0], output[1]))]


def _book_levels(book: OrderBook) -> list[list[list[float]]]:
    return [[[p, s] for p, s in book.bids()], [[p, s] for p, s in book.asks()]]


def dump_sync(sync: DepthSync) -> dict[str, Any]:
    """A :class:`DepthSync`'s state as plain values.

    DepthSync has no public dump, and its waiting deltas (before the first
    snapshot) are part of the state, so this reads its slots.
    """
    pending = [msgspec.to_builtins(delta) for delta in sync._pending]
    return {"state": sync._state, "anchor": sync._anchor, "last": sync._last, "pending": pending}


def load_sync(rule: SyncRule, values: dict[str, Any]) -> DepthSync:
    """A :class:`DepthSync` back from :func:`dump_sync`."""
    sync = DepthSync(rule)
    sync._state, sync._anchor, sync._last = values["state"], values["anchor"], values["last"]
    sync._pending = [msgspec.convert(delta, BookDelta) for delta in values["pending"]]
    return sync


class BookImbalance(BookAnalyzer):
    """Order-book imbalance over the best ``levels`` levels: -1 (only asks) to 1 (only bids)."""

    name: ClassVar[str] = "book-imbalance"
    config_type: ClassVar[type[BookConfig]] = ImbalanceConfig
    config: ImbalanceConfig

    def measure(self, book: OrderBook) -> tuple[float, dict[str, float]] | None:
        """The imbalance, with the summed ``bid`` and ``ask`` sizes."""
        return imbalance(book, self.config.levels)


class SpreadBps(BookAnalyzer):
    """The bid-ask spread in basis points of the mid."""

    name: ClassVar[str] = "spread"

    def measure(self, book: OrderBook) -> tuple[float, dict[str, float]] | None:
        """The spread in bps, with ``spread`` and ``mid``."""
        return spread_bps(book)


class BookDepth(BookAnalyzer):
    """Resting size within ``bps`` basis points of the mid, both sides (components ``bid``, ``ask``)."""

    name: ClassVar[str] = "depth"
    config_type: ClassVar[type[BookConfig]] = DepthConfig
    config: DepthConfig

    def measure(self, book: OrderBook) -> tuple[float, dict[str, float]] | None:
        """The depth, with each side's."""
        return depth_within(book, self.config.bps)
