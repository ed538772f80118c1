"""``virtuoso backtest``: a session through a strategy and the simulated venue, into a run, with metrics."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from virtuoso.app import AppConfig
from virtuoso.backtest import (
    ANNUALIZED_KEYS,
    BacktestConfig,
    BacktestResult,
    RunFile,
    StrategySpec,
    VenueConfig,
    annualization_note,
    format_metric,
    load_run_file,
    load_venue_config,
    run_backtest,
    with_market,
)
from virtuoso.cli._app import err_console, error_text, fail, out_console, print_json, run, time_range
from virtuoso.cli._replay import (
    DbOption,
    FromOption,
    JsonOption,
    SessionOption,
    ToOption,
    progress_bar,
    selected_events,
)
from virtuoso.cli._sessions import existing_log, opened
from virtuoso.cli._tables import print_table
from virtuoso.errors import VirtuosoError
from virtuoso.replay import ORDERS, AnalyzerSpec, ReplaySelection, analyzers_named

StrategyOption = Annotated[
    str | None,
    typer.Option("--strategy", help="MODULE:CLASS or FILE.py:CLASS (e.g. virtuoso.strategies:MovingAverageCross)."),
]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", help="A strategy parameter as key=value (repeatable).")
]
_PERCENT = {"total_return", "annualized_return", "annualized_volatility", "max_drawdown", "win_rate", "exposure"}


def backtest_command(
    *,
    db: DbOption,
    session: SessionOption,
    strategy: StrategyOption = None,
    param: ParamOption = None,
    venue: Annotated[
        Path | None, typer.Option("--venue", help="Venue settings (TOML): fees, latency, markets...")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A run file (see replays/); flags override it.")
    ] = None,
    analyzers: Annotated[
        str | None, typer.Option("--analyzers", help="Analyzers to run (default: what the strategy asks for).")
    ] = None,
    start: FromOption = None,
    end: ToOption = None,
    order: Annotated[
        str | None, typer.Option("--order", help=f"One of: {', '.join(ORDERS)} (default exchange-time).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the latency sampler and the analyzers.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the interactive report.html and chart.png here.")
    ] = None,
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Write orders/fills/equity/positions Parquet here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even if this backtest already ran.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Backtest a strategy on a recorded session; print its metrics (and write its report)."""
    existing_log(db)
    _check_outputs(report=report, parquet=parquet)
    try:
        backtest = _backtest_config(
            session, strategy=strategy, params=param or [], venue=venue, config=config, analyzers=analyzers,
            order=order, seed=seed, start=start, end=end,
        )  # fmt: skip
    except VirtuosoError as exc:  # the run file, venue file, strategy or its parameters
        raise fail(
            error_text(exc), where=_options_where(strategy=strategy, param=param, config=config, venue=venue)
        ) from None

    async def work() -> BacktestResult:
        total = await selected_events(db, backtest.selection.sessions[0])
        with progress_bar("backtest", total, not json_output) as on_progress:
            return await run_backtest(AppConfig(db=db), backtest, force=force, on_progress=on_progress)

    result = run(work)
    written = _write_outputs(result, db, report, parquet)
    _print(result, written, json_output)


def _backtest_config(
    session: str, *, strategy: str | None, params: list[str], venue: Path | None, config: Path | None,
    analyzers: str | None, order: str | None, seed: int | None, start: str | None, end: str | None,
) -> BacktestConfig:  # fmt: skip
    start_ns, end_ns = time_range(start, end)
    file = load_run_file(config) if config is not None else RunFile(Path("flags"))
    ref = strategy or file.strategy
    if not ref:
        raise fail("name a strategy: --strategy MODULE:CLASS, or a run file with [backtest] strategy", code=2)
    spec = StrategySpec.named(ref, {**file.params, **param_pairs(params)})
    chosen = order or file.order or "exchange-time"
    if chosen not in ORDERS:
        raise fail(f"--order must be one of {', '.join(ORDERS)}, not {chosen!r}", code=2)
    selection = ReplaySelection(
        sessions=(session,),
        start_ns=start_ns,
        end_ns=end_ns,
        order="exchange-time" if chosen == "exchange-time" else "position",
    )
    backtest = BacktestConfig(
        selection,
        spec,
        _venue(venue, file),
        _analyzers(analyzers, file),
        seed if seed is not None else file.seed or 0,
    )
    _warn_of_analyzers_left_out(backtest, "--analyzers" if analyzers is not None else str(file.path))
    return backtest


def _warn_of_analyzers_left_out(backtest: BacktestConfig, where: str) -> None:
    """A warning line when the analyzers chosen leave out some the strategy asks for (it may then see no signal)."""
    left_out = backtest.analyzers_left_out()
    if left_out:
        name = backtest.strategy.cls.__name__
        err_console.print(
            f"[yellow]warning:[/yellow] {escape(name)} asks for the analyzers {escape(', '.join(left_out))}, "
            f"which the ones chosen leave out: it may see no signal and trade nothing ({escape(where)})"
        )


def _options_where(**given: object) -> str:
    """The options given that a backtest's set-up reads (``--strategy, --param``): the place its errors name."""
    return ", ".join(f"--{name}" for name, value in given.items() if value) or "the run file"


def param_pairs(params: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--param takes key=value, not {item!r}", code=2)
        pairs[key.strip()] = value.strip()
    return pairs


def _venue(path: Path | None, file: RunFile) -> VenueConfig:
    if path is not None:
        return load_venue_config(path)
    if file.venue is not None:
        return VenueConfig.from_mapping(file.venue, source=str(file.path))
    return VenueConfig()


def _analyzers(flag: str | None, file: RunFile) -> tuple[AnalyzerSpec, ...] | None:
    """The analyzers named by the flag or the run file; None: the strategy's own (``BacktestConfig`` derives them)."""
    chosen = flag if flag is not None else file.analyzers
    return None if chosen is None else tuple(analyzers_named(chosen))


def _check_outputs(**folders: Path | None) -> None:
    """Refuse, before the backtest runs, an output folder that cannot be one or cannot be written."""
    for option, folder in folders.items():
        if folder is None:
            continue
        if folder.exists() and not folder.is_dir():
            raise fail(f"--{option} {folder}: exists and is not a folder (it names the folder to write into)", code=2)
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
        if not existing.is_dir():
            raise fail(f"--{option} {folder}: {existing} is not a folder", code=2)
        if not _writable(existing):
            raise fail(f"nothing can be written in {existing}", where=f"--{option} {folder}")


def _writable(folder: Path) -> bool:
    """Whether a folder can be made in ``folder`` (tried: permission bits do not tell root, nor /proc)."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder))
    except OSError:
        return False
    return True


def _write_outputs(result: BacktestResult, db: Path, report: Path | None, parquet: Path | None) -> dict[str, str]:
    written: dict[str, str] = {}
    if report is not None:
        written["report"] = str(run(lambda: _report(result, db, report)))
    if parquet is not None:
        written["parquet"] = str(parquet)
        result.to_parquet(parquet)
    return written


async def _report(result: BacktestResult, db: Path, directory: Path) -> Path:
    """The report with the run's market read back from the log (trade-resolution prices, analyzer series)."""
    async with opened(db, readonly=True) as store:
        full, market = await with_market(store, result)
    return full.report(directory, market)


def _print(result: BacktestResult, written: dict[str, str], json_output: bool) -> None:
    summary: dict[str, Any] = {**result.summary(), **written}
    if json_output:
        print_json(summary)
        return
    print_table(_metrics_table(summary["metrics"]))
    out_console.print(metrics_note(result.metrics), markup=False)
    for key in ("run", "digest", "events_in", "cached", *written):
        out_console.print(f"{key:<10} {summary[key]}", markup=False)


def metrics_note(metrics: dict[str, Any]) -> str:
    """The footnote of the metrics table's ``*`` rows: the span and mark interval, or why they are withheld."""
    return f"* {annualization_note(metrics)}"


def _metrics_table(metrics: dict[str, Any]) -> Table:
    table = Table(title="metrics", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(f"{key}*" if key in ANNUALIZED_KEYS else key, _format(key, value))
    return table


def _format(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in _PERCENT:
        return f"{value * 100:.2f}%"
    if key in ("span_s", "mark_interval_s", "max_drawdown_duration_s"):
        return format_metric(key, value)
    if isinstance(value, float):
        return f"{value:,.4f}"
    return f"{value:,}"
