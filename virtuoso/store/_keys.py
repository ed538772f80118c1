"""The optional log key: where it comes from, and the rules it must meet.

The key never reaches the log or any output: only HMACs made with it are stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal

from virtuoso.errors import UsageError

KEY_ENV: Final = "VIRTUOSO_LOG_KEY"
"""The environment variable holding the log key (text, used as its UTF-8 bytes)."""

MIN_KEY_BYTES: Final = 16

FROM_ENV: Final = "env"
"""Take the key from :data:`KEY_ENV` when it is set (the default of ``open_sqlite_store``)."""

KeySource = bytes | None | Literal["env"]


def resolve_key(source: KeySource) -> bytes | None:
    """The key bytes for ``source``: given bytes, none, or the environment's (None when unset)."""
    if source == FROM_ENV:
        text = os.environ.get(KEY_ENV)
        return None if not text else check_key(text.encode(), f"${KEY_ENV}")
    if source is None:
        return None
    if not isinstance(source, bytes):
        raise UsageError("a log key must be bytes")
    return check_key(source, "the key")


def read_key_file(path: str | Path) -> bytes:
    """The key in ``path``: its bytes, without a trailing newline."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the key file ({path}): {exc.strerror}") from exc
    return check_key(data.rstrip(b"\r\n"), f"key file {path}")


def check_key(key: bytes, where: str) -> bytes:
    """``key`` if it is long enough to be worth anything; else UsageError (naming ``where``, never the key)."""
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(f"{where}: a log key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key
