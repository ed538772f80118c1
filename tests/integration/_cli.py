"""Running the ``virtuoso`` app in-process for the CLI tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from virtuoso.cli import app


def cli(*args: str | Path) -> Result:
    """Invoke the CLI in-process; an unexpected exception fails the test with its traceback."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def cli_json(*args: str | Path) -> Any:
    """Invoke with ``--json``; the command must succeed. Returns the parsed output."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
