"""Reading the project's TOML files (run files, venue settings, grids, record configs) with one kind of error."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from virtuoso.errors import ConfigError


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """The document in ``path``; a one-line :class:`ConfigError` naming the file when it is missing or not TOML.

    ``what`` names the kind of file in the message (``"no such venue file"``).

    >>> load_toml(Path("absent.toml"), "grid")
    Traceback (most recent call last):
    virtuoso.errors.ConfigError: absent.toml: no such grid file
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
