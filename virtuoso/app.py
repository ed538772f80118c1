"""The application, wired in one place: :func:`build_container`.

Live and replay register the same bus, store, processor, recorder and handlers;
they differ in two registrations only, the :class:`EventSource` and the
:class:`~virtuoso.clock.Clock`. Nothing else in the library constructs these by
hand, and nothing a handler receives tells it which mode it runs in.

A run is one scope: ``async with container.scope() as scope`` then
``await (await scope.aresolve(Runtime)).run()``. The scope owns the processor,
the recorder and the source, and disposes them when it ends; the container owns
the store, the bus and the clock.

>>> import asyncio
>>> from virtuoso.events import Event, Note, Trade
>>> async def main() -> None:
...     # a recorded session to replay, in an in-memory log
...     container = build_container("replay", AppConfig(workers=2), handlers=[count_trades])
...     store = await container.aresolve(EventStore)
...     session = await store.begin_session("example", "doc", started_ns=0)
...     await store.append([Event(f"t{i}", "binance:BTC/USDT:trades", i, i, session.id,
...                               Trade(100.0, 1.0, "buy", str(i))) for i in range(1, 4)])
...     async with container.scope() as scope:
...         runtime = await scope.aresolve(Runtime)
...         derived = await runtime.run(session.id)
...     print([e.payload.message for e in derived])
...     await container.aclose()
>>> def count_trades(event: Event) -> list[Event]:
...     return [Event(f"n{event.id}", "analysis:notes", event.ts_event, event.ts_event, event.session,
...                   Note(f"trade {event.payload.trade_id}"), causation=event.position)]
>>> asyncio.run(main())
['trade 1', 'trade 2', 'trade 3']
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from msgspec.structs import replace as replace_struct

from virtuoso.analysis import Analyzer, AnalyzerConfig, AnalyzerPipeline
from virtuoso.bus import EventBus, FailurePolicy, StoreRecorder, failure_event
from virtuoso.clock import Clock, LiveClock, ReplayClock
from virtuoso.container import Lifetime, Named, ServiceContainer
from virtuoso.errors import UsageError
from virtuoso.events import Event
from virtuoso.processing import DeadLetter, OptimizedProcessor, per_event
from virtuoso.replay._replayer import Replayer
from virtuoso.store import CommitRetry, EventStore, MemoryEventStore, open_sqlite_store
from virtuoso.timing import StageTimer

Mode = Literal["live", "replay"]
EventHandler = Callable[[Event], Sequence[Event] | None]
"""What the processor runs on each event: returns derived events (or ``None``)."""
AnalyzerRecipe = tuple[type[Any], AnalyzerConfig]
"""An analyzer class and its config, as :func:`virtuoso.analysis.resolve` gives them."""


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything :func:`build_container` needs to know; frozen, so a run's configuration cannot drift.

    ``deterministic`` defaults to on in replay and off live; ``record_topics`` to
    every topic live and none in replay (a replay's input is already in the log).
    """

    db: Path | None = None
    """The SQLite event log; ``None`` keeps the log in memory."""
    workers: int = 4
    capacity: int = 10_000
    batch_size: int = 256
    deterministic: bool | None = None
    process_topics: tuple[str, ...] = ("market.*",)
    """Topics the processor's handlers receive."""
    record_topics: tuple[str, ...] | None = None
    max_handler_failures: int | None = None
    replay_start_ns: int = 0
    keep_derived: bool = True
    """Keep every derived event for :meth:`Runtime.run` to return; a replay run that streams
    them into the log through :attr:`DerivedSink.listeners` turns this off to keep memory flat."""
    commit_delay_s: float = 0.1
    """At most this long between receiving an event to record and handing it to the writer, which commits
    within its own 0.05 s after that: the window a killed process can lose."""
    commit_retry: CommitRetry | None = None
    """How the recorder's writer rides out a log that refuses writes; live mode defaults to
    :class:`~virtuoso.store.CommitRetry` (hold in memory, then drop and declare gaps), replay to none (raise)."""
    readonly: bool = False
    """Open the SQLite log read-only (no writer connection, no crash recovery): for runs that write
    nothing (``write=False``), such as the tasks of a parameter sweep reading one file from many processes."""


class EventSource(Protocol):
    """Where a run's events come from: publishes them on ``runtime`` until it is exhausted or stopped."""

    async def run(self, runtime: Runtime, session: str) -> None:
        """Publish the events of ``session`` through ``runtime.publish``."""
        ...


class ProcessorFeed:
    """The bus subscription that hands events on ``topics`` to the processor, with backpressure.

    The bus is synchronous: an event that finds its lane full waits here until
    the producer awaits :meth:`throttle`, which submits it (waiting for room).

    Derived events (those with a ``causation``) are never input: the bars an
    analyzer derives, or the book checkpoints in a log, are not fed back.

    Commit, then process: an event published without a log position (a live
    one) that ``recorder`` appends reaches the processor only once it is
    committed, as the log holds it, so handlers see the same positions and
    versions live as in a replay, and their derived events point at real
    positions (``causation``). Live processing then lags by the writer's flush
    delay (50 ms at most by default).
    """

    def __init__(
        self,
        bus: EventBus,
        processor: OptimizedProcessor,
        topics: tuple[str, ...],
        recorder: StoreRecorder | None = None,
    ) -> None:
        self._processor = processor
        self._waiting: list[Event] = []
        self._subscription = bus.subscribe(topics, self._receive, name="ProcessorFeed", batch=True) if topics else None
        self._bus = bus
        self._recorder = recorder
        self._closed = False

    def _receive(self, events: list[Event]) -> None:
        # A batch subscriber: a replay's chunk arrives in one call and goes to the processor in runs.
        recorder = self._recorder
        inputs = [
            event
            for event in events
            # derived (by this run, or by the one that recorded it): never input; a live event the recorder
            # appends comes back through committed(), with its position
            if event.causation is None and (event.position or recorder is None or not recorder.records(event))
        ]
        if self._waiting:
            self._waiting += inputs
            return
        taken = self._processor.try_submit_many(inputs)
        if taken < len(inputs):
            self._waiting += inputs[taken:]

    def committed(self, events: list[Event]) -> None:
        """Take the events of a committed batch that this feed subscribed to."""
        if self._closed or self._subscription is None:
            return
        matches = self._subscription.matches
        for event in events:
            if event.causation is None and matches(type(event.payload)):
                self._submit(event)

    def _submit(self, event: Event) -> None:
        if self._waiting or not self._processor.try_submit(event):
            self._waiting.append(event)

    async def throttle(self) -> None:
        """Submit what waits, waiting for room in the processor's lanes."""
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            await self._processor.submit_many(waiting)

    def close(self) -> None:
        """Stop feeding the processor."""
        self._closed = True
        if self._subscription is not None:
            self._bus.unsubscribe(self._subscription)


class DerivedSink:
    """Where the processor's output goes: kept for the caller, and published on the bus (the recorder may take it).

    A processor handler that raised comes here too, as a ``HandlerFailed`` event,
    like a failing bus handler.
    """

    def __init__(self, bus: EventBus, config: AppConfig) -> None:
        self._bus = bus
        self._keep = config.keep_derived
        self.events: list[Event] = []
        self.listeners: list[Callable[[Sequence[Event]], object]] = []
        """Called with each batch of derived events (``HandlerFailed`` included), in output order."""

    def __call__(self, events: Sequence[Event]) -> None:
        """Keep and publish one batch of derived events."""
        if self._keep:
            self.events.extend(events)
        for listener in self.listeners:
            listener(events)
        self._bus.publish_many(events)

    def failed(self, letter: DeadLetter) -> None:
        """Publish the ``HandlerFailed`` event of a dead letter.

        Stamped with the failed event's receive time, not the clock's: when a
        worker gets to an event depends on scheduling, and a replay must give the
        same failure event every time.
        """
        failure = failure_event(letter.handler, letter.event, letter.error, letter.event.ts_recv)
        for listener in self.listeners:
            listener((failure,))
        self._bus.publish(failure)


class Runtime:
    """One run: a source published on the bus, the processor fed from it, derived events published back.

    ``run`` returns the derived events in the order the processor emitted them
    (input order in deterministic mode).
    """

    def __init__(
        self,
        *,
        config: AppConfig,
        bus: EventBus,
        processor: OptimizedProcessor,
        source: EventSource,
        sink: DerivedSink,
        chain: HandlerChain,
        store: EventStore,
        recorder: StoreRecorder | None = None,
        pipeline: AnalyzerPipeline | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        self.bus = bus
        self.timer = timer
        """The benchmark's stage timer, when the container was built with one (``virtuoso bench pipeline``)."""
        self.processor = processor
        self.source = source
        self.sink = sink
        self._recorder = recorder
        # A processor with nothing to run is not fed: replaying to bus subscribers alone costs no queueing.
        work = bool(chain.handlers or pipeline)
        self._feed = ProcessorFeed(bus, processor, config.process_topics if work else (), recorder)
        if recorder is not None and work:
            recorder.follow_commits(store, self._feed.committed)
        self.dead_letters: list[DeadLetter] = []

    async def publish(self, event: Event) -> None:
        """Dispatch ``event`` on the bus, then :meth:`throttle`."""
        self.bus.publish(event)
        await self.throttle()

    async def throttle(self) -> None:
        """Wait while the processor or the recorder is full: sources that publish through an
        :class:`~virtuoso.bus.EventPublisher` await this after each publish."""
        await self._feed.throttle()
        if self._recorder is not None:
            await self._recorder.throttle()

    async def run(self, session: str) -> list[Event]:
        """Run the source for ``session`` to its end, drain the processor, commit what was recorded."""
        try:
            async with self.processor:
                await self.source.run(self, session)
                if self._recorder is not None:
                    await self._recorder.flush()  # what the source published is committed, so processed
                await self._feed.throttle()
        finally:
            self._feed.close()  # an interrupted run's last commits must not reach a closed processor
        self.dead_letters = self.processor.dead_letters
        if self._recorder is not None:
            await self._recorder.flush()
        return self.sink.events


def build_container(
    mode: Mode,
    config: AppConfig | None = None,
    *,
    handlers: Sequence[EventHandler] = (),
    source: type[EventSource] | Callable[..., EventSource] | None = None,
    analyzers: Sequence[AnalyzerRecipe] = (),
    timer: StageTimer | None = None,
) -> ServiceContainer:
    """The application's container for ``mode``: ``"replay"`` (ReplayClock, the session replay source)
    or ``"live"`` (LiveClock, and ``source``, a class or factory whose parameters are injected).

    ``handlers`` run in the processor, in order, on every event of
    ``config.process_topics``; what they return is published as derived events.
    ``analyzers`` (``(class, config)`` pairs, see :func:`virtuoso.analysis.resolve`)
    are registered in the run's scope, built by the container (their other
    constructor parameters, the Clock, injected) and run after the handlers as
    one :class:`~virtuoso.analysis.AnalyzerPipeline`. ``timer`` (benchmarks only) is handed to the parts
    that charge their time to stages (see :mod:`virtuoso.timing`).
    """
    if mode not in ("live", "replay"):
        raise UsageError(f"mode must be 'live' or 'replay', not {mode!r}")
    config = _resolve_defaults(mode, config or AppConfig())
    container = ServiceContainer()
    container.register_instance(AppConfig, config)
    container.register_instance(HandlerChain, HandlerChain(tuple(handlers)))
    container.register_instance(FailurePolicy, FailurePolicy(config.max_handler_failures))
    if timer is not None:
        container.register_instance(StageTimer, timer)
    container.register(EventBus)
    container.register(DerivedSink, lifetime=Lifetime.SCOPED)
    container.register_factory(EventStore, open_store)
    container.register_factory(OptimizedProcessor, make_processor, lifetime=Lifetime.SCOPED)
    container.register_factory(StoreRecorder, make_recorder, lifetime=Lifetime.SCOPED)
    container.register(Runtime, lifetime=Lifetime.SCOPED)
    register_analyzers(container, analyzers)
    clock: Clock = ReplayClock(config.replay_start_ns) if mode == "replay" else LiveClock()
    container.register_instance(Clock, clock)
    if mode == "replay":
        container.register(EventSource, Replayer, lifetime=Lifetime.SCOPED)
    elif source is not None:
        container.register_factory(EventSource, source, lifetime=Lifetime.SCOPED)
    return container


@dataclass(frozen=True, slots=True)
class HandlerChain:
    """The configured handlers, run one after the other on each event."""

    handlers: tuple[EventHandler, ...]

    def __call__(self, event: Event) -> list[Event]:
        """Every handler's derived events for ``event``, in handler order.

        A derived event without a ``causation`` gets the position of ``event``
        (0, so none, for an event not yet in the log).
        """
        derived: list[Event] = []
        for handler in self.handlers:
            result = handler(event)
            if result:
                derived.extend(result)
        if derived and event.position:
            derived = [d if d.causation is not None else replace_struct(d, causation=event.position) for d in derived]
        return derived

    def then(self, pipeline: AnalyzerPipeline) -> EventHandler:
        """A handler running these handlers, then ``pipeline`` (skipping the chain when it is empty)."""
        if not self.handlers:
            return pipeline

        def both(event: Event) -> list[Event]:
            return [*self(event), *pipeline(event)]

        return both


async def open_store(config: AppConfig) -> EventStore:
    """The event log of ``config``: the SQLite file (read-only with ``readonly``), or a fresh in-memory log."""
    if config.db is None:
        return MemoryEventStore()
    return await open_sqlite_store(config.db, readonly=config.readonly)


def _resolve_defaults(mode: Mode, config: AppConfig) -> AppConfig:
    replay = mode == "replay"
    deterministic = replay if config.deterministic is None else config.deterministic
    record_topics = (() if replay else ("*",)) if config.record_topics is None else config.record_topics
    retry = config.commit_retry if replay or config.commit_retry is not None else CommitRetry()
    return replace(config, deterministic=deterministic, record_topics=record_topics, commit_retry=retry)


def register_analyzers(container: ServiceContainer, analyzers: Sequence[AnalyzerRecipe]) -> None:
    """Register each analyzer (class bound to its config, named ``analyzer:<i>``) and the pipeline of them,
    scoped: each run gets fresh analyzers."""
    for index, (cls, config) in enumerate(analyzers):
        constructor: Callable[..., Any] = cls
        factory = functools.partial(constructor, config)
        container.register_factory(Analyzer, factory, lifetime=Lifetime.SCOPED, name=f"analyzer:{index}")
    container.register_factory(AnalyzerPipeline, _pipeline_factory(len(analyzers)), lifetime=Lifetime.SCOPED)


def _pipeline_factory(count: int) -> Callable[..., AnalyzerPipeline]:
    """A factory whose ``count`` parameters name the analyzers to inject (the container reads their hints)."""

    def make(timer: StageTimer | None = None, **analyzers: Analyzer) -> AnalyzerPipeline:
        return AnalyzerPipeline([analyzers[f"a{i}"] for i in range(count)], timer)

    hints = {f"a{i}": Annotated[Analyzer, Named(f"analyzer:{i}")] for i in range(count)}
    kind = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter(n, kind, annotation=h) for n, h in hints.items()]
    params.append(inspect.Parameter("timer", kind, default=None, annotation=StageTimer | None))
    make.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    make.__annotations__ = {**hints, "timer": StageTimer | None, "return": AnalyzerPipeline}
    return make


def make_processor(
    config: AppConfig,
    chain: HandlerChain,
    clock: Clock,
    sink: DerivedSink,
    pipeline: AnalyzerPipeline | None = None,
    *,
    timer: StageTimer | None = None,
) -> OptimizedProcessor:
    """The processor of one run, running ``chain`` then ``pipeline`` and handing their output to ``sink``
    (with a ``timer``, the handler's calls are charged to ``processor``, its analyzers to their own stages)."""
    handler: EventHandler = chain if not pipeline else chain.then(pipeline)
    # the analyzers alone: a stretch of trades that closes no bar is counted in one call (AnalyzerPipeline.absorb)
    absorb = pipeline.absorb if pipeline and not chain.handlers else None
    if timer is not None:
        handler = timer.wrap("processor", handler)
        absorb = timer.wrap("processor", absorb) if absorb is not None else None
    return OptimizedProcessor(
        per_event(handler, is_async=False, absorb=absorb),
        workers=config.workers,
        capacity=config.capacity,
        batch_size=config.batch_size,
        deterministic=bool(config.deterministic),
        on_output=sink,
        on_failure=sink.failed,
        clock=clock,
    )


def make_recorder(config: AppConfig, bus: EventBus, store: EventStore) -> StoreRecorder | None:
    """The run's recorder on ``config.record_topics`` (none: no recorder)."""
    topics = config.record_topics
    if not topics:
        return None
    return StoreRecorder(bus, store.writer(retry=config.commit_retry), topics=topics, max_delay_s=config.commit_delay_s)
