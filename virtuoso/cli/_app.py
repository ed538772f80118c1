"""What every command shares: the one-line error, running an async body, JSON output.

Errors are one red line on stderr, ``error: <what> (<where>)``, and a non-zero exit;
``--debug`` (before the command) prints the traceback above that line. The root group
itself is in ``__init__.py`` (and ``_lazy.py``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback as tb
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.globals import get_current_context as click_context

from virtuoso.cli._lazy import USAGE_EXIT_CODE, state
from virtuoso.errors import VirtuosoError

T = TypeVar("T")

# emoji=False: a stream named "nope:x:trades" must not print as "nope❌trades".
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out_console = Console(highlight=False, soft_wrap=True, emoji=False)


def fail(message: str, code: int = 1, *, where: str | None = None) -> typer.Exit:
    """Print ``message`` as the one-line error, ``error: <what> (<where>)``, and return the Exit to raise.

    A usage error (exit 2) ends ``(virtuoso CMD; see virtuoso CMD --help)``. Any other names its
    place: ``where`` if given, else the command's ``--db`` log (else the command), unless the message
    already ends in a parenthesis (which names its place or its cause). With ``--debug``, the traceback comes
    first: of the exception being handled, else of the call to ``fail``.
    """
    if state["debug"]:
        _print_traceback(skip=2)
    if code == USAGE_EXIT_CODE:
        fail_line(message + _usage_pointer())
    else:
        fail_line(placed(message, where if where is not None else _the_log()))
    return typer.Exit(code)


def placed(message: str, where: str | None) -> str:
    """``message (where)``: ``where`` moved to the end if the message begins with it, nothing added when
    ``where`` is None or the message already ends in a parenthesis (which names its place or cause).

    >>> placed("no session with id 'ffff'", "log.sqlite"), placed("cannot read it (truncated)", "a.gz")
    ("no session with id 'ffff' (log.sqlite)", 'cannot read it (truncated)')
    >>> placed("log.sqlite: unable to open database file", "log.sqlite")
    'unable to open database file (log.sqlite)'
    """
    if where is None or message.rstrip().endswith(")"):
        return message
    return f"{message.removeprefix(where + ': ')} ({where})"


def error_text(exc: BaseException) -> str:
    """What an error says: ``str(exc)``, and its notes (PEP 678) in parentheses, such as where a failed run is kept."""
    notes = getattr(exc, "__notes__", None)
    return f"{exc} ({'; '.join(notes)})" if notes else str(exc)


def _the_log() -> str | None:
    """Where the errors of the command being run happen: its ``--db`` log, else the command itself
    (``virtuoso bench``)."""
    context = click_context(silent=True)
    if context is None:
        return None
    db = context.params.get("db")
    return context.command_path if db is None else str(db)


def _usage_pointer() -> str:
    """`` (virtuoso replay; see virtuoso replay --help)``: where a usage error was made, as click's own say it."""
    context = click_context(silent=True)
    if context is None:
        return ""
    return f" ({context.command_path}; see {context.command_path} --help)"


def fail_line(message: str, *, traceback: bool = False) -> None:
    """Print ``error: message`` on stderr as one line (newlines in it become spaces); with ``traceback``
    and ``--debug``, the traceback first."""
    if traceback and state["debug"]:
        _print_traceback(skip=3)
    one_line = " ".join(message.split("\n")).strip()
    err_console.print(f"[red]error:[/red] {escape(one_line)}", markup=True)


def _print_traceback(skip: int) -> None:
    """The traceback of the exception being handled, else the stack less its last ``skip`` frames (ours)."""
    if sys.exc_info()[1] is not None:
        text = tb.format_exc()
    else:
        text = "Traceback (most recent call last):\n" + "".join(tb.format_stack()[:-skip])
    err_console.print(text.rstrip(), markup=False, highlight=False, soft_wrap=True)


def run(work: Callable[[], Awaitable[T]], *, where: str | None = None) -> T:
    """Run an async command body, turning our errors into one line and exit 1 (``--debug``: traceback first);
    ``where`` is the place the line names (default: see :func:`fail`)."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except VirtuosoError as exc:
        raise fail(error_text(exc), where=where) from None


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def time_option(text: str, option: str) -> int:
    """``text`` given to ``option`` as ns since the epoch (see ``_times.py``); a bad time is a usage error (exit 2)."""
    from virtuoso.cli._times import parse_time  # noqa: PLC0415  # keeps this module light

    try:
        return parse_time(text, option)
    except VirtuosoError as exc:
        raise fail(str(exc), code=2) from None


def time_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """``--from`` and ``--to`` as ns (see :func:`time_option`); a usage error unless ``--to`` is after ``--from``."""
    start_ns = None if start is None else time_option(start, "--from")
    end_ns = None if end is None else time_option(end, "--to")
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise fail(f"--to {end} is not after --from {start}: the time range is empty", code=USAGE_EXIT_CODE)
    return start_ns, end_ns
