"""Help and usage errors are plain text: every command's ``--help`` fits 80 columns without a box, and a
usage error of each group is the one line ``error: ... (virtuoso GROUP; see virtuoso GROUP --help)``."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from virtuoso.cli import COMMANDS, app
from virtuoso.cli._lazy import load

GROUPS = ("bench", "book", "sessions", "testing")
BOX = re.compile("[─│╭╮╰╯┃━]")


def _help_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for entry in COMMANDS:
        command = load(entry)
        paths.append((entry.name,))
        paths += [(entry.name, name) for name in getattr(command, "commands", {})]
    return paths


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "TERM": "xterm"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("path", _help_paths(), ids=" ".join)
def test_help_is_plain_text_within_80_columns(path: tuple[str, ...]) -> None:
    code, stdout, _ = _invoke(*path, "--help")

    assert code == 0
    assert stdout.startswith(f"Usage: virtuoso {' '.join(path)} ")
    assert not BOX.search(stdout), "a rich box"
    assert max(len(line) for line in stdout.splitlines()) <= 80


@pytest.mark.parametrize("group", GROUPS)
def test_a_usage_error_of_each_group_is_one_line(group: str) -> None:
    code, _, stderr = _invoke(group, "--bogus")

    assert code == 2
    assert stderr == f"error: no such option: --bogus (virtuoso {group}; see virtuoso {group} --help)\n"
