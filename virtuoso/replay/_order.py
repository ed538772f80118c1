"""The order a replay publishes events in: log position, or exchange time by a k-way merge of streams.

Position order is the order the live system saw (the store's writer assigned it),
so it is the default. Exchange-time order merges the selected streams: each
stream keeps its own (position) order, and the next event published is the
stream head with the smallest ``(ts_event, stream priority, position)``. A
stream whose exchange times step back (Binance's REST snapshot carries our
receive time) holds back the streams behind it rather than being reordered.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Callable, Sequence
from itertools import islice
from operator import attrgetter
from typing import Any

from virtuoso.events import Event

Chunks = AsyncIterator[list[Event]]
_TS_EVENT = attrgetter("ts_event")

CHANNEL_PRIORITY: tuple[str, ...] = ("markets", "book", "quotes", "ticker", "trades", "bars")
"""Default tie order of exchange-time merges by channel (the last part of a stream name): market
metadata first (the rules in force at an instant apply to what happens at it), then the book (a trade
at the same instant then meets the book it traded against), quotes, tickers, trades, bars, any other
channel, and system streams (lifecycle, failures) last."""


def stream_priority(stream: str, explicit: Sequence[str] = ()) -> int:
    """The tie rank of ``stream``: its index in ``explicit`` if listed, else by channel (see
    :data:`CHANNEL_PRIORITY`). Smaller ranks go first.

    >>> [stream_priority(s) for s in ("binance:BTC/USDT:trades", "binance:BTC/USDT:book", "system:s1:lifecycle")]
    [4, 1, 7]
    """
    if stream in explicit:
        return explicit.index(stream) - len(explicit)
    if stream.startswith("system:"):
        return len(CHANNEL_PRIORITY) + 1
    channel = stream.rsplit(":", 1)[-1]
    return CHANNEL_PRIORITY.index(channel) if channel in CHANNEL_PRIORITY else len(CHANNEL_PRIORITY)


class _Cursor:
    """The head of one sorted input: the current chunk and the index of its next event."""

    __slots__ = ("chunk", "chunks", "index")

    def __init__(self, chunks: Chunks) -> None:
        self.chunks = chunks
        self.chunk: list[Event] = []
        self.index = 0

    async def fill(self) -> bool:
        """Load the next non-empty chunk; False when the input is exhausted."""
        async for chunk in self.chunks:
            if chunk:
                self.chunk, self.index = chunk, 0
                return True
        return False


async def merge(inputs: Sequence[Chunks], key: Callable[[Event], Any], chunk_size: int) -> Chunks:
    """A k-way merge of sorted chunked inputs by ``key`` (which must be unique), in chunks of ``chunk_size``.

    The input holding the smallest head gives a run of events at once: every one of its events
    smaller than the smallest head of the others would be taken next anyway, so the heap is
    consulted once a run rather than once an event (one market stream beside a lifecycle stream
    merges at nearly the speed of a plain read).
    """
    cursors = [_Cursor(chunks) for chunks in inputs]
    heap = [(key(c.chunk[0]), i) for i, c in enumerate(cursors) if await c.fill()]
    heapq.heapify(heap)
    out: list[Event] = []
    while heap:
        which = heap[0][1]
        cursor = cursors[which]
        chunk, index = cursor.chunk, cursor.index
        stop, following = _run(chunk, index, min(len(chunk), index + chunk_size - len(out)), _second(heap), key)
        out.extend(chunk[index:stop])
        cursor.index = stop
        if stop < len(chunk):
            heapq.heapreplace(heap, (following if following is not None else key(chunk[stop]), which))
        elif await cursor.fill():
            heapq.heapreplace(heap, (key(cursor.chunk[0]), which))
        else:
            heapq.heappop(heap)
        if len(out) >= chunk_size:
            yield out
            out = []
    if out:
        yield out


def _second(heap: list[tuple[Any, int]]) -> Any:
    """The second smallest key of a heap (``None`` when it holds one entry)."""
    if len(heap) < 2:
        return None
    return heap[1][0] if len(heap) == 2 or heap[1] < heap[2] else heap[2][0]


def _run(chunk: list[Event], index: int, limit: int, bound: Any, key: Callable[[Event], Any]) -> tuple[int, Any]:
    """The end of the run from ``index`` (its head is the smallest of all heads) before ``limit`` whose keys stay
    under ``bound``, and the key of the event it stopped at when it computed it."""
    if bound is None:
        return limit, None
    stop = index + 1
    # Exchange-time keys start with ts_event: an earlier event is under the bound without building its key.
    before = bound[0] if isinstance(bound, tuple) else None
    if before is not None and stop < limit and max(map(_TS_EVENT, islice(chunk, stop, limit))) < before:
        return limit, None  # the whole rest is under the bound (one market stream beside a quiet one): no loop
    while stop < limit:
        event = chunk[stop]
        if before is None or event.ts_event >= before:
            found = key(event)
            if not found < bound:
                return stop, found
        stop += 1
    return stop, None


def by_position(event: Event) -> int:
    """The merge key of position order."""
    return event.position


def by_exchange_time(explicit: Sequence[str] = ()) -> Callable[[Event], tuple[int, int, int]]:
    """The merge key of exchange-time order: ``(ts_event, stream priority, position)``."""
    ranks: dict[str, int] = {}

    def key(event: Event) -> tuple[int, int, int]:
        rank = ranks.get(event.stream)
        if rank is None:
            rank = ranks[event.stream] = stream_priority(event.stream, explicit)
        return (event.ts_event, rank, event.position)

    return key
