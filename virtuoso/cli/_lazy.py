"""The root command group: commands are imported when run, and every failure is one line.

Why hand-written: typer builds every command (and so imports pandas, matplotlib, ccxt...)
before it can print ``--help``; and its usage errors are multi-line boxes. This group
lists the commands from a static table (name, module, attribute, purpose), imports a
command's module only when that command runs or prints its own help, and turns
click's usage errors and unexpected exceptions into the project's one-line error.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

_POSSIBLE = re.compile(r" \(Possible options: ([^)]*)\)")


class LazyCommand(NamedTuple):
    """Where a command lives, and the one-line purpose ``virtuoso --help`` shows for it."""

    name: str
    module: str
    attribute: str
    purpose: str


state = {"debug": False}
"""Set by the root callback: ``--debug`` was given."""

USAGE_EXIT_CODE = 2
"""Exit status of a command line that cannot work (1 is an error, 3 a recording that is down)."""


class LazyGroup(TyperGroup):
    """A typer group whose commands come from :data:`virtuoso.cli.COMMANDS`, loaded on use."""

    lazy: Sequence[LazyCommand] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(entry.name for entry in self.lazy)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        loaded = super().get_command(ctx, cmd_name)
        entry = next((e for e in self.lazy if e.name == cmd_name), None)
        if loaded is not None or entry is None:
            return loaded
        if self._listing:
            return TyperCommand(name=entry.name, help=entry.purpose, short_help=entry.purpose)
        command = load(entry)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,  # always exits: CliRunner and the script alike
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        prog = prog_name or "virtuoso"

        def invoke() -> Any:
            return super(LazyGroup, self).main(
                args, prog, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )

        sys.exit(run_main(invoke, prog))


def load(entry: LazyCommand) -> Any:
    """The click command of ``entry``: a typer sub-app as a group, a function as a command."""
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=entry.name)  # a group even with one command, as when nested
    else:
        holder.command(entry.name)(target)
    holder.callback()(lambda: None)  # two levels, so the entry is always found under its name
    group: Any = typer.main.get_command(holder)
    return plain_help(group.commands[entry.name])


def plain_help(command: Any) -> Any:
    """``command`` (and its sub-commands) with click's plain-text help: rich's boxes are wider than an
    80-column terminal makes them readable, and do not survive a pipe or a CI log."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def run_main(invoke: Any, prog: str) -> int:
    """Run the parsed command line; the exit status, every failure printed as one line."""
    try:
        result = invoke()
    except Exception as exc:  # the last line of defence: whatever escapes is one line too
        return _failed(exc, prog)
    except KeyboardInterrupt:
        fail_line(f"interrupted ({prog})")
        return 130
    return result if isinstance(result, int) else 0


def _failed(exc: Exception, prog: str) -> int:
    from typer._click import exceptions as click_errors  # noqa: PLC0415  # typer vendors click

    if isinstance(exc, click_errors.NoArgsIsHelpError):
        if exc.ctx is not None:
            sys.stdout.write(exc.ctx.get_help() + "\n")
        return USAGE_EXIT_CODE
    if isinstance(exc, click_errors.UsageError):
        return _usage(exc, prog)
    if isinstance(exc, click_errors.ClickException):
        fail_line(_placed(exc.format_message(), prog))
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        fail_line(f"interrupted ({prog})")
        return 130
    fail_line(_message(exc, prog), traceback=True)
    return 1


def _message(exc: Exception, prog: str) -> str:
    from virtuoso.cli._app import error_text  # noqa: PLC0415  # only when there is an error
    from virtuoso.errors import VirtuosoError  # noqa: PLC0415  # only when there is an error

    if isinstance(exc, VirtuosoError):
        return _placed(error_text(exc), prog)  # ours, raised outside ``run()``: the command is its place
    return _os_error(exc) if isinstance(exc, OSError) else _unexpected(exc)


def _placed(message: str, where: str) -> str:
    from virtuoso.cli._app import placed  # noqa: PLC0415  # only when there is an error

    return placed(message, where)


def fail_line(message: str, *, traceback: bool = False) -> None:
    """:func:`virtuoso.cli._app.fail_line`, imported only when there is an error (rich and asyncio are slow)."""
    from virtuoso.cli._app import fail_line as print_line  # noqa: PLC0415  # see the docstring

    print_line(message, traceback=traceback)


def _usage(exc: Any, prog: str) -> int:
    where = exc.ctx.command_path if exc.ctx is not None else prog
    message = exc.format_message().strip().replace("\n", " ").removesuffix(".")
    message = _POSSIBLE.sub(r"; did you mean \1?", message[:1].lower() + message[1:])
    fail_line(f"{message} ({where}; see {where} --help)")
    return USAGE_EXIT_CODE


def _os_error(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "the operating system"
    return f"{exc.strerror or exc} ({where})"


def _unexpected(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "" if state["debug"] else "; --debug shows the traceback"
    return f"unexpected {type(exc).__name__}: {text} (a bug in virtuoso{hint})"
