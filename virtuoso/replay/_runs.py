"""Runs: a replay's derived events appended to a session of their own, with a manifest and a digest.

A run is a session with source ``"replay"``. Its manifest's config holds the
inputs (sessions, filters, order), each analyzer's name, config and hash, the
seed and the versions of Virtuoso and its dependencies; the store hashes it
into ``config_hash``, which is the run's cache key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any, ClassVar, Protocol

from msgspec.structs import replace as replace_struct

from virtuoso import app as _app
from virtuoso.clock import Clock
from virtuoso.container import Scope, ServiceContainer
from virtuoso.errors import ReplayError, UsageError
from virtuoso.events import Event
from virtuoso.replay._analyzers import AnalyzerFactory, AnalyzerSpec
from virtuoso.replay._digest import Digest
from virtuoso.replay._replayer import Replayer, ReplayOptions
from virtuoso.replay._selection import ReplaySelection, plan_sessions
from virtuoso.store import BufferedWriter, EventFilter, EventStore, SessionInfo, config_hash, lifecycle_stream
from virtuoso.timing import StageTimer

RUN_SOURCE = "replay"
COMMIT_EVENTS = 2_000
COMMIT_CHUNKS = 16
"""A run commits its derived events once 2,000 wait or every 16 input chunks, and at its end: a commit
each chunk (a round trip to the writer thread and a SQLite transaction for a dozen bars) took a third
of a day's replay on this machine. A crash loses at most that much work, which the resume redoes."""
log = logging.getLogger(__name__)
_DEPENDENCIES = ("virtuoso", "msgspec", "aiosqlite", "numpy", "pandas")


class RunJob(Protocol):
    """A kind of run :func:`execute_run` computes: a replay (:class:`RunConfig`) or a backtest.

    ``source`` is the run session's source (``"replay"``, ``"backtest"``);
    ``attach`` hooks the job's own handlers into the run's scope before the
    replay starts; ``finish`` is awaited once the source is exhausted, before
    the last derived events are committed.
    """

    @property
    def source(self) -> str:
        """The run session's source."""
        ...

    @property
    def selection(self) -> ReplaySelection:
        """The recorded events the run reads."""
        ...

    def manifest_config(self) -> dict[str, Any]:
        """The config its manifest stores (hashed into its cache key)."""
        ...

    def key(self) -> str:
        """The cache key: the hash of :meth:`manifest_config`."""
        ...

    async def attach(self, scope: Scope, runtime: _app.Runtime) -> None:
        """Hook the job's handlers into ``runtime`` (resolving what they need from ``scope``)."""
        ...

    async def finish(self, runtime: _app.Runtime) -> None:
        """Called after the source ran to its end."""
        ...


@dataclass(frozen=True)
class RunConfig:
    """What a run computes: its inputs, its analyzers and its seed (all of it hashed)."""

    selection: ReplaySelection
    analyzers: tuple[AnalyzerSpec, ...] = ()
    seed: int = 0
    source: ClassVar[str] = RUN_SOURCE

    async def attach(self, scope: Scope, runtime: _app.Runtime) -> None:
        """Nothing to hook: a replay's analyzers run in the processor."""

    async def finish(self, runtime: _app.Runtime) -> None:
        """Nothing to finish."""

    def manifest_config(self) -> dict[str, Any]:
        """The config stored in the run's manifest (and hashed into its cache key)."""
        return {
            "kind": "replay",
            "inputs": self.selection.as_config(),
            "analyzers": [spec.as_config() for spec in self.analyzers],
            "seed": self.seed,
            "versions": versions(),
        }

    def key(self) -> str:
        """The run's cache key: the hash the store gives its manifest config."""
        return config_hash(self.manifest_config())


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run produced (or, ``cached``, had produced before)."""

    run: str
    """The run's session id ("" when nothing was written)."""
    events_in: int
    events_out: int
    digest: str
    cached: bool = False
    resumed: bool = False
    key: str = ""

    def summary(self) -> dict[str, Any]:
        """The JSON-ready fields ``virtuoso replay --json`` prints (it adds ``events_per_s``)."""
        return {
            "run": self.run,
            "events_in": self.events_in,
            "events_out": self.events_out,
            "digest": self.digest,
            "cached": self.cached,
            "resumed": self.resumed,
            "config_hash": self.key,
        }


def versions() -> dict[str, str | None]:
    """Python's version and those of Virtuoso and the dependencies a replay's output depends on."""
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str | None], ...]:
    # Package metadata is read once per process: a sweep runs many short backtests, and reading it
    # took about a sixth of each one (measured by the sweep's benchmark).
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return tuple(found.items())


def run_id_for(key: str, attempt: int, source: str = RUN_SOURCE) -> str:
    """The session id of the ``attempt``-th run (from 0) of the config with hash ``key``."""
    return hashlib.sha256(f"{source}\0{key}\0{attempt}".encode()).hexdigest()[:32]


class RunWriter:
    """Stamps derived events for a run, digests them, and appends them after the first ``skip``.

    A derived event gets the run's session and the id ``<run[:20]>:<input position>:<n>``,
    ``n`` its number in the run's output (from 0): unique even when a handler
    points several outputs at one earlier input, and, the output order being
    deterministic, the same ids again when a run is resumed.
    """

    def __init__(self, run: str, writer: BufferedWriter | None, skip: int = 0) -> None:
        self._run = run
        self._prefix = run[:20]
        self._writer = writer
        self._skip = skip
        self._pending: list[Event] = []
        self._count = 0
        self._chunks = 0
        self.digest = Digest()

    def __call__(self, events: Sequence[Event]) -> None:
        stamped = [self._stamp(event) for event in events]
        self.digest.update(stamped)
        if self._writer is None:
            return
        if self._skip:
            dropped = min(self._skip, len(stamped))
            self._skip -= dropped
            stamped = stamped[dropped:]
        self._pending.extend(stamped)

    def _stamp(self, event: Event) -> Event:
        cause = event.causation or 0
        number, self._count = self._count, self._count + 1
        return replace_struct(event, id=f"{self._prefix}:{cause}:{number}", session=self._run, version=0, position=0)

    async def after_chunk(self, _: int = 0) -> None:
        """After each input chunk: commit what waits once it is :data:`COMMIT_EVENTS` derived events or
        :data:`COMMIT_CHUNKS` chunks old (a count, not a clock: the same run commits at the same points)."""
        self._chunks += 1
        if len(self._pending) >= COMMIT_EVENTS or self._chunks >= COMMIT_CHUNKS:
            await self.flush()

    async def flush(self) -> None:
        """Commit what waits (what a resume can count on)."""
        self._chunks = 0
        if self._pending and self._writer is not None:
            pending, self._pending = self._pending, []
            await self._writer.write_many(pending)
            await self._writer.flush()


@dataclass
class _Plan:
    """Where a run goes: a cached run to report, or a run (new or unfinished) to compute into."""

    run: str
    cached: SessionInfo | None = None
    resume: SessionInfo | None = None
    new: bool = False


async def replay_run(
    config: _app.AppConfig,
    run: RunConfig,
    *,
    options: ReplayOptions | None = None,
    force: bool = False,
    write: bool = True,
    on_progress: Callable[[int], object] | None = None,
    timer: StageTimer | None = None,
) -> RunResult:
    """Replay ``run.selection`` from the log of ``config`` through ``run.analyzers``; return the result.

    With ``write`` (the default) the derived events go to a run session: a
    finished run of the same config is reported instead of recomputed (unless
    ``force``), and an unfinished one (crashed, or left open) is resumed: its
    analyzers see the inputs again from the start, to rebuild their state, and
    appending goes on after the derived events it had committed. Without
    ``write`` only the digest is computed (``verify-replay``). ``timer`` (benchmarks only, see
    :mod:`virtuoso.timing`) charges the run's parts to their stages.
    """
    if not run.selection.sessions:
        raise UsageError("a run names its input sessions")
    # One generator per analyzer, seeded from the run's seed and its place: drawing from one
    # shared generator would make each analyzer's numbers depend on the others'.
    # Registered analyzers are built by the run's container (one pipeline, after the plain handlers).
    handlers = [
        spec.build(random.Random(f"{run.seed}:{i}:{spec.name}"))
        for i, spec in enumerate(run.analyzers)
        if not isinstance(spec.factory, AnalyzerFactory)
    ]
    recipes = [spec.factory.recipe(spec.config) for spec in run.analyzers if isinstance(spec.factory, AnalyzerFactory)]
    container = _app.build_container(
        "replay", replace(config, keep_derived=False), handlers=handlers, analyzers=recipes, timer=timer
    )
    try:
        store = await container.aresolve(EventStore)
        run = replace(run, selection=await full_ids(store, run.selection))
        return await execute_run(container, run, options, force=force, write=write, on_progress=on_progress)
    finally:
        await container.aclose()


async def full_ids(store: EventStore, selection: ReplaySelection) -> ReplaySelection:
    """``selection`` with each session named by its full id (prefixes resolved: the manifest records full ids)."""
    ids = tuple([(await store.session(session)).id for session in selection.sessions])
    return replace(selection, sessions=ids)


async def execute_run(
    container: ServiceContainer,
    job: RunJob,
    options: ReplayOptions | None = None,
    *,
    force: bool = False,
    write: bool = True,
    on_progress: Callable[[int], object] | None = None,
) -> RunResult:
    """Run ``job`` in a scope of ``container`` (a replay-mode container whose store holds its inputs).

    The derived events go to the job's run session, as :func:`replay_run` describes: a finished run
    of the same key is reported instead (unless ``force``), an unfinished one resumed.
    """
    store = await container.aresolve(EventStore)
    key = job.key()
    plan = await _plan_run(store, key, force, job.source) if write else _Plan("")
    if plan.cached is not None:
        return await cached_result(store, plan.cached, key)
    if plan.new:
        await require_events(store, job.selection)
    skip = await _begin(store, job, plan)
    writer = store.writer() if write else None
    sink = RunWriter(plan.run, writer, skip)
    clock = await container.aresolve(Clock)
    try:
        async with container.scope() as scope:
            runtime = await scope.aresolve(_app.Runtime)
            replayer = runtime.source
            assert isinstance(replayer, Replayer)
            replayer.configure(job.selection, options)
            timer = runtime.timer
            flush = sink.flush if timer is None else timer.wrap_async("writer", sink.flush)
            after = sink.after_chunk if timer is None else timer.wrap_async("writer", sink.after_chunk)
            runtime.sink.listeners.append(sink if timer is None else timer.wrap("writer", sink))
            replayer.after_chunk = _after_chunk(after, on_progress)
            await job.attach(scope, runtime)
            await runtime.run(job.selection.sessions[0])
            await job.finish(runtime)
            await flush()
    except Exception as exc:
        if writer is not None:
            await _end_failed(store, writer, plan.run, exc, clock.now_ns())
        raise
    digest = sink.digest.hexdigest()
    result = RunResult(
        plan.run, replayer.events_in, sink.digest.events, digest, resumed=plan.resume is not None, key=key
    )
    if writer is not None:
        close = _close_run if timer is None else timer.wrap_async("writer", _close_run)
        await close(store, writer, result, clock.now_ns())
    return result


async def _close_run(store: EventStore, writer: BufferedWriter, result: RunResult, ended_ns: int) -> None:
    await writer.close()
    await _finish(store, result, ended_ns)


async def _end_failed(store: EventStore, writer: BufferedWriter, run: str, exc: Exception, ended_ns: int) -> None:
    """End the run that ``exc`` stopped as failed, saying why (what it committed stays, and the same
    command resumes it). Best effort: when the log itself failed, the run stays open and the next
    open of the log marks it crashed; the error the caller raises is ``exc`` either way."""
    try:
        await writer.close()
        await store.fail_session(run, ended_ns=ended_ns, reason=f"{type(exc).__name__}: {exc}")
        exc.add_note(f"run {run[:12]} marked failed")  # where the failure is kept: the CLI's line names it
    except Exception as also:  # the original failure is the one to report
        log.warning("run %s failed (%s) and could not be marked failed: %s", run, exc, also)


def _after_chunk(
    commit: Callable[[], Awaitable[None]], on_progress: Callable[[int], object] | None
) -> Callable[[int], Any]:
    async def after(events_in: int) -> None:
        await commit()
        if on_progress is not None:
            on_progress(events_in)

    return after


async def require_events(store: EventStore, selection: ReplaySelection) -> None:
    """Refuse (:class:`UsageError`) a selection that matches no event: a run of nothing is not a result.

    Checked before a run is opened, so a refused selection leaves nothing in the log.
    """
    plans = await plan_sessions(store, selection, None)
    for plan in plans:
        async for _ in store.read(plan.filter(selection), chunk_size=1):
            return
    ids = ", ".join(session_id[:12] for session_id in selection.sessions)
    raise UsageError(f"the selection matches no event of session {ids} ({_described(selection)}): nothing to run")


def _described(selection: ReplaySelection) -> str:
    parts = [
        f"{name} {','.join(values)}"
        for name, values in (("types", selection.types), ("streams", selection.streams), ("symbols", selection.symbols))
        if values is not None
    ]
    parts += [f"{name} {_iso(ns)}" for name, ns in (("from", selection.start_ns), ("to", selection.end_ns)) if ns]
    return "; ".join(parts) or "no filter"


def _iso(ns: int) -> str:
    from datetime import UTC, datetime  # noqa: PLC0415  # only for this message

    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _plan_run(store: EventStore, key: str, force: bool, source: str) -> _Plan:
    runs = [s for s in await store.sessions() if s.source == source and s.config_hash == key]
    finished = [s for s in runs if s.status == "closed"]
    unfinished = [s for s in runs if s.status != "closed"]
    if finished and not force:
        return _Plan(finished[-1].id, cached=finished[-1])
    if unfinished and not force:
        return _Plan(unfinished[-1].id, resume=unfinished[-1])
    taken = {s.id for s in runs}
    attempt = next(i for i in range(len(runs) + 1) if run_id_for(key, i, source) not in taken)
    return _Plan(run_id_for(key, attempt, source), new=True)


async def _begin(store: EventStore, job: RunJob, plan: _Plan) -> int:
    """Open the run's session; the number of derived events it already holds."""
    if plan.new:
        first = await store.session(job.selection.sessions[0])
        name = f"{job.source} of {first.id[:12]}"
        await store.begin_session(
            name, job.source, started_ns=first.started_ns, config=job.manifest_config(), session_id=plan.run
        )
        return 0
    info = plan.resume
    if info is None:
        return 0
    if info.status == "crashed":
        info = await store.resume_session(info.id, resumed_ns=info.started_ns, reason="replay resumed")
    return derived_count(info)


def derived_count(info: SessionInfo) -> int:
    """Events of a run other than its lifecycle events."""
    lifecycle = lifecycle_stream(info.id)
    return sum(stats.events for name, stats in info.streams.items() if name != lifecycle)


async def _finish(store: EventStore, result: RunResult, ended_ns: int) -> None:
    stored = await stored_digest(store, result.run)
    if stored.hexdigest() != result.digest or stored.events != result.events_out:
        raise ReplayError(
            f"run {result.run[:12]}: the log holds {stored.events} derived events (digest"
            f" {stored.hexdigest()[:16]}), this replay made {result.events_out} (digest {result.digest[:16]})"
        )
    reason = json.dumps({"digest": result.digest, "events_in": result.events_in, "events_out": result.events_out})
    await store.end_session(result.run, ended_ns=ended_ns, reason=reason)


async def stored_digest(store: EventStore, run: str) -> Digest:
    """The digest of the derived events the log holds for ``run``, in position order."""
    digest = Digest()
    lifecycle = lifecycle_stream(run)
    info = await store.session(run)
    first = min((s.first_position for s in info.streams.values()), default=1)
    flt = EventFilter(session=run, after_position=first - 1)
    async for chunk in store.read_chunks(flt):
        digest.update(event for event in chunk if event.stream != lifecycle)
    return digest


async def cached_result(store: EventStore, info: SessionInfo, key: str) -> RunResult:
    """The result of a finished run, its digest recomputed from the log and checked against the one recorded."""
    recorded = json.loads(info.end_reason)
    stored = await stored_digest(store, info.id)
    if stored.hexdigest() != recorded["digest"]:
        raise ReplayError(f"run {info.id[:12]}: its events no longer give the digest it recorded")
    return RunResult(info.id, recorded["events_in"], stored.events, stored.hexdigest(), cached=True, key=key)
