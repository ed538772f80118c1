"""``virtuoso report``: the interactive report of a finished backtest run, or several runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virtuoso.cli._app import fail, out_console, print_json, run
from virtuoso.cli._replay import DbOption, JsonOption
from virtuoso.cli._sessions import existing_log, opened

RunsArgument = Annotated[
    list[str],
    typer.Argument(
        help="A backtest run id (or unique prefix); or 'compare' and two or more run ids.", show_default=False
    ),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Where to write the report (default: reports/<run> or reports/compare).")
]


def report_command(runs: RunsArgument, *, db: DbOption, out: OutOption = None, json_output: JsonOption = False) -> None:
    """Write a backtest run's interactive report.html and chart.png; 'compare RUN RUN...' sets runs side by side."""
    existing_log(db)
    if runs[0] == "compare":
        if len(runs) < 3:
            raise fail("report compare takes two or more run ids (see --help)", code=2)
        path = run(lambda: _compare(db, runs[1:], out))
    else:
        if len(runs) > 1:
            raise fail(
                f"report takes one run id, got {len(runs)}: use 'report compare RUN RUN...' (see --help)", code=2
            )
        path = run(lambda: _report(db, runs[0], out))
    if json_output:
        print_json({"report": str(path)})
    else:
        out_console.print(f"report     {path}", markup=False)


async def _report(db: Path, run_id: str, out: Path | None) -> Path:
    from virtuoso.backtest import load_result, with_market  # noqa: PLC0415 - pandas/plotly load only when used

    async with opened(db, readonly=True) as store:
        result, market = await with_market(store, await load_result(store, run_id))
    return result.report(out if out is not None else Path("reports") / result.run[:12], market)


async def _compare(db: Path, run_ids: list[str], out: Path | None) -> Path:
    from virtuoso.backtest import compare_report, load_result  # noqa: PLC0415 - pandas/plotly load only when used

    async with opened(db, readonly=True) as store:
        results = [await load_result(store, run_id) for run_id in run_ids]
    return compare_report(results, out if out is not None else Path("reports") / "compare")
