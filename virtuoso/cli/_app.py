"""The ``virtuoso`` command: a thin typer app that parses, calls the library, prints.

Errors are one red line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from virtuoso.errors import VirtuosoError

T = TypeVar("T")

app = typer.Typer(
    name="virtuoso",
    help="Record, replay and backtest crypto market data on an append-only event log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)
_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    _state["debug"] = debug


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as the one-line error and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {escape(message)}", markup=True)
    return typer.Exit(code)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body, turning our errors into one line and exit 1."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except VirtuosoError as exc:
        if _state["debug"]:
            raise
        raise fail(str(exc)) from None


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")
