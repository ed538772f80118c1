"""Sweep tasks: one backtest of one configuration on one session (or one part of it), run anywhere.

A :class:`Task` is a small picklable value; :func:`run_task` is a pure function
of it (the log it reads never changes, the backtest is deterministic and writes
nothing), so where it runs, a local process or a Dask worker, cannot change its
:class:`TaskOutcome`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, BacktestResult, StrategySpec, VenueConfig, run_backtest, with_market
from virtuoso.replay import ReplaySelection, analyzers_named
from virtuoso.replay._selection import Order
from virtuoso.store import open_sqlite_store

Part = Literal["all", "train", "test"]
"""The whole session (``all``), or the in-sample (``train``) / out-of-sample (``test``) side of a split."""
Status = Literal["ok", "failed"]


@dataclass(frozen=True)
class Task:
    """One backtest: a configuration of the sweep's strategy on one session's time range."""

    db: str
    """The log's path as the worker sees it (a shared path, or one the worker made)."""
    session: str
    part: Part
    start_ns: int | None
    end_ns: int | None
    strategy: str
    params: dict[str, Any] = field(hash=False)
    config_hash: str
    """The hash of the strategy's config (:meth:`~virtuoso.backtest.StrategyConfig.hash`)."""
    venue: dict[str, Any] = field(hash=False, default_factory=dict)
    analyzers: str | list[Any] | None = field(hash=False, default=None)
    """``None``: what the strategy asks for with this configuration."""
    seed: int = 0
    order: Order = "exchange-time"

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the task in the results: (session, part, config hash)."""
        return (self.session, self.part, self.config_hash)


@dataclass(frozen=True)
class TaskOutcome:
    """What a task gave: the backtest's metrics, or the error that stopped it."""

    session: str
    part: Part
    config_hash: str
    params: dict[str, Any]
    start_ns: int | None
    end_ns: int | None
    status: Status
    error: str = ""
    digest: str = ""
    events_in: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """(session, part, config hash), as :attr:`Task.key`."""
        return (self.session, self.part, self.config_hash)

    @classmethod
    def failure(cls, task: Task, error: str) -> TaskOutcome:
        """The outcome of ``task`` when it could not finish."""
        return cls(*_fields(task), status="failed", error=error)


def _fields(task: Task) -> tuple[str, Part, str, dict[str, Any], int | None, int | None]:
    return (task.session, task.part, task.config_hash, task.params, task.start_ns, task.end_ns)


def run_task(task: Task) -> TaskOutcome:
    """Run ``task``'s backtest (read-only, writing nothing) in a fresh event loop; its outcome.

    Any exception becomes a failed outcome naming it: one bad configuration
    must not stop a sweep.
    """
    try:
        return asyncio.run(_backtest(task))
    except Exception as exc:
        return TaskOutcome.failure(task, f"{type(exc).__name__}: {exc}")


def report_task(task: Task, db: Path, directory: Path) -> Path:
    """Run ``task``'s backtest again on the log at ``db`` (read-only) and write its report into ``directory``;
    the page's path."""
    return asyncio.run(_report(replace(task, db=str(db)), directory))


async def _report(task: Task, directory: Path) -> Path:
    result = await _result(task)
    store = await open_sqlite_store(Path(task.db), readonly=True)
    try:
        result, market = await with_market(store, result)
    finally:
        await store.close()
    return result.report(directory, market)


async def _backtest(task: Task) -> TaskOutcome:
    result = await _result(task)
    return TaskOutcome(
        *_fields(task), status="ok", digest=result.digest, events_in=result.events_in, metrics=dict(result.metrics)
    )


async def _result(task: Task) -> BacktestResult:
    spec = StrategySpec.named(task.strategy, task.params)
    analyzers = None if task.analyzers is None else tuple(analyzers_named(task.analyzers))
    selection = ReplaySelection(sessions=(task.session,), start_ns=task.start_ns, end_ns=task.end_ns, order=task.order)
    config = BacktestConfig(selection, spec, VenueConfig.from_mapping(task.venue), analyzers, task.seed)
    app = AppConfig(db=Path(task.db), readonly=True)
    return await run_backtest(app, config, write=False)
