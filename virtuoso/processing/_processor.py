"""The OptimizedProcessor: priority lanes, per-key order, batches, backpressure, deterministic output."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from time import perf_counter_ns
from types import TracebackType
from typing import Any, cast

from virtuoso.bus import describe_error
from virtuoso.clock import Clock, LiveClock, TimerHandle
from virtuoso.errors import ProcessorClosedError, ProcessorError, UsageError
from virtuoso.events import Event
from virtuoso.processing._handlers import AbsorbFn, BatchHandler, PerEvent, add_derived, handler_name
from virtuoso.processing._lanes import DEFAULT_LANES, Lane, LaneRouter, ordered_lanes
from virtuoso.processing._reorder import ReorderBuffer, WithFailures
from virtuoso.processing._reports import DeadLetter, LatencyWindow, ProcessorSnapshot, StatsEvents

KeyFn = Callable[[Event], Hashable]
OutputFn = Callable[[Sequence[Event]], object]
FailureFn = Callable[[DeadLetter], object]
StatsFn = Callable[[Event], object]

_NEW, _RUNNING, _CLOSING, _CLOSED = "new", "running", "closing", "closed"
_OWNER_CACHE_LIMIT = 65_536
"""Keys whose worker is remembered; past this the cache restarts (the assignment is a pure function)."""


def by_stream(event: Event) -> str:
    """The default key: the event's stream (one market's trades, one book, ...)."""
    return event.stream


def _key_bytes(key: Hashable) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8", "surrogatepass")
    if isinstance(key, bytes):
        return key
    return repr(key).encode("utf-8", "surrogatepass")


class _Worker:
    """One worker's share: a queue per lane (lists, swapped or sliced whole) and its wake-up future."""

    __slots__ = ("index", "queues", "task", "waiter")

    def __init__(self, index: int, lanes: int) -> None:
        self.index = index
        self.queues: list[list[Any]] = [[] for _ in range(lanes)]
        self.waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class OptimizedProcessor:
    """Runs an async handler over submitted events on several workers, in priority lanes.

    - **Lanes**: each event waits in the first lane whose topic patterns match
      its topic (:data:`DEFAULT_LANES`: ``system.*``, then ``market.*``, then
      everything else); a worker always serves its most urgent non-empty lane.
    - **Per-key order**: ``key(event)`` (default: the stream) picks the event's
      worker, ``crc32(key) % workers``, so one key's events of one lane are
      handled one after the other, in submission order.
    - **Batches**: a worker hands the handler up to ``batch_size`` events of one
      lane at a time. ``handler`` is ``async (batch) -> derived events | None``,
      or a :func:`~virtuoso.processing.per_event` adapter around a per-event callable.
    - **Backpressure**: at most ``capacity`` events wait in a lane; :meth:`submit`
      waits for room. Nothing is dropped.
    - **Failures**: a handler call that raises puts its events in
      :attr:`dead_letters` (and calls ``on_failure``); the processor goes on.
    - **Deterministic mode**: the handler is called once per event and the
      derived events (and dead letters) come out in input order, whatever the
      number of workers and however long each call takes.
    - **Shutdown**: ``async with`` starts the workers and, on exit, handles
      everything submitted before stopping (:meth:`close`); cancellation stops at once.

    Derived events go to ``on_output`` (a list per batch); periodic
    ``ProcessorStats`` events, timed by ``clock``, go to ``on_stats`` when
    ``stats_interval_ns`` is set. See ``docs/processing.md``.
    """

    def __init__(
        self,
        handler: BatchHandler | PerEvent,
        *,
        lanes: Sequence[Lane] = DEFAULT_LANES,
        workers: int = 4,
        capacity: int = 10_000,
        deterministic: bool = False,
        key: KeyFn = by_stream,
        batch_size: int = 256,
        on_output: OutputFn | None = None,
        on_failure: FailureFn | None = None,
        clock: Clock | None = None,
        stats_interval_ns: int | None = None,
        on_stats: StatsFn | None = None,
        name: str = "processor",
        session: str = "",
    ) -> None:
        _check_sizes(workers=workers, capacity=capacity, batch_size=batch_size)
        if stats_interval_ns is not None and (stats_interval_ns <= 0 or on_stats is None):
            raise UsageError("stats_interval_ns must be positive and needs on_stats to receive the events")
        self.name = name
        self.handler_name = handler_name(handler)
        self.lanes = ordered_lanes(lanes)
        self.deterministic = deterministic
        self._handler = handler
        self._router = LaneRouter(self.lanes)
        self._lane_of = self._router.table
        self._key = key
        self._key_is_stream = key is by_stream
        self._owners: dict[Hashable, _Worker] = {}
        self._workers = [_Worker(i, len(self.lanes)) for i in range(workers)]
        self._capacity = capacity
        # Waiting submitters resume once a full lane is down to three quarters: they then refill in
        # bursts, and workers get full batches instead of the trickle a wake-up per batch taken gives.
        self._low_water = capacity - max(1, capacity // 4)
        self._batch_size = batch_size
        self._on_output = on_output
        self._on_failure = on_failure
        self._clock = clock
        self._stats_interval_ns = stats_interval_ns
        self._on_stats = on_stats
        self._stats_events = StatsEvents(name, session)
        self._timer: TimerHandle | None = None
        self._handle = self._choose_handling()
        self._reorder = ReorderBuffer(self._emit, self._record_failure)
        self._state = _NEW
        self._accepting = False
        self._stopping = False
        self._fatal: BaseException | None = None
        self._depth = [0] * len(self.lanes)
        self._room_waiters: list[list[asyncio.Future[None]]] = [[] for _ in self.lanes]
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._seq = 0
        self._blocked = 0
        self._in_flight = 0
        self._handled = 0
        self._abandoned = 0
        self._out = 0
        self._dead: list[DeadLetter] = []
        self._latency = LatencyWindow()
        self._started_ns = 0
        self._stopped_ns = 0

    # -- lifecycle ------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``new``, ``running``, ``closing`` (draining after :meth:`close`) or ``closed``."""
        return self._state

    async def __aenter__(self) -> OptimizedProcessor:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None or issubclass(exc_type, Exception):
            await self.close()
        else:
            await self.abort()

    def start(self) -> None:
        """Start the workers (and the stats timer) on the running event loop."""
        if self._state != _NEW:
            raise UsageError(f"processor {self.name!r} was already started")
        loop = asyncio.get_running_loop()
        self._state = _RUNNING
        self._accepting = True
        self._started_ns = perf_counter_ns()
        for worker in self._workers:
            worker.task = loop.create_task(self._work(worker), name=f"{self.name}-worker-{worker.index}")
        if self._stats_interval_ns is not None:
            if self._clock is None:
                self._clock = LiveClock()
            self._timer = self._clock.call_later(self._stats_interval_ns, self._tick)

    async def drain(self) -> None:
        """Wait until every event submitted so far is handled (and, in deterministic mode, released)."""
        self._refuse_from_worker("drain")
        while not self._idle() and self._fatal is None and self._state != _CLOSED:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter
        self._raise_if_failed()

    async def close(self) -> None:
        """Refuse new events, handle every event already submitted, then stop the workers.

        Submitters waiting for room when ``close`` begins still get their events in.
        Raises :class:`ProcessorError` if a callback (``on_output``,
        ``on_failure``) raised and stopped the processor.
        """
        if self._state == _NEW:
            self._state = _CLOSED
            return
        if self._state == _CLOSED:
            self._raise_if_failed()
            return
        self._refuse_from_worker("close")
        self._state = _CLOSING
        self._accepting = False
        try:
            await self.drain()
        except BaseException:  # a failed processor, or close() itself cancelled: stop without draining
            await self._halt(cancel=True)
            raise
        await self._halt(cancel=False)

    async def abort(self) -> None:
        """Stop now: refuse new events and cancel the workers; events still queued are not handled.

        ``snapshot().depths`` tells how many were left.
        """
        if self._state == _NEW:
            self._state = _CLOSED
            return
        self._accepting = False
        await self._halt(cancel=True)

    async def _halt(self, *, cancel: bool) -> None:
        self._state = _CLOSED
        self._stopped_ns = self._stopped_ns or perf_counter_ns()
        self._accepting = False
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_everyone()
        tasks = [worker.task for worker in self._workers if worker.task is not None]
        if cancel:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- submitting ------------------------------------------------------------------

    async def submit(self, event: Event) -> None:
        """Queue ``event`` in its lane for its key's worker; waits while that lane is full."""
        if not self._accepting:
            raise self._refusal()
        lane = self._lane_of.get(event.payload.__class__)
        if lane is None:
            lane = self._router.learn(event.payload.__class__)
        worker = self._owners.get(event.stream if self._key_is_stream else self._key(event))
        if worker is None:
            worker = self._owner(event)
        if self._depth[lane] >= self._capacity:
            await self._wait_for_room(lane)
        if self.deterministic:
            worker.queues[lane].append((self._seq, [event]))
            self._seq += 1
        else:
            worker.queues[lane].append(event)
        self._depth[lane] += 1
        if worker.waiter is not None:
            _wake(worker.waiter)
            worker.waiter = None

    async def submit_many(self, events: Iterable[Event]) -> None:
        """Submit each of ``events`` in order, as :meth:`submit` does, with far less overhead per event:
        consecutive events of one lane and one key are queued as one run (see :meth:`try_submit_many`)."""
        if not isinstance(events, Sequence):
            events = list(events)
        start = 0
        while start < len(events):
            if not self._accepting:
                raise self._refusal()
            start = self._enqueue(events, start)
            if start < len(events):
                await self._wait_for_room(self._lane_for(events[start]))

    def try_submit_many(self, events: Sequence[Event]) -> int:
        """Queue the longest prefix of ``events`` that fits in its lanes; how many were queued.

        Consecutive events of one lane and one key (a replay chunk of one market's
        trades) go into the queue as one run (up to ``batch_size`` events): one
        queue entry, and in deterministic mode one input number and one result,
        rather than one an event. For synchronous callers (the runtime's feed).
        """
        if not self._accepting:
            raise self._refusal()
        return self._enqueue(events, 0)

    def _lane_for(self, event: Event) -> int:
        lane = self._lane_of.get(event.payload.__class__)
        return self._router.learn(event.payload.__class__) if lane is None else lane

    def _enqueue(self, events: Sequence[Event], start: int) -> int:
        """Queue runs of ``events`` from ``start`` while their lane has room; the index of the first left out."""
        depth, capacity, size, end = self._depth, self._capacity, self._batch_size, len(events)
        key, owners, index = self._key, self._owners, start
        while index < end:
            event = events[index]
            cls = event.payload.__class__
            lane = self._lane_for(event)
            room = capacity - depth[lane]
            if room <= 0:
                return index
            owner_key = event.stream if self._key_is_stream else key(event)
            worker = owners.get(owner_key) or self._owner(event)
            stop = self._run_end(events, index, min(end, index + size, index + room), cls, owner_key)
            run = events[index:stop]
            if self.deterministic:
                worker.queues[lane].append((self._seq, run))
                self._seq += 1
            else:
                worker.queues[lane].extend(run)
            depth[lane] += stop - index
            index = stop
            if worker.waiter is not None:
                _wake(worker.waiter)
                worker.waiter = None
        return index

    def _run_end(self, events: Sequence[Event], index: int, limit: int, cls: type, owner_key: Hashable) -> int:
        """Where the run from ``index`` ends (before ``limit``): the first event of another class or key."""
        stop = index + 1
        if self._key_is_stream:
            while stop < limit:
                event = events[stop]
                if event.payload.__class__ is not cls or event.stream != owner_key:
                    break
                stop += 1
        else:
            key = self._key
            while stop < limit:
                event = events[stop]
                if event.payload.__class__ is not cls or key(event) != owner_key:
                    break
                stop += 1
        return stop

    def try_submit(self, event: Event) -> bool:
        """Queue ``event`` if its lane has room and return True; return False (queueing nothing) if it is full.

        For synchronous callers such as bus handlers, which cannot wait.
        """
        if not self._accepting:
            raise self._refusal()
        lane = self._lane_of.get(event.payload.__class__)
        if lane is None:
            lane = self._router.learn(event.payload.__class__)
        if self._depth[lane] >= self._capacity:
            return False
        worker = self._owners.get(self._key(event)) or self._owner(event)
        if self.deterministic:
            worker.queues[lane].append((self._seq, [event]))
            self._seq += 1
        else:
            worker.queues[lane].append(event)
        self._depth[lane] += 1
        if worker.waiter is not None:
            _wake(worker.waiter)
            worker.waiter = None
        return True

    def _owner(self, event: Event) -> _Worker:
        key = self._key(event)
        owners = self._owners
        if len(owners) >= _OWNER_CACHE_LIMIT:
            owners.clear()
        worker = self._workers[zlib.crc32(_key_bytes(key)) % len(self._workers)]
        owners[key] = worker
        return worker

    async def _wait_for_room(self, lane: int) -> None:
        loop = asyncio.get_running_loop()
        self._blocked += 1
        try:
            while self._depth[lane] >= self._capacity:
                if self._state == _CLOSED or self._fatal is not None:
                    raise self._refusal()
                waiter = loop.create_future()
                self._room_waiters[lane].append(waiter)
                await waiter
            if self._state == _CLOSED or self._fatal is not None:
                raise self._refusal()
        finally:
            self._blocked -= 1
            self._notify_if_idle()

    def _refusal(self) -> ProcessorError:
        if self._fatal is not None:
            error = ProcessorError(f"processor {self.name!r} stopped: {self._fatal!r}")
            error.__cause__ = self._fatal
            return error
        if self._state == _NEW:
            return ProcessorClosedError(f"processor {self.name!r} is not started: use `async with` or start()")
        return ProcessorClosedError(f"processor {self.name!r} is {self._state}: it accepts no more events")

    # -- workers ---------------------------------------------------------------------

    async def _work(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                taken = self._take(worker)
                if taken is None:
                    worker.waiter = loop.create_future()
                    await worker.waiter
                    continue
                batch, count = taken
                try:
                    await self._handle(batch)
                except BaseException:
                    self._in_flight -= count
                    self._abandoned += count
                    raise
                self._in_flight -= count
                self._handled += count
                self._notify_if_idle()
                await asyncio.sleep(0)  # one batch at a time: let producers and other tasks in
        except asyncio.CancelledError:
            if not self._stopping:  # cancelled from outside, or a handler raised it: this worker's keys are stuck
                self._crash(ProcessorError(f"worker {worker.index} of processor {self.name!r} was cancelled"))
            raise
        except Exception as exc:
            self._crash(exc)
        finally:
            worker.waiter = None

    def _take(self, worker: _Worker) -> tuple[list[Any], int] | None:
        """The next batch of ``worker`` (its most urgent lane first) and the number of events in it."""
        queues = worker.queues
        for lane, queue in enumerate(queues):
            if not queue:
                continue
            items = self._batch_items(queue)
            if items == len(queue):
                queues[lane] = []
                batch = queue
            else:
                batch = queue[:items]
                del queue[:items]
            count = sum(len(run) for _, run in batch) if self.deterministic else len(batch)
            self._depth[lane] -= count
            self._in_flight += count
            waiters = self._room_waiters[lane]
            if waiters and self._depth[lane] <= self._low_water:
                self._room_waiters[lane] = []
                for waiter in waiters:
                    _wake(waiter)
            return batch, count
        return None

    def _batch_items(self, queue: list[Any]) -> int:
        """How many queue entries make the next batch: ``batch_size`` events (whole runs, at least one)."""
        if not self.deterministic:
            return min(len(queue), self._batch_size)
        items = events = 0
        while items < len(queue) and events < self._batch_size:
            events += len(queue[items][1])
            items += 1
        return items

    def _choose_handling(self) -> Callable[[list[Any]], Awaitable[None]]:
        handler = self._handler
        if not isinstance(handler, PerEvent):
            return self._handle_in_order_batches if self.deterministic else self._handle_batch
        if self.deterministic:
            return self._handle_in_order_async if handler.is_async else self._handle_in_order_sync
        return self._handle_each_async if handler.is_async else self._handle_each_sync

    async def _handle_batch(self, batch: list[Event]) -> None:
        start = perf_counter_ns()
        try:
            derived = await self._handler(batch)
        except Exception as exc:
            for event in batch:
                self._record_failure(DeadLetter(event, self.handler_name, describe_error(exc)))
            derived = None
        self._latency.add((perf_counter_ns() - start) // len(batch))
        if derived:
            self._emit(derived)

    async def _handle_each_sync(self, batch: list[Event]) -> None:
        fn = self._per_event_fn()
        derived: list[Event] = []
        start = perf_counter_ns()
        for event in batch:
            try:
                result = fn(event)
            except Exception as exc:
                self._record_failure(DeadLetter(event, self.handler_name, describe_error(exc)))
                continue
            if result is not None:
                add_derived(derived, result)
        self._latency.add((perf_counter_ns() - start) // len(batch))
        if derived:
            self._emit(derived)

    async def _handle_each_async(self, batch: list[Event]) -> None:
        fn = self._per_event_fn()
        derived: list[Event] = []
        start = perf_counter_ns()
        for event in batch:
            try:
                result = await fn(event)
            except Exception as exc:
                self._record_failure(DeadLetter(event, self.handler_name, describe_error(exc)))
                continue
            if result is not None:
                add_derived(derived, result)
        self._latency.add((perf_counter_ns() - start) // len(batch))
        if derived:
            self._emit(derived)

    # Deterministic mode: a batch is a list of (input number, run of events); each run gets one result,
    # the list of its events' derived events, with the dead letters of failed events in their place.

    async def _handle_in_order_sync(self, batch: list[tuple[int, list[Event]]]) -> None:
        fn = self._per_event_fn()
        absorb = cast(PerEvent, self._handler).absorb
        parked = self._reorder.parked
        start = perf_counter_ns()
        events = 0
        for seq, run in batch:
            results: list[Any] = []
            for event in run if absorb is None else _unabsorbed(run, absorb):
                try:
                    result = fn(event)
                except Exception as exc:
                    results = self._dead_in(results, event, exc)
                    continue
                if result:
                    if result.__class__ is Event:
                        results.append(result)
                    else:
                        results += result
            parked[seq] = results
            events += len(run)
        self._latency.add((perf_counter_ns() - start) // events)
        self._reorder.release()

    async def _handle_in_order_async(self, batch: list[tuple[int, list[Event]]]) -> None:
        fn = self._per_event_fn()
        parked = self._reorder.parked
        for seq, run in batch:
            results: list[Any] = []
            for event in run:
                start = perf_counter_ns()
                try:
                    add_derived(results, await fn(event))
                except Exception as exc:
                    results = self._dead_in(results, event, exc)
                self._latency.add(perf_counter_ns() - start)
            parked[seq] = results
        self._reorder.release()

    async def _handle_in_order_batches(self, batch: list[tuple[int, list[Event]]]) -> None:
        handler = self._handler
        parked = self._reorder.parked
        for seq, run in batch:
            results: list[Any] = []
            for event in run:
                start = perf_counter_ns()
                try:
                    add_derived(results, await handler((event,)))
                except Exception as exc:
                    results = self._dead_in(results, event, exc)
                self._latency.add(perf_counter_ns() - start)
            parked[seq] = results
        self._reorder.release()

    def _dead_in(self, results: list[Any], event: Event, exc: Exception) -> WithFailures:
        """``results`` with the dead letter of ``event`` after them (marked: the reorder buffer looks inside)."""
        marked = results if isinstance(results, WithFailures) else WithFailures(results)
        marked.append(DeadLetter(event, self.handler_name, describe_error(exc)))
        return marked

    def _per_event_fn(self) -> Callable[[Event], Any]:
        handler = self._handler
        assert isinstance(handler, PerEvent)
        return handler.fn

    def _emit(self, derived: Sequence[Event]) -> None:
        self._out += len(derived)
        if self._on_output is not None:
            self._on_output(derived)

    def _record_failure(self, letter: DeadLetter) -> None:
        self._dead.append(letter)
        if self._on_failure is not None:
            self._on_failure(letter)

    def _crash(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._accepting = False
        self._stopping = True
        self._wake_everyone()

    def _wake_everyone(self) -> None:
        for worker in self._workers:
            _wake(worker.waiter)
        for lane, waiters in enumerate(self._room_waiters):
            self._room_waiters[lane] = []
            for waiter in waiters:
                _wake(waiter)
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            _wake(waiter)

    # -- idleness ----------------------------------------------------------------------

    def _idle(self) -> bool:
        return self._in_flight == 0 and self._blocked == 0 and not any(self._depth)

    def _notify_if_idle(self) -> None:
        if self._idle_waiters and self._idle():
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                _wake(waiter)

    def _refuse_from_worker(self, what: str) -> None:
        current = asyncio.current_task()
        if current is not None and any(worker.task is current for worker in self._workers):
            raise UsageError(f"a handler cannot {what} its own processor: it would wait for itself")

    def _raise_if_failed(self) -> None:
        if self._fatal is not None:
            raise self._refusal()

    # -- metrics -----------------------------------------------------------------------

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """The events whose handler call failed, in the order recorded (input order in deterministic mode)."""
        return list(self._dead)

    def snapshot(self) -> ProcessorSnapshot:
        """The processor's counters and measurements now."""
        queued = sum(self._depth)
        elapsed_ns = (self._stopped_ns or perf_counter_ns()) - self._started_ns if self._started_ns else 0
        p50, p90, p99 = self._latency.percentiles((50, 90, 99))
        return ProcessorSnapshot(
            depths={lane.name: depth for lane, depth in zip(self.lanes, self._depth, strict=True)},
            events_in=self._handled + self._in_flight + queued + self._abandoned,
            events_handled=self._handled,
            events_abandoned=self._abandoned,
            events_out=self._out,
            dead_letters=len(self._dead),
            in_flight=self._in_flight,
            blocked_submitters=self._blocked,
            events_per_s=self._handled * 1e9 / elapsed_ns if elapsed_ns > 0 else 0.0,
            latency_p50_ns=p50,
            latency_p90_ns=p90,
            latency_p99_ns=p99,
        )

    def _tick(self) -> None:
        if self._state not in (_RUNNING, _CLOSING) or self._clock is None or self._on_stats is None:
            return
        assert self._stats_interval_ns is not None
        now = self._clock.now_ns()
        self._on_stats(self._stats_events.event(self.snapshot().as_payload(self.name), now))
        self._timer = self._clock.call_later(self._stats_interval_ns, self._tick)


def _unabsorbed(run: list[Event], absorb: AbsorbFn) -> Iterator[Event]:
    """The events of ``run`` that ``absorb`` leaves to the per-event call, each once the call before it returned."""
    index, end = 0, len(run)
    while index < end:
        index = absorb(run, index, end)
        if index < end:
            yield run[index]
            index += 1


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")
