"""``virtuoso sweep``: a strategy's parameter grid backtested across sessions, ranked, with a heat map."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from virtuoso.backtest import VenueConfig
from virtuoso.cli._app import err_console, error_text, fail, out_console, print_json
from virtuoso.cli._backtest import param_pairs
from virtuoso.cli._progress import Reporter, progress
from virtuoso.cli._replay import DbOption, JsonOption
from virtuoso.cli._sessions import existing_log
from virtuoso.cli._tables import print_table
from virtuoso.errors import VirtuosoError
from virtuoso.replay import ORDERS
from virtuoso.sweep import (
    DaskExecutor,
    Executor,
    Grid,
    LocalExecutor,
    SerialExecutor,
    SweepConfig,
    SweepReport,
    TaskOutcome,
    load_grid,
    parse_split,
    run_sweep,
)

_EXECUTORS = ("local", "dask")
PARTIAL_EXIT_CODE = 4
"""Exit status of a sweep where some tasks failed (the ranking holds the others); all failed is 1."""
_SHOWN_ERRORS = 5


def sweep_command(
    *,
    db: DbOption,
    grid: Annotated[Path, typer.Option("--grid", help="The grid file (TOML): parameter values, constraints.")],
    sessions: Annotated[str, typer.Option("--sessions", help="Comma-separated session ids (or prefixes), or all.")] = (
        "all"
    ),
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="MODULE:CLASS or FILE.py:CLASS (default: the grid file's).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="A strategy parameter fixed for every configuration, key=value (repeatable)."),
    ] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (a process pool) or dask.")] = "local",
    workers: Annotated[
        int | None, typer.Option("--workers", help="Local worker processes (default: the CPU count; 1 runs inline).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="The Dask scheduler's address (tcp://host:8786).")
    ] = None,
    ship: Annotated[
        bool, typer.Option("--ship", help="Send the sessions to the Dask workers as Parquet (no shared path).")
    ] = False,
    worker_db: Annotated[
        str | None, typer.Option("--worker-db", help="The log's path on the workers (default: --db, absolute).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Results directory (a re-run resumes it).")] = Path("sweep"),
    metric: Annotated[str | None, typer.Option("--metric", help="Rank by this metric (default total_return).")] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Walk-forward TRAIN:TEST shares of each session's time, e.g. 70:30.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of every backtest (default: the grid's, or 0).")
    ] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run failed tasks again.")] = False,
    reports: Annotated[
        bool, typer.Option("--reports", help="Write each configuration's report; heatmap.html links cells to them.")
    ] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="Configurations shown in the ranking.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Backtest every configuration of a grid on each session; rank them (and draw a heat map)."""
    existing_log(db)
    try:
        config = _config(
            db,
            grid,
            sessions=sessions,
            strategy=strategy,
            metric=metric,
            split=split,
            seed=seed,
            worker_db=worker_db,
            params=param_pairs(param or []),
        )
        if ship and worker_db is not None:
            raise fail("--ship sends the sessions: it takes no --worker-db", code=2)
        chosen = _executor(executor, workers, scheduler, ship=ship)
    except VirtuosoError as exc:
        raise fail(error_text(exc), where="--grid") from None
    try:
        with chosen, _progress(not json_output) as on_progress:
            report = run_sweep(config, chosen, out, retry_failed=retry_failed, reports=reports, on_progress=on_progress)
    except VirtuosoError as exc:
        raise fail(error_text(exc)) from None
    if report.tasks and not report.succeeded:
        _print_errors(report)
        raise fail(f"all {report.tasks} tasks failed: nothing to rank (results in {report.out})")
    _print(report, top, json_output)
    if report.trades == 0:
        warn(
            f"no configuration traded on any session ({report.succeeded} backtests, 0 trades): every metric is "
            "flat; check the parameters (thresholds, timeframes) and the analyzers the strategy reads"
        )
    if report.failed:
        _print_errors(report)
        warn(f"{report.failed} of {report.tasks} tasks failed: the ranking leaves them out (exit {PARTIAL_EXIT_CODE})")
        raise typer.Exit(PARTIAL_EXIT_CODE)


def _config(
    db: Path, grid_path: Path, *, sessions: str, strategy: str | None, metric: str | None, split: str | None,
    seed: int | None, worker_db: str | None, params: dict[str, str],
) -> SweepConfig:  # fmt: skip
    grid = _fixed(load_grid(grid_path), params, grid_path)
    settings = grid.settings
    ref = strategy or settings.get("strategy")
    if not ref:
        raise fail("name a strategy: --strategy MODULE:CLASS, or strategy in the grid's [sweep] table", code=2)
    order = settings.get("order", "exchange-time")
    if order not in ORDERS:
        raise fail(f"{grid_path}: sweep.order must be one of {', '.join(ORDERS)}, not {order!r}")
    names = tuple(s.strip() for s in sessions.split(",") if s.strip()) or ("all",)
    venue = VenueConfig.from_mapping(grid.venue, source=str(grid_path)) if grid.venue is not None else VenueConfig()
    return SweepConfig(
        db, ref, grid, names, venue, settings.get("analyzers"), seed if seed is not None else settings.get("seed", 0),
        order, None if split is None else parse_split(split), metric or settings.get("metric", "total_return"),
        worker_db,
    )  # fmt: skip


def _fixed(grid: Grid, params: dict[str, str], path: Path) -> Grid:
    """``grid`` with ``params`` (``--param``) as one-value parameters; a parameter the grid varies is refused."""
    for name in params:
        values = grid.params.get(name, ())
        if len(values) > 1:
            shown = ", ".join(map(str, values))
            raise fail(f"--param {name} fixes a parameter {path} varies ({name} = [{shown}]): drop one", code=2)
    merged = {**grid.params, **{name: (value,) for name, value in params.items()}}
    return replace(grid, params=merged)


def _executor(kind: str, workers: int | None, scheduler: str | None, *, ship: bool) -> Executor:
    if kind not in _EXECUTORS:
        raise fail(f"--executor must be one of {', '.join(_EXECUTORS)}, not {kind!r}", code=2)
    if kind == "dask":
        if scheduler is None:
            raise fail("--executor dask needs --scheduler ADDRESS (tcp://host:8786)", code=2)
        return DaskExecutor(scheduler, ship=ship)
    if scheduler is not None or ship:
        raise fail("--scheduler and --ship are for --executor dask", code=2)
    count = workers if workers is not None else os.cpu_count() or 1
    return SerialExecutor() if count == 1 else LocalExecutor(count)


def warn(message: str) -> None:
    """One ``warning:`` line on stderr."""
    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}")


def _print_errors(report: SweepReport) -> None:
    """The distinct reasons tasks failed, most frequent first, one line each, on stderr."""
    for error, count in list(report.errors.items())[:_SHOWN_ERRORS]:
        err_console.print(f"  {count} task(s): {error.splitlines()[0] if error else '(no message)'}", markup=False)
    if len(report.errors) > _SHOWN_ERRORS:
        err_console.print(f"  ... and {len(report.errors) - _SHOWN_ERRORS} other reasons", markup=False)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[TaskOutcome, int, int], None] | None]:
    """Tasks done of those to run, failures so far and the time left, on stderr: a transient bar on a terminal,
    plain lines (``_progress.py``) otherwise."""
    if not enabled:
        yield None
        return
    if not err_console.is_terminal:
        with progress("sweep", unit="tasks") as show:
            yield None if show is None else _lines(show)
        return
    bar = Progress(
        TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(), console=err_console, transient=True,
    )  # fmt: skip
    task = bar.add_task("sweep", total=None, failed=0)
    failed = 0

    def update(outcome: TaskOutcome, done: int, total: int) -> None:
        nonlocal failed
        failed += outcome.status == "failed"
        bar.update(task, completed=done, total=total, failed=failed)

    with bar:
        yield update


def _lines(show: Reporter) -> Callable[[TaskOutcome, int, int], None]:
    failed = 0

    def update(outcome: TaskOutcome, done: int, total: int) -> None:
        nonlocal failed
        failed += outcome.status == "failed"
        show(done, total, detail=f"{failed} failed")

    return update


def _print(report: SweepReport, top: int, json_output: bool) -> None:
    if json_output:
        print_json(report.summary(top))
        return
    print_table(_ranking_table(report, top))
    counts = f"tasks {report.tasks}: {report.ran} ran, {report.skipped} already done, {report.failed} failed"
    out_console.print(counts, markup=False)
    for name, path in report.files.items():
        out_console.print(f"{name:<8} {path}", markup=False)


def _ranking_table(report: SweepReport, top: int) -> Table:
    split = report.split is not None
    table = Table(title=f"best by {report.metric}", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("#", "parameters", "in-sample" if split else report.metric):
        table.add_column(name, justify="right" if name != "parameters" else "left")
    if split:
        table.add_column("out-of-sample", justify="right")
    table.add_column("sessions", justify="right")
    table.add_column("failed", justify="right")
    for place, entry in enumerate(report.ranking[:top], 1):
        row = [str(place), _params(entry.params, report.varying), _number(entry.value)]
        row += [_number(entry.test_value)] if split else []
        table.add_row(*row, str(entry.sessions), str(entry.failed))
    return table


def _params(params: dict[str, Any], varying: tuple[str, ...]) -> str:
    return " ".join(f"{name}={value}" for name, value in params.items() if name in varying or not varying)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
