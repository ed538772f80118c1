"""A sweep's configuration and its plan: the tasks (session x part x grid point), resolved against the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso.backtest import METRIC_KEYS, StrategySpec, VenueConfig, market_symbols
from virtuoso.errors import ConfigError, UsageError
from virtuoso.replay._selection import Order
from virtuoso.store import SessionInfo, config_hash, open_sqlite_store
from virtuoso.sweep._grid import Grid
from virtuoso.sweep._tasks import Part, Task

_DERIVED_SOURCES = frozenset(("replay", "backtest"))
_DERIVED_PREFIXES = ("system:", "analysis:", "backtest:")


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: a strategy's grid over sessions of a log, and what every backtest shares.

    ``sessions`` holds ids or unique prefixes, or is ``("all",)``: every
    recorded or imported session with market data (runs are not inputs).
    ``split=(70, 30)`` runs each configuration on the first 70 % of each
    session's time range (``train``) and on the rest (``test``).
    """

    db: Path
    strategy: str
    grid: Grid
    sessions: tuple[str, ...] = ("all",)
    venue: VenueConfig = field(default_factory=VenueConfig)
    analyzers: str | list[Any] | None = None
    seed: int = 0
    order: Order = "exchange-time"
    split: tuple[int, int] | None = None
    metric: str = "total_return"
    worker_db: str | None = None
    """The log's path on the workers (a shared mount), when it is not ``db``'s absolute path."""

    def __post_init__(self) -> None:
        if self.metric not in METRIC_KEYS:
            raise UsageError(f"unknown metric {self.metric!r} (known: {', '.join(METRIC_KEYS)})")
        if self.split is not None and (len(self.split) != 2 or min(self.split) <= 0):
            raise UsageError(f"a split is two positive shares like 70:30, not {self.split!r}")

    @property
    def parts(self) -> tuple[Part, ...]:
        """The parts each session is run on."""
        return ("all",) if self.split is None else ("train", "test")


def parse_split(text: str) -> tuple[int, int]:
    """``"70:30"`` -> ``(70, 30)``.

    >>> parse_split("70:30")
    (70, 30)
    >>> parse_split("70")
    Traceback (most recent call last):
    virtuoso.errors.UsageError: --split takes TRAIN:TEST shares like 70:30, not '70'
    """
    train, sep, test = text.partition(":")
    try:
        shares = (int(train), int(test))
    except ValueError:
        shares = (0, 0)
    if not sep or min(shares) <= 0:
        raise UsageError(f"--split takes TRAIN:TEST shares like 70:30, not {text!r}")
    return shares


@dataclass(frozen=True)
class SweepPlan:
    """Every task of a sweep (sessions in the order given, then parts, then grid points) and its identity."""

    tasks: tuple[Task, ...]
    sessions: tuple[str, ...]
    identity: dict[str, Any]


async def plan_sweep(config: SweepConfig) -> SweepPlan:
    """The tasks of ``config``: sessions resolved (read-only), grid points checked by the strategy's config."""
    specs = _specs(config)
    sessions = await _sessions(config)
    db = config.worker_db or str(config.db.resolve())
    tasks = [
        _task(config, db, info.id, part=part, window=window, spec=spec)
        for info in sessions
        for part, window in zip(config.parts, _windows(config, info), strict=True)
        for spec in specs
    ]
    return SweepPlan(tuple(tasks), tuple(info.id for info in sessions), _identity(config, specs))


def _specs(config: SweepConfig) -> list[StrategySpec]:
    specs: dict[str, StrategySpec] = {}
    for point in config.grid.points():
        try:
            spec = StrategySpec.named(config.strategy, point)
        except ConfigError as exc:
            hint = " (exclude such points with [sweep] constraints)" if "strategy parameters" not in str(exc) else ""
            raise ConfigError(f"{config.grid.source}: grid point {point}: {exc}{hint}") from None
        specs.setdefault(spec.config.hash(), spec)
    if not specs:
        raise UsageError(f"{config.grid.source}: no grid point meets the constraints")
    return list(specs.values())


def _task(
    config: SweepConfig, db: str, session: str, *, part: Part, window: tuple[int | None, int | None], spec: StrategySpec
) -> Task:
    params = {name: spec.config.as_dict()[name] for name in config.grid.params}
    return Task(
        db, session, part, window[0], window[1], config.strategy, params, spec.config.hash(),
        config.venue.as_dict(), config.analyzers, config.seed, config.order,
    )  # fmt: skip


async def _sessions(config: SweepConfig) -> list[SessionInfo]:
    if not config.db.is_file():
        raise UsageError(f"{config.db}: no event log there")
    store = await open_sqlite_store(config.db, readonly=True)
    try:
        if config.sessions == ("all",):
            found = [s for s in await store.sessions() if s.source not in _DERIVED_SOURCES and market_symbols(s)]
            if not found:
                raise UsageError(f"{config.db}: no recorded session with market data")
            return found
        infos = [await store.session(name) for name in config.sessions]
    finally:
        await store.close()
    return list({info.id: info for info in infos}.values())


def _windows(config: SweepConfig, info: SessionInfo) -> list[tuple[int | None, int | None]]:
    """The (start, end) of each part: the whole session, or its time range cut at the split's share."""
    if config.split is None:
        return [(None, None)]
    first, last = _market_range(info)
    train, test = config.split
    cut = first + (last + 1 - first) * train // (train + test)
    if not first < cut <= last:
        raise UsageError(f"session {info.id[:12]}: too short to split {train}:{test} (one side would be empty)")
    return [(first, cut), (cut, last + 1)]


def _market_range(info: SessionInfo) -> tuple[int, int]:
    stats = [s for name, s in info.streams.items() if not name.startswith(_DERIVED_PREFIXES) and s.events]
    if not stats:
        raise UsageError(f"session {info.id[:12]}: no market events to split")
    return min(s.first_ts_event for s in stats), max(s.last_ts_event for s in stats)


def _identity(config: SweepConfig, specs: list[StrategySpec]) -> dict[str, Any]:
    """What every task shares: a results directory holds the tasks of one identity only."""
    strategy = specs[0].as_config()
    identity = {
        "strategy": config.strategy,
        "class": strategy["class"],
        "source_hash": strategy["source_hash"],
        "venue": config.venue.as_dict(),
        "analyzers": config.analyzers,
        "seed": config.seed,
        "order": config.order,
        "split": None if config.split is None else list(config.split),
    }
    return {**identity, "hash": config_hash(identity)}
