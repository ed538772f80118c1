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
from typing import Any

from virtuoso.events import Event

Chunks = AsyncIterator[list[Event]]

CHANNEL_PRIORITY: tuple[str, ...] = ("book", "quotes", "ticker", "trades", "bars")
"""Default tie order of exchange-time merges by channel (the last part of a stream name): the book
first (a trade at the same instant then meets the book it traded against), then quotes, tickers,
trades, bars, any other channel, and system streams (lifecycle, failures) last."""


def stream_priority(stream: str, explicit: Sequence[str] = ()) -> int:
    """The tie rank of ``stream``: its index in ``explicit`` if listed, else by channel (see
    :data:`CHANNEL_PRIORITY`). Smaller ranks go first.

    >>> [stream_priority(s) for s in ("binance:BTC/USDT:trades", "binance:BTC/USDT:book", "system:s1:lifecycle")]
    [3, 0, 6]
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
    """A k-way merge of sorted chunked inputs by ``key`` (which must be unique), in chunks of ``chunk_size``."""
    cursors = [_Cursor(chunks) for chunks in inputs]
    heap = [(key(c.chunk[0]), i) for i, c in enumerate(cursors) if await c.fill()]
    heapq.heapify(heap)
    out: list[Event] = []
    while heap:
        cursor = cursors[heap[0][1]]
        out.append(cursor.chunk[cursor.index])
        cursor.index += 1
        if cursor.index < len(cursor.chunk) or await cursor.fill():
            heapq.heapreplace(heap, (key(cursor.chunk[cursor.index]), heap[0][1]))
        else:
            heapq.heappop(heap)
        if len(out) >= chunk_size:
            yield out
            out = []
    if out:
        yield out


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
