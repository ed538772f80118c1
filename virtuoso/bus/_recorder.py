"""StoreRecorder: a bus subscription that appends what is published to the event log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from virtuoso.bus._bus import EventBus
from virtuoso.bus._patterns import Subscription
from virtuoso.events import Event
from virtuoso.store import AppendResult, BufferedWriter, EventFilter, EventStore

LAST = 2**62
"""The recorder's dispatch priority: after every ordinary handler."""


class StoreRecorder:
    """Appends every event published on ``topics`` through a store's buffered writer.

    The bus is synchronous and the writer asynchronous, so the recorder keeps
    what it receives in a backlog that a background task moves to the writer:
    at once when someone follows the commits, else when a quarter of
    ``max_backlog`` waits or ``max_delay_s`` after the first event, whichever
    comes first. So an event received is handed to the writer within
    ``max_delay_s`` whatever the rate, and committed within the writer's own
    delay after that: a killed process loses at most that window.
    Producers keep memory bounded by awaiting :meth:`throttle` between
    publishes (the live recorder and the replayer do); :meth:`close`
    unsubscribes, moves the rest and closes the writer. A writer error is raised
    by the next :meth:`throttle`, :meth:`flush` or :meth:`close`.

    >>> # recorder = StoreRecorder(bus, store.writer(), topics=("market.*", "system.*"))
    >>> # ...  bus.publish(event); await recorder.throttle()
    >>> # await recorder.close()
    """

    def __init__(
        self,
        bus: EventBus,
        writer: BufferedWriter,
        *,
        topics: Sequence[str] = ("*",),
        max_backlog: int = 20_000,
        max_delay_s: float = 0.1,
    ) -> None:
        self._bus = bus
        self._writer = writer
        self._backlog: list[Event] = []
        self._max_backlog = max_backlog
        self._max_delay_s = max_delay_s
        self._timer: asyncio.TimerHandle | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self._eager = False  # hand each event to the writer at once (someone waits for its commit)
        # Last in dispatch order, so it records an event after every handler it caused has queued its own.
        self._subscription: Subscription = bus.subscribe(
            tuple(topics), self._receive, priority=LAST, name=f"StoreRecorder{tuple(topics)}"
        )

    def records(self, event: Event) -> bool:
        """Whether this recorder appends ``event`` (its topic is one the recorder subscribed to)."""
        return self._subscription.matches(type(event.payload))

    def follow_commits(self, store: EventStore, listener: Callable[[list[Event]], object]) -> None:
        """Call ``listener`` with every batch this recorder commits, as ``store`` holds it (positions and
        versions set), in commit order; duplicates the store skipped are not in it."""

        async def committed(result: AppendResult) -> None:
            flt = EventFilter(after_position=result.first_position - 1, until_position=result.last_position)
            async for chunk in store.read_chunks(flt):
                listener(chunk)

        self._writer.on_commit = committed
        self._eager = True

    @property
    def backlog(self) -> int:
        """Events received and not yet handed to the writer."""
        return len(self._backlog)

    @property
    def writer(self) -> BufferedWriter:
        """The writer this recorder appends through (its ``written``, ``pending``, ``stalled`` and ``dropped``)."""
        return self._writer

    def _receive(self, event: Event) -> None:
        self._backlog.append(event)
        if self._pump is not None:
            return
        if self._eager or len(self._backlog) >= self._max_backlog // 4:
            self._start_pump()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._pump is None and self._backlog and not self._closed:
            self._start_pump()

    def _start_pump(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pump = asyncio.get_running_loop().create_task(self._move())

    async def _move(self) -> None:
        while self._backlog:
            batch, self._backlog = self._backlog, []
            await self._writer.write_many(batch)
        # Done without an error: make room for the next pump (a failed one stays, for throttle() to raise).
        if self._pump is asyncio.current_task():
            self._pump = None

    async def throttle(self) -> None:
        """Wait while the backlog is over its limit (the producer's backpressure)."""
        if len(self._backlog) >= self._max_backlog:
            await self._drain_backlog()
        elif self._pump is not None and self._pump.done():
            await self._settle()
            if self._eager and self._backlog:  # received after the pump's last look: move it now
                self._pump = asyncio.get_running_loop().create_task(self._move())

    async def flush(self) -> None:
        """Hand everything received to the writer and wait until it is committed."""
        await self._drain_backlog()
        await self._writer.flush()

    async def close(self) -> None:
        """Unsubscribe, commit the rest and close the writer (closing twice is harmless)."""
        if self._closed:
            return
        self._closed = True
        self._bus.unsubscribe(self._subscription)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            await self.flush()
        finally:
            await self._writer.close()

    async def _drain_backlog(self) -> None:
        await self._settle()
        if self._backlog:
            self._start_pump()
            await self._settle()

    async def _settle(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            await pump
