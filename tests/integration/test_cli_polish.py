"""What every command shares: a one-line purpose in ``--help``, ``--json``, ``--debug``, plain progress lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.integration._cli import cli
from virtuoso.cli import COMMANDS, app
from virtuoso.cli._progress import Lines, progress

NO_JSON = {
    # Writes a log and prints a walk-through for people (the table and verify lines `sessions list/verify --json`
    # give as JSON); nothing in it is meant to be parsed.
    ("demo",),
    # A server running until Ctrl-C: its banner already prints the ccxt config as JSON; there is no result.
    ("testing", "exchange"),
}


def commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group under ``command`` (the whole app by default), with its path of names."""
    command = typer.main.get_command(app) if command is None else command
    yield path, command
    for name in command.list_commands(None) if hasattr(command, "list_commands") else ():
        yield from commands(command.get_command(None, name), (*path, name))


def test_help_lists_every_command_with_a_one_line_purpose() -> None:
    result = cli("--help")
    listed = [path for path, _ in commands() if len(path) == 1]

    assert result.exit_code == 0
    assert {"sessions", "import", "replay", "backtest", "export", "book", "record", "status"} <= {p[0] for p in listed}
    for path, command in commands():
        purpose = command.get_short_help_str(limit=200)
        assert purpose, f"virtuoso {' '.join(path)} has no one-line purpose"
        assert not purpose.endswith("..."), f"virtuoso {' '.join(path)}: the purpose is not one short sentence"
    for (name,) in listed:
        line = next((line for line in result.output.splitlines() if line.startswith(f"  {name} ")), None)
        assert line is not None, f"{name} is not listed"
        assert line[len(name) + 2 :].strip(), f"{name} is listed without its purpose"


def test_the_lazy_table_of_commands_says_what_each_command_says_of_itself() -> None:
    root = typer.main.get_command(app)
    for entry in COMMANDS:
        assert root.get_command(None, entry.name).get_short_help_str(limit=300) == entry.purpose, entry.name


def test_every_command_that_prints_results_has_json() -> None:
    missing = []
    for path, command in commands():
        is_group = hasattr(command, "commands")
        if not path or (is_group and not command.params) or path in NO_JSON:
            continue  # the root and pure groups print help only
        if not any("--json" in param.opts for param in command.params):
            missing.append(" ".join(path))
    assert missing == []
    assert all(any(p == path for p, _ in commands()) for path in NO_JSON), "an allowlisted command is gone"


def test_debug_prints_the_traceback_of_an_error_raised_in_the_library(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite"
    assert cli("demo", "--db", db, "--log-only", "--hours", "0.01").exit_code == 0

    plain = cli("sessions", "show", "--db", db, "ffff")
    debug = cli("--debug", "sessions", "show", "--db", db, "ffff")

    assert plain.exit_code == debug.exit_code == 1
    assert plain.stderr.splitlines() == [f"error: no session with id 'ffff' ({db})"]
    lines = debug.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "virtuoso/store/_store.py" in debug.stderr
    assert lines[-2:] == [
        "virtuoso.errors.SessionError: no session with id 'ffff'",
        f"error: no session with id 'ffff' ({db})",
    ]


def test_debug_prints_where_a_command_line_check_failed(tmp_path: Path) -> None:
    result = cli("--debug", "sessions", "list", "--db", tmp_path / "nowhere.sqlite")

    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert 'raise fail("no such file", where=where)' in result.stderr
    assert result.stderr.splitlines()[-1] == f"error: no such file (--db {tmp_path}/nowhere.sqlite)"
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_plain_lines_show_each_tenth_once_new_names_and_a_last_100_percent(capsys: pytest.CaptureFixture[str]) -> None:
    show = Lines("import", "bytes")
    for done in (0, 5, 99, 100, 101, 350, 999):
        show(done, 1000, name="a.gz", detail=f"{done} events")
    show(1000, 2000, name="b.gz")
    show(1900, 2000, name="b.gz")
    show.finish()

    assert capsys.readouterr().err.splitlines() == [
        "a.gz: 0% of 1,000 bytes, 0 events",
        "a.gz: 10% of 1,000 bytes, 100 events",
        "a.gz: 30% of 1,000 bytes, 350 events",
        "a.gz: 90% of 1,000 bytes, 999 events",
        "b.gz: 50% of 2,000 bytes",
        "b.gz: 90% of 2,000 bytes",
        "b.gz: 100% of 2,000 bytes",
    ]


def test_progress_is_plain_lines_off_a_terminal_and_nothing_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("replay") as show:
        assert show is not None
        show(400, 1000)
    with progress("replay", quiet=True) as nothing:
        assert nothing is None

    assert capsys.readouterr().err.splitlines() == ["replay: 40% of 1,000 events", "replay: 100% of 1,000 events"]


def test_a_failed_job_does_not_claim_100_percent(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> None:
        with progress("export", unit="") as show:
            assert show is not None
            show(1, 3, detail="5 rows")
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        job()

    assert capsys.readouterr().err.splitlines() == ["export: 30%, 5 rows"]
