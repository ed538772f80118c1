"""A buffered writer for high-rate recording.

Events are collected and appended in batches: when ``max_events`` are waiting, or
``max_delay_s`` after the first event of a batch arrived. One batch may be in
flight while the next one fills, so building rows overlaps with SQLite's work on
the writer thread; a third batch waits for the first (backpressure). A failed
commit is raised by the next call, never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from virtuoso.errors import StoreClosedError, UsageError
from virtuoso.events import Event
from virtuoso.store._models import AppendResult

if TYPE_CHECKING:
    from virtuoso.store._base import BaseStore


class BufferedWriter:
    """Batches appends to a store. Get one from ``store.writer()``.

    >>> # async with store.writer(max_events=5000, max_delay_s=0.05) as w:
    >>> #     await w.write(event)          # returns at once unless two batches wait
    """

    def __init__(self, store: BaseStore, *, max_events: int = 5000, max_delay_s: float = 0.05) -> None:
        if max_events < 1 or max_delay_s < 0:
            raise UsageError(f"max_events must be >= 1 and max_delay_s >= 0, not {max_events} and {max_delay_s}")
        self._store = store
        self._max_events = max_events
        self._max_delay_s = max_delay_s
        self._buffer: list[Event] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.written = 0
        """Events committed so far."""
        self.duplicates = 0
        """Events skipped because their id was already stored."""
        self.failed: list[Event] = []
        """Events of batches whose commit failed, in order, for the caller to retry."""
        self.on_commit: Callable[[AppendResult], Awaitable[None]] | None = None
        """Awaited after each committed batch that wrote events, in commit order (before the next batch)."""

    @property
    def pending(self) -> int:
        """Events accepted but not yet committed."""
        return len(self._buffer)

    async def write(self, event: Event) -> None:
        """Queue one event; commits a batch when it is full."""
        self._check()
        self._buffer.append(event)
        if len(self._buffer) >= self._max_events:
            await self._dispatch()
        elif self._timer is None and len(self._buffer) == 1:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)

    async def write_many(self, events: Iterable[Event]) -> None:
        """Queue several events; commits every full batch."""
        self._check()
        pending = events if isinstance(events, list) else list(events)
        start = 0
        while start < len(pending):
            room = self._max_events - len(self._buffer)
            self._buffer.extend(pending[start : start + room])
            start += room
            if len(self._buffer) >= self._max_events:
                await self._dispatch()
        if self._buffer and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)

    async def flush(self) -> None:
        """Commit everything queued so far and wait until it is durable."""
        try:
            await self._dispatch()
        finally:
            await self._wait_in_flight()
        self._raise_pending_error()

    async def close(self) -> None:
        """Flush, then refuse further writes."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True

    async def __aenter__(self) -> BufferedWriter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check(self) -> None:
        if self._closed:
            raise StoreClosedError("the buffered writer is closed")
        self._raise_pending_error()

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _on_timer(self) -> None:
        self._timer = None
        if not self._buffer:
            return
        if self._in_flight is not None and not self._in_flight.done():
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)
            return
        batch, self._buffer = self._buffer, []
        self._in_flight = asyncio.ensure_future(self._commit(batch))

    async def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer:
            await self._wait_in_flight()
            batch, self._buffer = self._buffer, []
            self._in_flight = asyncio.ensure_future(self._commit(batch))
        # A failed earlier batch is reported, but what came after it is still committed.
        self._raise_pending_error()

    async def _wait_in_flight(self) -> None:
        if self._in_flight is not None:
            await asyncio.shield(self._in_flight)
            self._in_flight = None

    async def _commit(self, batch: list[Event]) -> None:
        try:
            result = await self._store.append(batch)
        except Exception as exc:  # kept and raised by the caller's next call
            self._error = self._error or exc
            self.failed.extend(batch)
            return
        self.written += result.written
        self.duplicates += result.duplicates
        if self.on_commit is not None and result.written:
            try:
                await self.on_commit(result)
            except Exception as exc:  # the batch is committed; the caller hears of the failure next
                self._error = self._error or exc
