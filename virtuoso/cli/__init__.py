"""Command-line interface (``virtuoso --help``). Nothing in the library imports this.

The root group lists the commands below without importing them (``_lazy.py``): a
command's module, and the heavy libraries it needs, load only when it runs.
"""

from __future__ import annotations

import typer

from virtuoso.cli._lazy import LazyCommand, LazyGroup, state

COMMANDS = (
    LazyCommand(
        "demo", "virtuoso.cli._demo", "demo",
        "Build a seeded synthetic market (or import --capture files), replay it with the default analyzers, "
        "backtest the confluence strategy, print the metrics and digests, and write the report.",
    ),
    LazyCommand(
        "bench", "virtuoso.cli._bench", "bench_app",
        "Run the benchmark suites against raw baselines; `bench pipeline` measures your own pipeline.",
    ),
    LazyCommand(
        "import", "virtuoso.cli._import", "import_command",
        "Import recorded market data files into one session of an event log.",
    ),
    LazyCommand(
        "status", "virtuoso.cli._status", "status_command",
        "Show a recording's health: session, streams, breakers, gaps, last health report, rejected answers.",
    ),
    LazyCommand(
        "replay", "virtuoso.cli._replay", "replay_command",
        "Replay a session through the analyzers into a run of the log, and print the run's digest.",
    ),
    LazyCommand(
        "verify-replay", "virtuoso.cli._replay", "verify_replay_command",
        "Replay a session N times (worker counts and read chunk sizes varied) and fail if any digest differs.",
    ),
    LazyCommand(
        "record", "virtuoso.cli._record", "record_command",
        "Record live trades, books, candles and tickers from an exchange (ccxt / ccxt.pro) into one session.",
    ),
    LazyCommand(
        "backtest", "virtuoso.cli._backtest", "backtest_command",
        "Backtest a strategy on a recorded session; print its metrics (and write its report).",
    ),
    LazyCommand(
        "export", "virtuoso.cli._export", "export_command",
        "Export a session or run as one Parquet or CSV file per event type, with typed columns.",
    ),
    LazyCommand(
        "sweep", "virtuoso.cli._sweep", "sweep_command",
        "Backtest every configuration of a grid on each session; rank them (and draw a heat map).",
    ),
    LazyCommand(
        "report", "virtuoso.cli._report", "report_command",
        "Write a backtest run's interactive report.html and chart.png; 'compare RUN RUN...' sets runs side by side.",
    ),
    LazyCommand(
        "sessions", "virtuoso.cli._sessions", "sessions_app",
        "List, show, verify and prune the sessions of an event log.",
    ),
    LazyCommand(
        "migrate", "virtuoso.cli._migrate", "migrate_command",
        "Rewrite a row-layout event log into the columnar layout; prove it by the chain's head and replay digests.",
    ),
    LazyCommand(
        "book", "virtuoso.cli._book", "book_app",
        "Print the order book of a session at an exchange time; `book checkpoint` makes it fast.",
    ),
    LazyCommand(
        "testing", "virtuoso.cli._testing", "testing_app",
        "Test kit: a loopback exchange to rehearse recording offline.",
    ),
)  # fmt: skip
"""Every top-level command: name, module, attribute, and the purpose ``--help`` lists (a test checks they agree)."""


class _Root(LazyGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="virtuoso",
    cls=_Root,
    help="Record, replay and backtest crypto market data on an append-only event log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click help for the root: rich's help renderer alone costs more than the whole start-up budget.
    rich_markup_mode=None,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from virtuoso import __version__  # noqa: PLC0415  # read only when asked

        typer.echo(f"virtuoso {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state["debug"] = debug


def main() -> None:
    """Entry point of the ``virtuoso`` console script."""
    app(prog_name="virtuoso")


__all__ = ["COMMANDS", "app", "main"]
