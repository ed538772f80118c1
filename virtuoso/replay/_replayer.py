"""The Replayer: recorded sessions published on the bus, the ReplayClock moved to recorded time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import TYPE_CHECKING

from virtuoso.book import latest_checkpoint
from virtuoso.bus import TimeField
from virtuoso.clock import Clock, ReplayClock
from virtuoso.errors import UsageError
from virtuoso.events import Event
from virtuoso.replay._order import Chunks, by_exchange_time, by_position, merge
from virtuoso.replay._pacing import Gate, Pacer
from virtuoso.replay._selection import ReplaySelection, SessionPlan, plan_sessions
from virtuoso.store import EventFilter, EventStore
from virtuoso.timing import StageTimer

if TYPE_CHECKING:
    from virtuoso.app import Runtime

AfterChunk = Callable[[int], Awaitable[object]]
REPLAY_CHUNK = 2_000
"""Events per read by default: smaller than the store's 5,000, measured a few percent faster on the
trades benchmark (a chunk's events are published while still in the CPU's caches). Reading the next
chunk while publishing one gave nothing measurable: the reader thread needs the GIL for every row."""
_BOOK = ":book"


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How a replay runs (none of it changes what it publishes, so none of it is in a run's hash).

    ``speed`` ``None`` is as fast as possible; ``N`` is recorded time x N (needs
    a ``pacer``, made for you by :meth:`Replayer.__init__` when left out).
    """

    chunk_size: int = REPLAY_CHUNK
    speed: float | None = None
    priority: tuple[str, ...] = field(default=())
    """Streams in tie order for exchange-time merges, before the channel defaults."""

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise UsageError(f"chunk_size must be >= 1, not {self.chunk_size}")


class Replayer:
    """The replay-mode :class:`~virtuoso.app.EventSource`: publishes the selected recorded events
    on the bus in order and advances the :class:`~virtuoso.clock.ReplayClock` to each one's time.

    The clock follows ``ts_recv`` in position order (what the live process saw,
    when it saw it) and ``ts_event`` in exchange-time order (the merge key); it
    never goes back, so an event stamped before the current time leaves it where
    it is. Timers fire before the event that passes their time.

    ``seek(ts)`` before :meth:`run` starts the replay at exchange time ``ts``;
    book streams then start from their latest checkpoint at or before ``ts`` (the
    checkpoint event is published first) and publish their events up to ``ts``,
    so a consumer's book is right at ``ts``. ``pause``/``resume`` hold the replay
    at the next event when paced, at the next chunk at full speed.
    """

    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        selection: ReplaySelection | None = None,
        options: ReplayOptions | None = None,
        pacer: Pacer | None = None,
        *,
        timer: StageTimer | None = None,
    ) -> None:
        if not isinstance(clock, ReplayClock):
            raise UsageError("a replay needs the ReplayClock")
        self._store = store
        self._clock: ReplayClock = clock
        self.selection = ReplaySelection()
        self.options = ReplayOptions()
        self._pacer: Pacer | None = None
        self._timer = timer
        """Benchmarks only: reading (and decoding) is charged to ``read``, each publish to ``bus``."""
        self.configure(selection, options, pacer)
        self._gate = Gate()
        self._seek_ns: int | None = None
        self._stopped = False
        self.after_chunk: AfterChunk | None = None
        """Awaited after each chunk with the count of events published so far (runs commit there)."""
        self.events_in = 0
        """Events published so far."""

    def configure(
        self, selection: ReplaySelection | None = None, options: ReplayOptions | None = None, pacer: Pacer | None = None
    ) -> None:
        """Set what the next :meth:`run` replays and how (what is not given stays as it is)."""
        self.selection = selection or self.selection
        self.options = options or self.options
        speed = self.options.speed
        self._pacer = pacer or self._pacer or (Pacer(speed) if speed is not None else None)
        if speed is None and pacer is None:
            self._pacer = None

    # -- control -------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold the replay (see the class docstring for where it stops)."""
        self._gate.pause()

    def resume(self) -> None:
        """Go on after :meth:`pause`."""
        self._gate.resume()

    @property
    def paused(self) -> bool:
        """Whether the replay is paused."""
        return self._gate.paused

    def stop(self) -> None:
        """End the replay after the current chunk (or event, when paced)."""
        self._stopped = True
        self._gate.resume()

    def seek(self, ts_ns: int) -> None:
        """Start the next :meth:`run` at exchange time ``ts_ns`` (see the class docstring)."""
        self._seek_ns = ts_ns

    # -- running -------------------------------------------------------------------------

    async def run(self, runtime: Runtime, session: str) -> None:
        """Publish the selected events (of ``session`` when the selection names none) through ``runtime``."""
        plans = await plan_sessions(self._store, self.selection, session)
        prelude: list[Event] = []
        floors: dict[str, int] = {}
        if self._seek_ns is not None:
            prelude, floors = await self._seek_points(plans, self._seek_ns)
        chunks = self._chunks(plans, floors)
        if self._seek_ns is not None:
            chunks = _skip_before(chunks, self._seek_ns, floors)
        if prelude:
            chunks = _prepend(prelude, chunks)
        if self._timer is not None:
            chunks = self._timer.iterate("read", chunks)
        if self._pacer is None:
            await self._run_fast(runtime, chunks)
        else:
            await self._run_paced(runtime, chunks, self._pacer)

    def _time_of(self) -> Callable[[Event], int]:
        return attrgetter("ts_event" if self.selection.order == "exchange-time" else "ts_recv")

    async def _run_fast(self, runtime: Runtime, chunks: Chunks) -> None:
        # The hot loop of every replay: a chunk is one call of the bus, which moves the clock to each
        # event's time and dispatches it (see EventBus.publish_many); one throttle and one gate check a chunk.
        clock, publish = self._clock, runtime.bus.publish_many
        if self._timer is not None:
            publish = self._timer.wrap("bus", publish)
        time: TimeField = "ts_recv" if self.selection.order == "position" else "ts_event"
        async for chunk in chunks:
            publish(chunk, clock=clock, time=time)
            await self._after(runtime, len(chunk))
            if self._stopped:
                return

    async def _run_paced(self, runtime: Runtime, chunks: Chunks, pacer: Pacer) -> None:
        clock, time_of = self._clock, self._time_of()
        async for chunk in chunks:
            for event in chunk:
                if self._gate.paused:
                    paused_at = pacer.now_ns()
                    await self._gate.wait()
                    pacer.shift(pacer.now_ns() - paused_at)
                if self._stopped:
                    return
                ts = time_of(event)
                await pacer.wait(ts)
                if ts > clock.now_ns():
                    clock.advance_to(ts)
                await runtime.publish(event)
            await self._after(runtime, len(chunk))

    async def _after(self, runtime: Runtime, published: int) -> None:
        self.events_in += published
        await runtime.throttle()
        if self.after_chunk is not None:
            await self.after_chunk(self.events_in)
        if self._gate.paused:
            await self._gate.wait()

    # -- reading -------------------------------------------------------------------------

    def _chunks(self, plans: list[SessionPlan], floors: dict[str, int]) -> Chunks:
        size, store, selection = self.options.chunk_size, self._store, self.selection
        if selection.order == "position":
            after = min(floors.values(), default=None)
            inputs = [store.read_chunks(_from(p.filter(selection), after), size) for p in plans]
            return inputs[0] if len(inputs) == 1 else merge(inputs, by_position, size)
        inputs = [
            store.read_chunks(_from(p.filter(selection, streams=(s,)), floors.get(s)), size)
            for p in plans
            for s in p.streams
        ]
        return merge(inputs, by_exchange_time(self.options.priority), size)

    async def _seek_points(self, plans: list[SessionPlan], ts_ns: int) -> tuple[list[Event], dict[str, int]]:
        """Checkpoints to publish first, and per stream the position to read after."""
        prelude: list[Event] = []
        floors: dict[str, int] = {}
        for plan in plans:
            for stream in plan.streams:
                if not stream.endswith(_BOOK):
                    continue
                checkpoint = await latest_checkpoint(self._store, plan.session.id, stream, ts_ns)
                first = plan.session.streams[stream].first_position - 1
                floors[stream] = first if checkpoint is None else checkpoint.causation or first
                if checkpoint is not None:
                    prelude.append(checkpoint)
        return prelude, floors


def _from(flt: EventFilter, after: int | None) -> EventFilter:
    return flt if after is None else replace(flt, after_position=max(flt.after_position, after))


async def _skip_before(chunks: Chunks, ts_ns: int, floors: dict[str, int]) -> Chunks:
    """Drop events before ``ts_ns``, except those of book streams (a book needs them to reach ``ts_ns``)."""
    async for chunk in chunks:
        kept = [
            e for e in chunk if e.position > floors.get(e.stream, 0) and (e.ts_event >= ts_ns or e.stream in floors)
        ]
        if kept:
            yield kept


async def _prepend(first: list[Event], chunks: Chunks) -> Chunks:
    yield first
    async for chunk in chunks:
        yield chunk
