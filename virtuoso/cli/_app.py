"""The ``virtuoso`` command: a thin typer app that parses, calls the library, prints.

Errors are one red line on stderr and a non-zero exit; ``--debug`` (before the command)
prints the traceback above that line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
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
    """Print ``message`` as the one-line error and return the Exit to raise.

    With ``--debug``, the traceback comes first: of the exception being handled,
    else of the call to ``fail``.
    """
    if _state["debug"]:
        _print_traceback()
    err_console.print(f"[red]error:[/red] {escape(message)}", markup=True)
    return typer.Exit(code)


def _print_traceback() -> None:
    if sys.exc_info()[1] is not None:
        text = traceback.format_exc()
    else:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_stack()[:-2])
    err_console.print(text.rstrip(), markup=False, highlight=False, soft_wrap=True)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body, turning our errors into one line and exit 1 (``--debug``: traceback first)."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except VirtuosoError as exc:
        raise fail(str(exc)) from None


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")
