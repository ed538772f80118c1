"""``virtuoso demo``: the whole path on a seeded synthetic market (or Binance captures), in seconds.

It builds the log (see :mod:`virtuoso.demo`), replays it with the default
analyzers, backtests the confluence strategy, prints the metrics and both
digests, and writes the report. ``--log-only`` stops after the log: it is
listed and verified instead (tests and the docs' walk-through use that).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from virtuoso.cli._app import err_console, fail, out_console, print_json, run
from virtuoso.cli._backtest import _metrics_table, metrics_note
from virtuoso.cli._sessions import print_verify, sessions_table
from virtuoso.cli._tables import print_table
from virtuoso.demo import DemoResult, build_demo_log, replace_event_log, run_demo
from virtuoso.store import SessionInfo, VerifyReport, open_sqlite_store
from virtuoso.synthetic import MarketConfig

DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        help="Where to write the log. A demo log there is replaced (with its -wal and -shm files) so reruns "
        "are reproducible; a log holding anything else is refused unless --replace; any other file is left alone.",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the synthetic market; same seed, same everything.")]
CaptureOption = Annotated[
    list[Path] | None,
    typer.Option("--capture", help="Binance capture file(s) to use instead of the synthetic market (repeatable)."),
]
ReportOption = Annotated[Path, typer.Option("--report", help="Folder for chart.png and report.html.")]
HoursOption = Annotated[
    float,
    typer.Option("--hours", min=0.001, max=48, help="Length of the synthetic session (exchange time)."),
]
LogOnlyOption = Annotated[
    bool, typer.Option("--log-only", help="Only write the synthetic log, then list and verify it.")
]
DEFAULT_HOURS = MarketConfig().hours
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
ReplaceOption = Annotated[
    bool, typer.Option("--replace", help="Delete the log at --db even if it holds data the demo did not make.")
]


def demo(
    *,
    db: DbOption = Path("out/demo.sqlite"),
    seed: SeedOption = 7,
    capture: CaptureOption = None,
    report: ReportOption = Path("out/demo-report"),
    hours: HoursOption = DEFAULT_HOURS,
    log_only: LogOnlyOption = False,
    json_output: JsonOption = False,
    replace: ReplaceOption = False,
) -> None:
    """Build a seeded synthetic market (or import --capture files), replay it with the default analyzers,
    backtest the confluence strategy, print the metrics and digests, and write the report."""
    market = MarketConfig(hours=hours)
    if log_only and capture:
        raise fail("--log-only writes the synthetic log: it takes no --capture", code=2)
    if log_only:
        _log_only(db, seed, market, replace=replace)
        return
    began = time.perf_counter()

    def progress(line: str) -> None:
        if not json_output:
            err_console.print(f"{line}...", markup=False)

    result = run(lambda: run_demo(db, seed, captures=capture or (), report_dir=report, market=market,
                                  on_progress=progress, replace=replace))  # fmt: skip
    if json_output:
        print_json(result.summary())
        return
    _print(result, time.perf_counter() - began)


def _print(result: DemoResult, seconds: float) -> None:
    session, replay, backtest = result.session, result.replay, result.backtest
    params = ", ".join(f"{key}={_param(value)}" for key, value in result.strategy.config.as_dict().items() if value)
    lines = [
        f"session  {session.id} {session.name} ({session.source}): {session.events:,} events in {result.db}",
        f"replay   {replay.run}: {replay.events_out:,} events from the default analyzers",
        f"         digest {replay.digest}",
        f"backtest {backtest.run}: {result.strategy.ref} ({params})",
        f"         digest {backtest.digest}",
    ]
    for line in lines:
        out_console.print(line, markup=False)
    print_table(_metrics_table(backtest.summary()["metrics"]))
    out_console.print(metrics_note(backtest.metrics), markup=False)
    out_console.print(f"report: {escape(str(result.report))}")
    out_console.print(f"done in {seconds:.1f} s")


def _param(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _log_only(db: Path, seed: int, market: MarketConfig, *, replace: bool) -> None:
    async def work() -> tuple[list[SessionInfo], VerifyReport]:
        await replace_event_log(db, replace=replace)
        db.parent.mkdir(parents=True, exist_ok=True)
        await build_demo_log(db, seed, market)
        store = await open_sqlite_store(db, readonly=True)
        try:
            return await store.sessions(), await store.verify()
        finally:
            await store.close()

    infos, report = run(work)
    out_console.print(f"wrote {infos[-1].events} events to {escape(str(db))}")
    print_table(sessions_table(infos))
    print_verify(db, report, as_json=False)
    if not report.ok:
        raise typer.Exit(1)
