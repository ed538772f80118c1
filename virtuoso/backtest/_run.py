"""Backtest runs: a replay through a strategy and the simulated venue, into a run session of the log.

A backtest is a run (see ``docs/replay.md``) with source ``"backtest"``: its
manifest holds the inputs, the analyzers, the strategy (reference, parameters,
a hash of its source), the venue settings and the seed; their hash is the cache
key, so the same backtest asked again is read from the log rather than
recomputed. Its derived events are the analyzers' outputs and the order,
position and equity events, with a digest over all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from virtuoso import app as _app
from virtuoso.analysis import AnalyzerPipeline
from virtuoso.backtest._config import VenueConfig
from virtuoso.backtest._engine import BacktestEngine
from virtuoso.backtest._loading import StrategySpec
from virtuoso.backtest._result import BacktestResult
from virtuoso.backtest._strategy import Strategy
from virtuoso.container import Scope
from virtuoso.errors import StrategyError, UsageError, VirtuosoError
from virtuoso.events import Event
from virtuoso.replay import (
    AnalyzerFactory,
    AnalyzerSpec,
    Replayer,
    ReplayOptions,
    ReplaySelection,
    analyzers_named,
    execute_run,
    full_ids,
)
from virtuoso.replay._runs import versions
from virtuoso.store import EventFilter, EventStore, SessionInfo, config_hash
from virtuoso.timing import StageTimer

BACKTEST_SOURCE = "backtest"
LEDGER_TYPES = (
    "OrderSubmitted",
    "OrderAccepted",
    "OrderFilled",
    "OrderCanceled",
    "OrderRejected",
    "PositionChanged",
    "EquityMarked",
)
"""The event types of a backtest's ledger (its other derived events are the analyzers')."""
_MARKET_CHANNELS = frozenset(("trades", "aggtrades", "book", "bars", "quotes", "ticker"))


@dataclass(frozen=True)
class BacktestConfig:
    """What a backtest computes: inputs, analyzers, strategy, venue and seed (all of it hashed).

    Give the selection ``order="exchange-time"`` (``virtuoso backtest`` does):
    the venue and the strategy live in the exchange's time, whatever order the
    recorder saw things in. ``analyzers`` left out (None) are the ones the
    strategy asks for (:meth:`Strategy.analyzers_for`): this is the one place
    that derives them, for the CLI, the sweep, the demo and Python callers alike.
    """

    selection: ReplaySelection
    strategy: StrategySpec
    venue: VenueConfig = field(default_factory=VenueConfig)
    analyzers: tuple[AnalyzerSpec, ...] | None = None
    seed: int = 0
    source: ClassVar[str] = BACKTEST_SOURCE

    def __post_init__(self) -> None:
        if self.analyzers is None:
            asked = self.strategy.cls.analyzers_for(self.strategy.config)
            object.__setattr__(self, "analyzers", tuple(analyzers_named(asked)))

    @property
    def analyzer_specs(self) -> tuple[AnalyzerSpec, ...]:
        """The analyzers the backtest runs (given, or derived from the strategy)."""
        return self.analyzers or ()

    def analyzers_left_out(self) -> tuple[str, ...]:
        """The names of analyzers the strategy asks for that the given ones leave out, in the strategy's order.

        A strategy that reads an indicator nobody computes sees no signal and trades
        nothing, without any error: the CLI warns with this list.
        """
        asked = analyzers_named(self.strategy.cls.analyzers_for(self.strategy.config))
        running = {spec.name for spec in self.analyzer_specs}
        return tuple(dict.fromkeys(spec.name for spec in asked if spec.name not in running))

    def manifest_config(self) -> dict[str, Any]:
        """The config stored in the run's manifest (and hashed into its cache key)."""
        return {
            "kind": "backtest",
            "inputs": self.selection.as_config(),
            "analyzers": [spec.as_config() for spec in self.analyzer_specs],
            "strategy": self.strategy.as_config(),
            "venue": self.venue.as_dict(),
            "seed": self.seed,
            "versions": versions(),
        }

    def key(self) -> str:
        """The cache key."""
        return config_hash(self.manifest_config())


class _BacktestJob:
    """The run-time side of a :class:`BacktestConfig` (a :class:`~virtuoso.replay.RunJob`)."""

    def __init__(self, config: BacktestConfig, symbol: str, strategy: Strategy) -> None:
        self.config = config
        self.symbol = symbol
        self.strategy = strategy
        self.engine: BacktestEngine | None = None

    @property
    def source(self) -> str:
        return BACKTEST_SOURCE

    @property
    def selection(self) -> ReplaySelection:
        return self.config.selection

    def manifest_config(self) -> dict[str, Any]:
        return self.config.manifest_config()

    def key(self) -> str:
        return self.config.key()

    async def attach(self, scope: Scope, runtime: _app.Runtime) -> None:
        pipeline = await scope.aresolve(AnalyzerPipeline)
        engine = BacktestEngine(
            self.strategy, self.config.venue, symbol=self.symbol, seed=self.config.seed, pipeline=pipeline,
            output=runtime.sink, timer=runtime.timer,
        )  # fmt: skip
        replayer = runtime.source
        assert isinstance(replayer, Replayer)
        engine.on_error = replayer.stop
        # a batch subscriber: a replay chunk reaches the engine in one call (see BacktestEngine.handle_many)
        runtime.bus.subscribe(("market.*",), engine.handle_many, name="BacktestEngine", batch=True)
        engine.start()
        self.engine = engine

    async def finish(self, runtime: _app.Runtime) -> None:
        assert self.engine is not None
        self.engine.finish()


async def run_backtest(
    config: _app.AppConfig,
    backtest: BacktestConfig,
    *,
    options: ReplayOptions | None = None,
    force: bool = False,
    write: bool = True,
    on_progress: Callable[[int], object] | None = None,
    timer: StageTimer | None = None,
) -> BacktestResult:
    """Run ``backtest`` over the log of ``config``; its result (see the module).

    A backtest of the same config that already ran is read back from the log
    (``cached``) unless ``force``; without ``write`` nothing is written (the
    digest is still computed). ``on_progress`` gets the count of input events
    replayed so far, after each chunk. ``timer`` (benchmarks only, see :mod:`virtuoso.timing`) charges the
    run's parts to their stages.
    """
    if not backtest.selection.sessions:
        raise UsageError("a backtest names its input sessions")
    recipes = [_recipe(spec) for spec in backtest.analyzer_specs]
    app_config = replace(config, keep_derived=False, process_topics=())
    container = _app.build_container("replay", app_config, analyzers=recipes, timer=timer)
    try:
        store = await container.aresolve(EventStore)
        backtest = replace(backtest, selection=await full_ids(store, backtest.selection))
        # Built before the run opens: a strategy that cannot start leaves no run behind.
        job = _BacktestJob(backtest, await _traded_symbol(store, backtest), built(backtest.strategy))
        result = await execute_run(container, job, options, force=force, write=write, on_progress=on_progress)
        ledger = job.engine.ledger if job.engine is not None else await read_ledger(store, result.run)
    finally:
        await container.aclose()
    return BacktestResult.from_events(
        ledger, run=result.run, digest=result.digest, events_in=result.events_in,
        initial_cash=backtest.venue.initial_cash, interval_ns=backtest.venue.mark_interval_ns,
        config=backtest.manifest_config(), cached=result.cached,
    )  # fmt: skip


def built(spec: StrategySpec) -> Strategy:
    """A fresh instance of ``spec``'s strategy; what its constructor raises becomes a :class:`StrategyError`."""
    try:
        return spec.build()
    except VirtuosoError:
        raise
    except Exception as exc:
        raise StrategyError(f"strategy {spec.ref!r} failed to start: {type(exc).__name__}: {exc}") from exc


def _recipe(spec: AnalyzerSpec) -> _app.AnalyzerRecipe:
    if not isinstance(spec.factory, AnalyzerFactory):
        raise UsageError(f"{spec.name!r} is a replay example handler, not an analyzer: backtests take analyzers")
    return spec.factory.recipe(spec.config)


async def _traded_symbol(store: EventStore, backtest: BacktestConfig) -> str:
    """The strategy's symbol: its ``symbol`` parameter, else the only one the inputs record market data of."""
    wanted = backtest.strategy.config.symbol
    found: set[str] = set()
    for session in backtest.selection.sessions:
        found |= market_symbols(await store.session(session))
    if wanted:
        if wanted not in found:
            raise UsageError(f"symbol {wanted!r} has no market data in the input (it has: {_listed(found)})")
        return wanted
    if len(found) != 1:
        raise UsageError(f"the input records {_listed(found)}: name the symbol to trade with --param symbol=...")
    return next(iter(found))


def market_symbols(info: SessionInfo) -> set[str]:
    """The symbols of the market streams (``exchange:symbol:channel``) of a session."""
    symbols = set()
    for stream in sorted(info.streams):
        parts = stream.split(":")
        if len(parts) >= 3 and parts[0] not in ("system", "analysis", "backtest") and parts[2] in _MARKET_CHANNELS:
            symbols.add(parts[1])
    return symbols


def _listed(symbols: set[str]) -> str:
    return ", ".join(sorted(symbols)) or "no market data"


async def read_ledger(store: EventStore, run: str) -> list[Event]:
    """The order, position and equity events a backtest run holds, in log order."""
    if not run:
        return []
    return [event async for event in store.read(EventFilter(session=run, types=LEDGER_TYPES))]
