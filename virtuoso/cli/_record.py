"""``virtuoso record --config FILE --db PATH``: record live market data from an exchange into a session.

A status line goes to stderr while it runs (rewritten in place on a terminal,
one line per interval otherwise). SIGINT or SIGTERM ends the recording cleanly:
everything received is committed and the session is closed.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from virtuoso.cli._app import err_console, fail, out_console, print_json, run
from virtuoso.exchange import RecordConfig, load_record_config, record


async def _load(config_file: Path | None, overrides: dict[str, Any]) -> RecordConfig:
    return load_record_config(config_file, overrides)


def _status_printer() -> Any:
    if err_console.is_terminal:
        return lambda line: err_console.print(line, markup=False, end="\r")
    return lambda line: err_console.print(line, markup=False)


def record_command(
    *,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config: \\[exchange], \\[ccxt], \\[record], \\[resilience] tables."),
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="The SQLite event log to record into (created if absent).")],
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds (default: until SIGINT/SIGTERM).")
    ] = None,
    exchange: Annotated[
        str | None, typer.Option("--exchange", help="ccxt exchange id (overrides \\[exchange] id).")
    ] = None,
    symbols: Annotated[str | None, typer.Option("--symbols", help="Comma-separated, e.g. BTC/USDT,ETH/USDT.")] = None,
    channels: Annotated[
        str | None, typer.Option("--channels", help="Comma-separated: trades,book,ohlcv:1m,ticker.")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="ws (WebSocket, the default) or rest (polling).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = False,
) -> None:
    """Record live trades, books, candles and tickers from an exchange (ccxt / ccxt.pro) into one session."""
    if not db.parent.is_dir():
        raise fail(f"folder {db.parent} does not exist", where=f"--db {db}")
    if duration is not None and duration <= 0:
        raise fail(f"expected a positive number of seconds, got {duration:g}", where="--duration")
    overrides = {"exchange": exchange, "symbols": symbols, "channels": channels, "mode": mode}
    config = run(lambda: _load(config_file, overrides))

    async def work() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await record(config, db, duration_s=duration, stop=stop, on_status=_status_printer())
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    summary = run(work)
    if as_json:
        print_json(summary)
        return
    counts = ", ".join(f"{name} {count:,}" for name, count in summary["counts"].items())
    rejected = sum(r["count"] for r in summary["rejected"])
    out_console.print(
        f"session {summary['session']} {summary['status']} ({summary['reason']}): {counts or 'no events'};"
        f" {len(summary['gaps'])} gaps, {len(summary['breaker_transitions'])} breaker transitions,"
        f" {rejected:,} rejected, {len(summary['channel_restarts'])} channel restarts",
        markup=False,
    )
