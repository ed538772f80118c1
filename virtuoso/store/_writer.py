"""A buffered writer for high-rate recording.

Events are collected and appended in batches: when ``max_events`` are waiting, or
``max_delay_s`` after the first event of a batch arrived. One batch may be in
flight while the next one fills, so building rows overlaps with SQLite's work on
the writer thread; a third batch waits for the first (backpressure).

Without a :class:`CommitRetry`, a failed commit is raised by the next call, never
dropped. With one, a commit that fails for a reason that may pass (another
process holds the write lock, a disk I/O error) is retried with backoff, keeping
order: the failed batch goes back to the front of the buffer and nothing after
it is committed first. What arrives meanwhile is kept in memory up to
``max_pending`` events; past that, ``"wait"`` makes writers wait and ``"drop"``
drops the newest events, counting per stream what was dropped, and writes a
:class:`~virtuoso.events.Gap` over each dropped span once the log takes writes
again. A full disk, a damaged log or an invalid event is never retried, and it
stops such a writer: every later call raises it again and nothing more is
committed, so the log never holds events past a hole nobody declared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from virtuoso.errors import StoreBusyError, StoreClosedError, StoreError, StoreIOError, UsageError
from virtuoso.events import Event, EventIdFactory, Gap

if TYPE_CHECKING:
    from virtuoso.store._models import AppendResult
    from virtuoso.store._rows import Columns
    from virtuoso.store._store import EventStore

RETRYABLE: tuple[type[StoreError], ...] = (StoreBusyError, StoreIOError)
"""The commit failures a later attempt may get past."""


@dataclass(frozen=True, slots=True)
class CommitRetry:
    """How a :class:`BufferedWriter` rides out commits that fail for a while.

    ``max_pending`` bounds the events held in memory while the log refuses
    writes; ``when_full`` says what happens past it (``"wait"``: writers wait,
    ``"drop"``: the newest events are dropped and declared as gaps). Delays
    between attempts double from ``first_delay_s`` to ``max_delay_s``; a flush
    (and so a close) gives up after ``give_up_after_s`` of failures in a row and
    raises the last error, saying how many events were not committed.
    """

    max_pending: int = 200_000
    when_full: Literal["wait", "drop"] = "drop"
    first_delay_s: float = 0.05
    max_delay_s: float = 2.0
    give_up_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_pending < 1 or not 0 < self.first_delay_s <= self.max_delay_s or self.give_up_after_s < 0:
            raise UsageError(f"impossible commit retry settings: {self}")


@dataclass(slots=True)
class DroppedSpan:
    """Events of one stream dropped while the log refused writes: how many, and their exchange-time span."""

    session: str
    stream: str
    first_ns: int
    last_ns: int
    last_recv_ns: int
    count: int = 1

    def gap_event(self, reason: str) -> Event:
        """The Gap over this span, on the stream's ``gaps`` channel, with a deterministic id."""
        stream = gaps_stream(self.stream)
        text = f"{self.count} events not recorded: the log refused writes ({reason})"
        gap = Gap(self.stream, self.first_ns, self.last_ns, text[:300])
        event_id = EventIdFactory(f"{self.session}:{stream}:unwritten:{self.first_ns}")(self.last_ns)
        return Event(event_id, stream, self.last_ns, self.last_recv_ns, self.session, gap)


def gaps_stream(stream: str) -> str:
    """Where gaps of ``stream`` go: its last part replaced by ``gaps`` (``binance:BTC/USDT:trades`` ->
    ``binance:BTC/USDT:gaps``)."""
    head, sep, _ = stream.rpartition(":")
    return f"{head}:gaps" if sep else f"{stream}:gaps"


class BufferedWriter:
    """Batches appends to a store. Get one from ``store.writer()``.

    >>> # async with store.writer(max_events=5000, max_delay_s=0.05) as w:
    >>> #     await w.write(event)          # returns at once unless two batches wait
    """

    def __init__(
        self, store: EventStore, *, max_events: int = 5000, max_delay_s: float = 0.05, retry: CommitRetry | None = None
    ) -> None:
        if max_events < 1 or max_delay_s < 0:
            raise UsageError(f"max_events must be >= 1 and max_delay_s >= 0, not {max_events} and {max_delay_s}")
        self._store = store
        self._max_events = max_events
        self._max_delay_s = max_delay_s
        self._retry = retry
        self._buffer: list[Event] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._stall: _Stall | None = None
        self._in_flight_size = 0
        self._broken: BaseException | None = None
        self._dropped: dict[tuple[str, str], DroppedSpan] = {}
        self._ahead: tuple[list[Event], int, Columns] | None = None
        self.written = 0
        """Events committed so far."""
        self.duplicates = 0
        """Events skipped because their id was already stored."""
        self.failed: list[Event] = []
        """Events of batches whose commit failed for good, in order, for the caller to retry."""
        self.dropped = 0
        """Events dropped because the log refused writes with ``max_pending`` already held (``"drop"`` only)."""
        self.on_commit: Callable[[AppendResult], Awaitable[None]] | None = None
        """Awaited after each committed batch that wrote events, in commit order (before the next batch)."""
        self.on_dropped: Callable[[list[DroppedSpan]], object] | None = None
        """Called with the spans dropped while the log refused writes, once their gaps are queued."""
        self.on_failure: Callable[[BaseException], object] | None = None
        """Called at once with the error of a batch that failed for good (a full disk, say), so that an owner
        that writes nothing more soon still hears of it before its next call."""

    @property
    def pending(self) -> int:
        """Events accepted but not yet committed."""
        return len(self._buffer)

    @property
    def stalled(self) -> BaseException | None:
        """The error the log answered the last commit with while commits are being retried, else ``None``."""
        return None if self._stall is None else self._stall.error

    async def write(self, event: Event) -> None:
        """Queue one event; commits a batch when it is full."""
        self._check()
        if self._stall is not None:
            await self._held([event])
            return
        self._buffer.append(event)
        if len(self._buffer) >= self._max_events:
            await self._dispatch()
        elif self._timer is None and len(self._buffer) == 1:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)

    async def write_many(self, events: Iterable[Event]) -> None:
        """Queue several events; commits every full batch."""
        self._check()
        pending = events if isinstance(events, list) else list(events)
        if self._stall is not None:
            await self._held(pending)
            return
        start = 0
        while start < len(pending):
            room = self._max_events - len(self._buffer)
            self._buffer.extend(pending[start : start + room])
            start += room
            if len(self._buffer) >= self._max_events:
                await self._dispatch()
                if self._stall is not None:
                    await self._held(pending[start:])
                    return
        if self._buffer and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)

    async def flush(self) -> None:
        """Commit everything queued so far and wait until it is durable (retrying as the policy says)."""
        while True:
            try:
                await self._dispatch()
            finally:
                await self._wait_in_flight()
            if self._stall is not None:
                await self._ride_out(self._stall)
            elif not self._buffer:  # a commit that recovered from a stall may have left the rest queued
                break
        self._raise_pending_error()

    async def close(self) -> None:
        """Flush, then refuse further writes."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            if self._stall is not None:
                self._stall.cancel()

    async def __aenter__(self) -> BufferedWriter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check(self) -> None:
        if self._closed:
            raise StoreClosedError("the buffered writer is closed")
        self._raise_pending_error()
        if self._broken is not None:
            raise self._broken

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _on_timer(self) -> None:
        self._timer = None
        if not self._buffer or self._stall is not None:
            return
        if self._in_flight is not None and not self._in_flight.done():
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)
            return
        batch, self._buffer = self._buffer, []
        self._launch(batch)

    async def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._broken is not None:
            self.failed.extend(self._buffer)
            self._buffer = []
        if self._buffer and self._stall is None:
            self._prepare_ahead()
            await self._wait_in_flight()
            if self._stall is None and self._buffer:  # the batch in flight may just have failed
                batch, self._buffer = self._buffer, []
                self._launch(batch)
        # A failed earlier batch is reported, but what came after it is still committed.
        self._raise_pending_error()

    async def _wait_in_flight(self) -> None:
        # A timer may start the next batch while we wait for this one: wait for that one too.
        while self._in_flight is not None:
            task = self._in_flight
            await asyncio.shield(task)
            if self._in_flight is task:
                self._in_flight = None

    def _prepare_ahead(self) -> None:
        """While a batch commits, make the columns of the next one (the buffer as it is now).

        They are used only if the buffer is still exactly that batch when it is launched; a batch
        whose check fails is left to :meth:`_commit`, which meets the same error in order.
        """
        self._ahead = None
        if self._in_flight is None or self._in_flight.done():
            return  # nothing to overlap with
        try:
            columns = self._store._prepared(self._buffer)  # the writer is part of the store
        except Exception:  # raised again, in order, by the commit of this batch
            return
        if columns is not None:
            self._ahead = (self._buffer, len(self._buffer), columns)

    def _launch(self, batch: list[Event]) -> None:
        ahead, self._ahead = self._ahead, None
        columns = ahead[2] if ahead is not None and ahead[0] is batch and ahead[1] == len(batch) else None
        self._in_flight_size = len(batch)  # counted as held from now: the task starts later
        self._in_flight = asyncio.ensure_future(self._commit(batch, columns))

    async def _commit(self, batch: list[Event], columns: Columns | None = None) -> None:
        try:
            if columns is None:
                result = await self._store.append(batch)
            else:
                result = await self._store._append_prepared(columns)
        except RETRYABLE as exc:
            self._in_flight_size = 0
            if self._retry is None:
                self._fail(batch, exc)
            else:
                self._hold_back(self._retry, batch, exc)
            return
        except Exception as exc:  # kept and raised by the caller's next call
            self._in_flight_size = 0
            self._fail(batch, exc)
            return
        self._in_flight_size = 0
        self.written += result.written
        self.duplicates += result.duplicates
        if self._stall is not None:
            self._recovered()
        if self.on_commit is not None and result.written:
            try:
                await self.on_commit(result)
            except Exception as exc:  # the batch is committed; the caller hears of the failure next
                self._error = self._error or exc

    def _fail(self, batch: list[Event], error: BaseException) -> None:
        self._error = self._error or error
        self.failed.extend(batch)
        if self._retry is not None:  # no later event may be committed past the hole this leaves
            self._broken = self._broken or error
            self.failed.extend(self._buffer)
            self._buffer = []
        if self.on_failure is not None:
            self.on_failure(error)

    # -- riding out a log that refuses writes (with a CommitRetry) -------------------

    def _hold_back(self, retry: CommitRetry, batch: list[Event], error: BaseException) -> None:
        """Put ``batch`` back in front of what waits and try again later."""
        self._buffer[:0] = batch
        if self._stall is None:
            self._stall = _Stall(retry, error)
        else:
            self._stall.failed_again(error)
        self._stall.schedule(self._on_retry)

    def _on_retry(self) -> None:
        if self._closed or self._stall is None or not self._buffer:
            return
        if self._in_flight is not None and not self._in_flight.done():
            self._stall.schedule(self._on_retry)
            return
        batch = self._buffer[: self._max_events]
        del self._buffer[: self._max_events]
        self._launch(batch)

    def _recovered(self) -> None:
        """The log took a batch again: queue the gaps of what was dropped and commit the rest promptly."""
        stall, self._stall = self._stall, None
        if stall is None:
            return
        stall.cancel()
        stall.recovered.set()
        spans = list(self._dropped.values())
        self._dropped.clear()
        if spans:
            reason = f"{type(stall.error).__name__}: {stall.error}"
            self._buffer.extend(span.gap_event(reason) for span in spans)
            if self.on_dropped is not None:
                self.on_dropped(spans)
        if self._buffer and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(0, self._on_timer)

    async def _held(self, events: list[Event]) -> None:
        """Take ``events`` while commits are failing: keep them up to the bound, then wait or drop."""
        stall = self._stall
        if stall is None:  # recovered in the meantime
            await self.write_many(events)
            return
        room = max(stall.retry.max_pending - len(self._buffer) - self._in_flight_size, 0)
        self._buffer.extend(events[:room])
        if room >= len(events):
            return
        if stall.retry.when_full == "drop":
            for event in events[room:]:
                self._drop(event)
            return
        await self._ride_out(stall)
        await self.write_many(events[room:])

    def _drop(self, event: Event) -> None:
        self.dropped += 1
        key = (event.session, event.stream)
        span = self._dropped.get(key)
        if span is None:
            self._dropped[key] = DroppedSpan(event.session, event.stream, event.ts_event, event.ts_event, event.ts_recv)
            return
        span.count += 1
        span.first_ns = min(span.first_ns, event.ts_event)
        span.last_ns = max(span.last_ns, event.ts_event)
        span.last_recv_ns = max(span.last_recv_ns, event.ts_recv)

    async def _ride_out(self, stall: _Stall) -> None:
        """Wait until the log takes writes again, or raise once the policy gives up."""
        loop = asyncio.get_running_loop()
        remaining = stall.give_up_at - loop.time()
        try:
            await asyncio.wait_for(stall.recovered.wait(), timeout=max(remaining, 0.0))
        except TimeoutError:
            # A retry may be in flight: let it end, so that its events are committed or back in the
            # buffer, and counted, rather than committed after this says they were not.
            await self._wait_in_flight()
            if self._stall is not stall:  # that retry got through
                return
            held = len(self._buffer)
            stall.cancel()
            self._stall = None
            self.failed.extend(self._buffer)
            self._buffer = []
            raise type(stall.error)(
                f"{held} events were not committed (and {self.dropped} dropped) after retrying for "
                f"{stall.retry.give_up_after_s:g} s: {stall.error}"
            ) from stall.error


class _Stall:
    """The state of a writer whose commits are failing: the last error, the next attempt, the deadline."""

    def __init__(self, retry: CommitRetry, error: BaseException) -> None:
        loop = asyncio.get_running_loop()
        self.retry = retry
        self.error = error
        self.attempts = 1
        self.give_up_at = loop.time() + retry.give_up_after_s
        self.recovered = asyncio.Event()
        self._handle: asyncio.TimerHandle | None = None

    def failed_again(self, error: BaseException) -> None:
        self.error = error
        self.attempts += 1

    def schedule(self, action: Callable[[], None]) -> None:
        delay = min(self.retry.first_delay_s * 2 ** (self.attempts - 1), self.retry.max_delay_s)
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(delay, action)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
