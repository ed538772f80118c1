"""The whole path on one log: build (or import), replay with the default analyzers, backtest, report."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtuoso.app import AppConfig
from virtuoso.backtest import BacktestConfig, BacktestResult, StrategySpec, VenueConfig, run_backtest, with_market
from virtuoso.demo._log import build_demo_log, check_captures, import_captures, replace_event_log
from virtuoso.replay import ReplaySelection, RunConfig, RunResult, analyzers_named, replay_run
from virtuoso.store import SessionInfo, open_sqlite_store
from virtuoso.synthetic import MarketConfig

STRATEGY = "virtuoso.strategies:ConfluenceThreshold"
"""The strategy the demo backtests."""
CAPTURE_PARAMS: dict[str, Any] = {"timeframes": ["1s", "5s"]}
"""Its parameters on a capture: a capture spans minutes, too short for the score on 1m and 5m bars to warm up."""

DEFAULT_ANALYZERS = analyzers_named("default")
Progress = Callable[[str], object]


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` did: the input session, the replay run, the backtest and the report's page."""

    db: Path
    session: SessionInfo
    replay: RunResult
    backtest: BacktestResult
    report: Path
    strategy: StrategySpec

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``virtuoso demo --json`` prints)."""
        return {
            "db": str(self.db),
            "session": self.session.id,
            "source": self.session.source,
            "events": self.session.events,
            "replay": {key: value for key, value in self.replay.summary().items() if key != "resumed"},
            "strategy": {"ref": self.strategy.ref, "params": self.strategy.config.as_dict()},
            "backtest": self.backtest.summary(),
            "report": str(self.report),
        }


async def run_demo(
    path: str | os.PathLike[str],
    seed: int = 7,
    *,
    captures: Sequence[str | os.PathLike[str]] = (),
    report_dir: str | os.PathLike[str] = "out/demo-report",
    market: MarketConfig | None = None,
    on_progress: Progress | None = None,
    replace: bool = False,
) -> DemoResult:
    """Replace the event log at ``path`` with a synthetic session of ``seed`` (or the ``captures``
    imported), replay it with the ``default`` analyzers, backtest the confluence strategy on it and
    write the report (``chart.png``, ``report.html``) into ``report_dir``.

    A log at ``path`` the demo did not make is refused unless ``replace``
    (see :func:`replace_event_log`). Everything is deterministic: the same seed (or captures) gives the same
    session, replay digest, backtest digest and metrics.
    """
    say = on_progress or (lambda line: None)
    files = check_captures(captures) if captures else []
    db = Path(path)
    await replace_event_log(db, replace=replace)
    db.parent.mkdir(parents=True, exist_ok=True)
    session = await _input_session(db, seed, files, market, say)
    say(f"replaying {session.events:,} events with the default analyzers")
    replay = await replay_run(AppConfig(db=db), RunConfig(ReplaySelection(sessions=(session.id,)), DEFAULT_ANALYZERS))
    say(f"backtesting {STRATEGY}")
    spec = StrategySpec.named(STRATEGY, CAPTURE_PARAMS if files else {})
    backtest = await run_backtest(AppConfig(db=db), _backtest_config(session, spec))
    say("drawing the report")
    store = await open_sqlite_store(db, readonly=True)
    try:
        backtest, traded = await with_market(store, backtest)  # the report draws the trades and the analyzers' series
    finally:
        await store.close()
    report = backtest.report(report_dir, traded)
    return DemoResult(db, session, replay, backtest, report, spec)


async def _input_session(
    db: Path, seed: int, captures: list[Path], market: MarketConfig | None, say: Progress
) -> SessionInfo:
    if captures:
        say(f"importing {len(captures)} capture file(s)")
        return await import_captures(db, captures)
    config = market if market is not None else MarketConfig()
    say(f"generating {config.hours:g} h of synthetic {config.symbol} (seed {seed})")
    return await build_demo_log(db, seed, config)


def _backtest_config(session: SessionInfo, spec: StrategySpec) -> BacktestConfig:
    """What ``virtuoso backtest --session ID --strategy ...`` would run (so the CLI finds it done)."""
    selection = ReplaySelection(sessions=(session.id,), order="exchange-time")
    return BacktestConfig(selection, spec, VenueConfig())
