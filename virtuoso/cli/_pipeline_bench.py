"""``virtuoso bench pipeline``: your analyzers (and strategy) on your recorded session, stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from virtuoso.backtest import StrategySpec
from virtuoso.bench import (
    TOLERANCE,
    Comparison,
    PipelineFigures,
    PipelineSpec,
    bench_pipeline,
    bench_pipelines,
    compare,
)
from virtuoso.cli._app import err_console, error_text, fail, out_console, print_json, run
from virtuoso.cli._backtest import ParamOption, StrategyOption
from virtuoso.cli._replay import DbOption, JsonOption, SeedOption, SessionOption
from virtuoso.cli._sessions import existing_log
from virtuoso.errors import VirtuosoError


def pipeline_command(
    *,
    db: DbOption,
    session: SessionOption,
    analyzers: Annotated[
        str | None,
        typer.Option(
            "--analyzers",
            help="default, none, names, an analyzers .toml file, or a .py file defining PIPELINE"
            " (default: default; with --strategy, what the strategy asks for).",
        ),
    ] = None,
    strategy: StrategyOption = None,
    param: ParamOption = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processor workers (asyncio tasks in this process).")
    ] = 1,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timed rounds (after one untimed warm-up).")] = 5,
    seed: SeedOption = 0,
    save: Annotated[Path | None, typer.Option("--save", help="Write the figures to this JSON file.")] = None,
    against: Annotated[
        Path | None, typer.Option("--compare", help="Compare with figures saved by --save; exit 1 when slower.")
    ] = None,
    versus: Annotated[
        str | None,
        typer.Option(
            "--versus",
            help="Other analyzers (same forms as --analyzers) benchmarked in the same rounds, interleaved, and"
            " compared with; exit 1 when --analyzers is slower.",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, help="How much slower (0.1 = 10%) the whole or a stage may get."),
    ] = TOLERANCE,
    json_output: JsonOption = False,
) -> None:
    """Benchmark a pipeline on a recorded session: events/s, the read floor, and where the time goes."""
    existing_log(db)
    if against is not None and versus is not None:
        raise fail("--compare and --versus both name what to compare with: give one", code=2)
    spec = _spec(session, analyzers, strategy, param or [], workers=workers, seed=seed)
    before = _load(against) if against is not None else None
    if versus is not None:
        other = _spec(session, versus, strategy, param or [], workers=workers, seed=seed)
        before, figures = run(lambda: bench_pipelines(db, [other, spec], rounds=rounds))
    else:
        figures = run(lambda: bench_pipeline(db, spec, rounds=rounds))
    if save is not None:
        figures.save(save)
    comparison = compare(before, figures, tolerance) if before is not None else None
    if json_output:
        document = figures.as_dict()
        if comparison is not None:
            document["comparison"] = comparison.as_dict()
        print_json(document)
    else:
        _print(figures, comparison)
    if comparison is not None:
        _judge(comparison, notes=versus is None)


def _spec(
    session: str, analyzers: str | None, strategy: str | None, params: list[str], *, workers: int, seed: int
) -> PipelineSpec:
    from virtuoso.cli._backtest import param_pairs  # noqa: PLC0415  # the --param parsing backtest uses

    if params and strategy is None:
        raise fail("--param sets a strategy parameter: name the strategy with --strategy", code=2)
    if strategy is not None and workers != 1:
        raise fail("--workers is the processor's, and a backtest runs its analyzers inline: drop it", code=2)
    try:
        built = None if strategy is None else StrategySpec.named(strategy, param_pairs(params))
        spec = PipelineSpec(session, analyzers=analyzers, strategy=built, workers=workers, seed=seed)
        spec.analyzer_specs()  # an unloadable analyzers file fails here, before the log is copied
    except VirtuosoError as exc:
        raise fail(error_text(exc)) from None
    return spec


def _load(path: Path) -> PipelineFigures:
    try:
        return PipelineFigures.load(path)
    except VirtuosoError as exc:
        raise fail(error_text(exc)) from None


def _print(figures: PipelineFigures, comparison: Comparison | None) -> None:
    out_console.print(
        f"{figures.events:,} events in {figures.total_ns / 1e9:.3f} s (median of {figures.rounds} rounds):"
        f" {figures.events_per_s:,.0f} events/s; floor (read+decode alone) {figures.floor_per_s:,.0f} events/s;"
        f" ratio {figures.ratio:.3f}; peak RSS {figures.peak_rss_bytes / 2**20:,.0f} MiB",
        markup=False,
    )
    out_console.print(_stages_table(figures))
    if comparison is not None:
        out_console.print(_comparison_table(comparison))


def _stages_table(figures: PipelineFigures) -> Table:
    table = Table(title="where the time goes (the median round)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "share", "ns/event", "x floor", "calls"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in figures.stages:
        share, per_event, units = f"{stage.share:.1%}", f"{stage.ns_per_event:,.0f}", f"{stage.floor_units:.3f}"
        table.add_row(stage.name, share, per_event, units, f"{stage.calls:,}")
    return table


def _comparison_table(comparison: Comparison) -> Table:
    title = f"against the earlier figures (floor units, tolerance {comparison.tolerance:.0%})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "before", "after", "change", "verdict"):
        table.add_column(column, justify="left" if column in ("stage", "verdict") else "right")
    for row in comparison.rows:
        change = "" if row.change is None else f"{row.change:+.1%}"
        before = "" if row.before is None else f"{row.before:.3f}"
        after = "" if row.after is None else f"{row.after:.3f}"
        table.add_row(row.name, before, after, change, "SLOWER" if row.slower else "ok")
    return table


def _judge(comparison: Comparison, *, notes: bool) -> None:
    if notes and not comparison.same_pipeline:
        err_console.print("note: the saved run measured another pipeline configuration (its config hash differs)")
    if notes and not comparison.same_session:
        err_console.print("note: the saved run measured another session")
    slower = comparison.slower
    if slower:
        listed = ", ".join(f"{row.name} {row.change:+.1%}" for row in slower if row.change is not None)
        raise fail(f"slower than the figures compared with, by more than {comparison.tolerance:.0%}: {listed}")
