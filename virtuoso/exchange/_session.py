"""One recording from start to end: the container, the session, the recorder, the summary.

:func:`record` is what ``virtuoso record`` runs; tests run it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso.app import AppConfig, EventHandler, EventSource, Runtime, build_container
from virtuoso.bus import EventBus, StoreRecorder
from virtuoso.clock import Clock
from virtuoso.container import ServiceContainer
from virtuoso.errors import DisposalError, StoreError, VirtuosoError
from virtuoso.exchange._config import RecordConfig, channels_text
from virtuoso.exchange._markets import markets_cache_file
from virtuoso.exchange._pool import ExchangePool
from virtuoso.exchange._recorder import Recorder
from virtuoso.exchange._resilient import Guards, GuardsFor, SystemEvents, guards_for
from virtuoso.exchange._rotate import next_boundary_ns, part_name, rotation_period_ns
from virtuoso.exchange._secrets import Secrets
from virtuoso.exchange._stats import RecordStats
from virtuoso.resilience import HealthCheck, breakers_probe, streams_probe, writer_probe
from virtuoso.store import CommitRetry, EventStore, SessionInfo

NS = 1_000_000_000


class RecordingFailed(VirtuosoError):
    """The recording stopped on an error that retrying cannot fix; the message has secrets scrubbed."""


def session_name(config: RecordConfig) -> str:
    """The session's name: the configured one, or ``exchange symbols mode``."""
    return config.session_name or f"{config.exchange} {','.join(config.symbols)} {config.mode}"


TRADES_CACHE = 50_000
"""ccxt.pro's trade cache per symbol unless ``[ccxt] options.tradesLimit`` says otherwise (ccxt's default: 1000)."""


def ccxt_settings(config: RecordConfig) -> dict[str, Any]:
    """The ``[ccxt]`` table, with a trade cache big enough for bursts.

    ccxt.pro keeps the trades received between two ``watch_trades`` calls in a
    ring of ``options.tradesLimit``; a burst larger than that while the recorder
    is busy loses the oldest (they show up as trade-id gaps). The cache is never
    emptied, only overwritten: a full one of 50,000 ccxt trades holds about 75 MB of
    Python objects (~1.5 KB a trade, with its ``info`` dict), ~100 MB of RSS (the soak).
    """
    settings = dict(config.ccxt)
    options = dict(settings.get("options") or {})
    options.setdefault("tradesLimit", TRADES_CACHE)
    settings["options"] = options
    return settings


def recording_container(
    config: RecordConfig,
    db: Path | None,
    handlers: Sequence[EventHandler] = (),
    exchange: Any = None,
    clock: Clock | None = None,
) -> ServiceContainer:
    """The live application container with the recorder as its source and the exchange pool it uses.

    ``exchange`` replaces the pool's ccxt instance (an exchange object of the same
    interface, for tests of the recorder's logic; the caller closes it); ``clock``
    the system clock (a shifted :class:`~virtuoso.clock.LiveClock`, say).
    """

    def source(config: RecordConfig, pool: ExchangePool, clock: Clock, store: EventStore) -> Recorder:
        instance = exchange if exchange is not None else pool.get(config.exchange, ccxt_settings(config))
        return Recorder(config, instance, clock, store=store, markets_cache=markets_cache_path(config, db))

    retry = CommitRetry(max_pending=config.max_unsaved_events, when_full="drop")
    app = AppConfig(db=db, commit_delay_s=config.commit_delay_s, commit_retry=retry)
    container = build_container("live", app, handlers=handlers, source=source)
    container.register_instance(RecordConfig, config)
    container.register(ExchangePool)
    if clock is not None:
        container.register_instance(Clock, clock)
    return container


def markets_cache_path(config: RecordConfig, db: Path | None) -> Path | None:
    """``[record] markets_cache``, else ``<exchange>.markets.json`` next to the database (none in memory)."""
    if config.markets_cache is not None:
        return Path(config.markets_cache)
    return markets_cache_file(db, config.exchange)


async def record(
    config: RecordConfig,
    db: Path | None,
    *,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    on_status: Callable[[str], None] | None = None,
    guards: GuardsFor | None = None,
    handlers: Sequence[EventHandler] = (),
    exchange: Any = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Record until ``duration_s`` passes or ``stop`` is set; return the summary.

    The summary has ``session``, ``counts`` (events per type), ``streams``,
    ``gaps``, ``breaker_transitions``, ``status`` and ``reason``. Whatever ends
    the recording, everything received is committed and the session is closed
    with a SessionEnded event; an error that retrying cannot fix is raised as
    :class:`RecordingFailed` afterwards. ``guards`` defaults to the breakers and
    retries of ``config.resilience`` (:func:`guards_for`); ``clock`` the system clock.
    """
    container = recording_container(config, db, handlers, exchange, clock)
    runs: list[_Run] = []
    try:
        async with container:
            store = await container.aresolve(EventStore)
            clock = await container.aresolve(Clock)
            bus = await container.aresolve(EventBus)
            info = await _begin(store, clock, config, Secrets.of(config))
            guards_of = guards or guards_for(config)
            run = _Run(config, info, clock, bus, RecordStats(clock.now_ns()), guards_of(bus, clock, info.id), store)
            runs.append(run)
            bus.subscribe("*", run.stats, name="RecordStats")
            reason, failure = await run.outcome(container, duration_s, stop, on_status)
            ended = await _end(store, run.info, clock.now_ns(), reason, run.log_error)
    except (StoreError, DisposalError):
        # Once the log has failed for good (a full disk), closing it fails the same way: the first error is the news.
        if not runs or runs[0].log_error is None:
            raise
    if failure is not None:
        raise RecordingFailed(reason) from None
    assert ended is not None  # only a failed log leaves the session without its end
    summary = {**run.stats.summary(run.info.id), **run.log_counts(), "status": ended.status, "reason": reason}
    return {**summary, "sessions": [session.id for session in run.chain]}


async def _end(
    store: EventStore, info: SessionInfo, now_ns: int, reason: str, log_error: BaseException | None
) -> SessionInfo | None:
    """Close the session; when the log itself failed the end cannot be written, and the session stays open
    (the next process that opens the log marks it crashed)."""
    try:
        return await store.end_session(info.id, ended_ns=now_ns, reason=reason[:500])
    except StoreError:
        if log_error is None:
            raise
        return None


async def _begin(
    store: EventStore, clock: Clock, config: RecordConfig, secrets: Secrets, rotated: _Rotated | None = None
) -> SessionInfo:
    name = session_name(config)
    extra = None
    if rotated is not None:
        name = part_name(name, rotated.boundary_ns)
        extra = {"previous": rotated.previous, "part": rotated.part}
    return await store.begin_session(
        name,
        f"ccxt:{config.exchange}",
        started_ns=clock.now_ns(),
        symbols=config.symbols,
        channels=channels_text(config.channels),
        config=secrets.redact(config.as_dict()),
        extra=extra,
    )


@dataclass(frozen=True)
class _Rotated:
    """Where a rotated session comes from: the session it follows, its part number (the first is 1), its boundary."""

    previous: str
    part: int
    boundary_ns: int


@dataclass
class _Run:
    """One recording's moving parts, while it runs."""

    config: RecordConfig
    info: SessionInfo
    clock: Clock
    bus: EventBus
    stats: RecordStats
    guards: Guards
    store: EventStore
    sink: StoreRecorder | None = None
    chain: list[SessionInfo] = field(default_factory=list)
    """Every session of this recording, the first first (more than one once it rotated)."""
    log_error: BaseException | None = None
    """The error the log failed with for good (a full disk): the recording stops on it."""

    def __post_init__(self) -> None:
        self.chain.append(self.info)

    async def outcome(
        self,
        container: ServiceContainer,
        duration_s: float | None,
        stop: asyncio.Event | None,
        on_status: Callable[[str], None] | None,
    ) -> tuple[str, BaseException | None]:
        """Run to the end: the reason it ended and the error it failed with, if any (a failed log first)."""
        try:
            reason = await self.execute(container, duration_s, stop, on_status)
        except Exception as exc:
            error = self.log_error or exc
            return self.failed_reason(error), error
        if self.log_error is not None:
            return self.failed_reason(self.log_error), self.log_error
        return reason, None

    def failed_reason(self, error: BaseException) -> str:
        """``failed: Type: message``, secrets scrubbed."""
        return f"failed: {Secrets.of(self.config).scrub(f'{type(error).__name__}: {error}')}"

    def _log_failed(self, error: BaseException, recorder: Recorder) -> None:
        if self.log_error is None:
            self.log_error = error
            recorder.stop()

    async def execute(
        self,
        container: ServiceContainer,
        duration_s: float | None,
        stop: asyncio.Event | None,
        on_status: Callable[[str], None] | None,
    ) -> str:
        """Run the recorder in its scope until stopped; the reason it ended."""
        async with container.scope() as scope:
            runtime = await scope.aresolve(Runtime)
            recorder = await scope.aresolve(EventSource)
            assert isinstance(recorder, Recorder)
            recorder.use_guards(self.guards)
            self.guards.exchange_object = recorder.exchange
            sink = self.sink = await scope.aresolve(StoreRecorder)
            if sink is not None:
                sink.writer.on_dropped = recorder.log_dropped
                sink.writer.on_failure = lambda error: self._log_failed(error, recorder)
            health = self.health_check(sink)
            health.add(recorder.markets_health)
            health.add(recorder.channels_health)
            system = SystemEvents(self.bus, self.clock, self.info.id)
            status = self.status_line(recorder, sink, on_status)
            rotating = self.rotate_forever(recorder, [system, self.guards.system])
            async with (
                _stopper(recorder, duration_s, stop) as why,
                _background(rotating),
                _every(self.config.status_interval_s, status),
                _every(self.config.health_interval_s, lambda: system.publish("health", health.check())),
            ):
                await runtime.run(self.info.id)
            return why[0]

    async def rotate_forever(self, recorder: Recorder, systems: Sequence[SystemEvents]) -> None:
        """At every boundary of ``[record] rotate`` (by the clock), end the session and begin the next."""
        period = rotation_period_ns(self.config.rotate)
        if period is None:
            return
        while True:
            boundary = next_boundary_ns(self.clock.now_ns(), period)
            reached = asyncio.Event()
            timer = self.clock.call_at(boundary, reached.set)
            try:
                await reached.wait()
            finally:
                timer.cancel()
            # A rotation begun finishes even when the recording stops meanwhile: no session left half-ended.
            rotation = asyncio.ensure_future(self.rotate(recorder, systems, boundary))
            try:
                await asyncio.shield(rotation)
            except asyncio.CancelledError:
                await rotation
                raise
            except Exception as exc:  # the log refused the new session: stop, as when it refuses events
                self._log_failed(exc, recorder)
                return

    async def rotate(self, recorder: Recorder, systems: Sequence[SystemEvents], boundary_ns: int) -> None:
        """End the current session and begin the next without stopping the collectors.

        The switch itself is one synchronous step, so every event is stamped with
        the session in force when it was received. The old session's last events
        may still be on their way to the log and be committed just after its
        SessionEnded: waiting for them would mean waiting for a live feed's writer
        to run empty, which under load it may never do. The log's WAL is checkpointed.
        """
        old = self.info
        rotated = _Rotated(old.id, len(self.chain) + 1, boundary_ns)
        new = await _begin(self.store, self.clock, self.config, Secrets.of(self.config), rotated)
        recorder.switch_session(new.id)
        for system in systems:
            system.switch_session(new.id)
        self.info = new
        self.chain.append(new)
        await self.store.end_session(old.id, ended_ns=self.clock.now_ns(), reason="rotated")
        await self.store.checkpoint()

    def log_counts(self) -> dict[str, int]:
        """``committed``: events the log holds from this recording; ``dropped``: events declared as gaps because
        the log refused writes for too long."""
        if self.sink is None:
            return {"committed": 0, "dropped": 0}
        return {"committed": self.sink.writer.written, "dropped": self.sink.writer.dropped}

    def health_check(self, sink: StoreRecorder | None) -> HealthCheck:
        """Breakers, streams by the age of their last event, and the log's backlog."""
        check = HealthCheck(
            [breakers_probe(self.guards.breakers), streams_probe(self.clock, lambda: self.stats.last_recv)]
        )
        if sink is not None:
            check.add(writer_probe(lambda: sink.backlog))
        return check

    def status_line(
        self, recorder: Recorder, sink: StoreRecorder | None, on_status: Callable[[str], None] | None
    ) -> Callable[[], None] | None:
        """The status line printer (``None``: no status line): what was received, then what the log holds."""
        if on_status is None:
            return None

        def line() -> None:
            text = self.stats.status_line(self.clock.now_ns())
            if sink is not None:
                text = f"{text} | {committed_text(sink)}"
            on_status(recorder.secrets.scrub(text))

        return line


def committed_text(sink: StoreRecorder) -> str:
    """``committed N`` and, while the log refuses writes, how much waits in memory and was dropped."""
    writer = sink.writer
    text = f"committed {writer.written:,}"
    if writer.stalled is not None:
        text += f" (log refuses writes: {writer.pending + sink.backlog:,} held"
        text += f", {writer.dropped:,} dropped)" if writer.dropped else ")"
    elif writer.dropped:
        text += f" ({writer.dropped:,} dropped, declared as gaps)"
    return text


@contextlib.asynccontextmanager
async def _stopper(
    recorder: Recorder, duration_s: float | None, stop: asyncio.Event | None
) -> AsyncIterator[list[str]]:
    why = ["stopped"]

    async def watch() -> None:
        waiter = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            done, _ = await asyncio.wait([waiter], timeout=duration_s)
            why[0] = "stopped" if done else "duration reached"
        finally:
            waiter.cancel()
        recorder.stop()

    async with _background(watch()):
        yield why


@contextlib.asynccontextmanager
async def _every(interval_s: float, action: Callable[[], object] | None) -> AsyncIterator[None]:
    """Run ``action`` every ``interval_s`` while the block runs (``None``: nothing)."""
    if action is None:
        yield
        return

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval_s)
            action()

    async with _background(tick()):
        yield


@contextlib.asynccontextmanager
async def _background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
