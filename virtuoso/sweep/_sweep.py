"""Running a sweep: plan, skip what the results table holds, run the rest, rank, write Parquet and the heat map."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso.sweep._executors import Executor
from virtuoso.sweep._heatmap import write_heatmap, write_heatmap_page
from virtuoso.sweep._plan import SweepConfig, plan_sweep
from virtuoso.sweep._results import ResultsTable
from virtuoso.sweep._tasks import Task, TaskOutcome, report_task

LOWER_IS_BETTER = frozenset(("max_drawdown", "max_drawdown_duration_s", "annualized_volatility", "fees"))
"""Metrics ranked ascending; every other metric ranks the highest first."""
HEATMAP_FILE = "heatmap.png"
HEATMAP_PAGE = "heatmap.html"
REPORTS_DIR = "reports"
"""``OUT/reports/<config hash, 12 characters>/report.html``: each configuration's report (``reports=True``)."""

Progress = Callable[[TaskOutcome, int, int], object]
"""Called after each task with its outcome, the tasks done so far in this run and the tasks to run."""


@dataclass(frozen=True)
class Ranked:
    """One configuration's metric: the mean over its sessions (in-sample with a split) and, with a split,
    the out-of-sample mean beside it."""

    params: dict[str, Any]
    config_hash: str
    value: float | None
    test_value: float | None
    sessions: int
    """Sessions where the (in-sample) backtest gave the metric."""
    failed: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "params": self.params, "config_hash": self.config_hash, "value": self.value,
            "test_value": self.test_value, "sessions": self.sessions, "failed": self.failed,
        }  # fmt: skip


@dataclass(frozen=True)
class SweepReport:
    """What a sweep did and found."""

    out: Path
    tasks: int
    skipped: int
    """Tasks the results table already held (an earlier, interrupted or finished, run)."""
    ran: int
    failed: int
    """Failed tasks in the whole table (not only this run's)."""
    metric: str
    split: tuple[int, int] | None
    ranking: list[Ranked] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    varying: tuple[str, ...] = ()
    """The grid's parameters with more than one value."""
    errors: dict[str, int] = field(default_factory=dict)
    """Why tasks failed: each distinct error and how many tasks it stopped, most frequent first."""
    trades: int = 0
    """Trades of every task that finished (0: the grid never traded, so every metric is flat)."""

    @property
    def succeeded(self) -> int:
        """Tasks (of the whole table) that finished."""
        return self.tasks - self.failed

    def summary(self, top: int | None = None) -> dict[str, Any]:
        """JSON-ready fields (the ``top`` best configurations)."""
        return {
            "out": str(self.out), "tasks": self.tasks, "skipped": self.skipped, "ran": self.ran,
            "failed": self.failed, "metric": self.metric, "split": None if self.split is None else list(self.split),
            "ranking": [r.as_dict() for r in self.ranking[:top]], "files": self.files, "errors": self.errors,
            "trades": self.trades,
        }  # fmt: skip


def run_sweep(
    config: SweepConfig,
    executor: Executor,
    out: Path,
    *,
    retry_failed: bool = False,
    reports: bool = False,
    on_progress: Progress | None = None,
) -> SweepReport:
    """Run every task of ``config`` the results table in ``out`` does not hold yet on ``executor``; the report.

    Outcomes are committed as they arrive, so an interrupted sweep resumes
    where it stopped. Failed tasks are done too, unless ``retry_failed``.
    With ``reports``, each configuration that gave its metric is backtested once
    more in this process, on its first task (session and part), and its report
    written under ``OUT/reports/``; ``heatmap.html`` links each cell to it.
    """
    plan = asyncio.run(plan_sweep(config))
    table = ResultsTable(out, plan.identity)
    try:
        done = table.done(failed=not retry_failed)
        todo = [task for task in plan.tasks if task.key not in done]
        for count, outcome in enumerate(executor.run(todo), 1):
            table.record(outcome)
            if on_progress is not None:
                on_progress(outcome, count, len(todo))
        wanted = {task.key for task in plan.tasks}
        outcomes = [o for o in table.outcomes() if o.key in wanted]
        files = {"results": str(table.path), "parquet": str(table.write_parquet())}
    finally:
        table.close()
    ranking = rank(outcomes, config.metric)
    heatmap = write_heatmap(out / HEATMAP_FILE, config.grid, ranking, config.metric)
    if heatmap is not None:
        files["heatmap"] = str(heatmap)
    if reports:
        links = _write_reports(config, plan.tasks, ranking, out)
        page = write_heatmap_page(out / HEATMAP_PAGE, config.grid, ranking, config.metric, links)
        if page is not None:
            files["page"] = str(page)
    failed = sum(o.status == "failed" for o in outcomes)
    errors = Counter(o.error for o in outcomes if o.status == "failed")
    trades = sum(int(o.metrics.get("trades") or 0) for o in outcomes if o.status == "ok")
    return SweepReport(out, len(plan.tasks), len(plan.tasks) - len(todo), len(todo), failed, config.metric,
                       config.split, ranking, files, config.grid.varying, dict(errors.most_common()),
                       trades)  # fmt: skip


def _write_reports(config: SweepConfig, tasks: Sequence[Task], ranking: list[Ranked], out: Path) -> dict[str, str]:
    """Each ranked configuration's report from its first task; config hash -> the page's path relative to ``out``."""
    first: dict[str, Task] = {}
    for task in tasks:
        first.setdefault(task.config_hash, task)
    links: dict[str, str] = {}
    for entry in ranking:
        chosen = first.get(entry.config_hash)
        if entry.value is not None and chosen is not None:
            page = report_task(chosen, config.db, out / REPORTS_DIR / entry.config_hash[:12])
            links[entry.config_hash] = page.relative_to(out).as_posix()
    return links


def rank(outcomes: list[TaskOutcome], metric: str) -> list[Ranked]:
    """Configurations by their mean ``metric`` over sessions (in-sample with a split), best first;
    configurations without a value last; ties by config hash."""
    groups: dict[str, list[TaskOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.config_hash, []).append(outcome)
    ranked = [_ranked(group, metric) for group in groups.values()]
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    return sorted(ranked, key=lambda r: (r.value is None, sign * (r.value or 0.0), r.config_hash))


def _ranked(group: list[TaskOutcome], metric: str) -> Ranked:
    main = [o for o in group if o.part != "test"]
    test = [o for o in group if o.part == "test"]
    values = _values(main, metric)
    return Ranked(
        group[0].params, group[0].config_hash, _mean(values), _mean(_values(test, metric)) if test else None,
        len(values), sum(o.status == "failed" for o in group),
    )  # fmt: skip


def _values(outcomes: list[TaskOutcome], metric: str) -> list[float]:
    found = (o.metrics.get(metric) for o in outcomes if o.status == "ok")
    return [float(v) for v in found if v is not None and math.isfinite(v)]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None
