"""Importing a user's Python file (a strategy, an analyzers list) by path, with one kind of error."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


class UserFileProblem(Exception):
    """Why a user's file could not be imported: ``missing``, ``unloadable`` or ``failed`` (with ``detail``)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


def import_user_file(path: Path, namespace: str) -> ModuleType:
    """The module the file at ``path`` defines, imported as ``<namespace>_<hash of its path>``.

    The module is registered in ``sys.modules`` (msgspec and dataclasses look
    their module up by name) and dropped from it again when its code raises.
    Raises :class:`UserFileProblem` for the caller to word.

    >>> import_user_file(Path("absent.py"), "example")
    Traceback (most recent call last):
    virtuoso._userfile.UserFileProblem: ('missing', '')
    """
    if not path.is_file():
        raise UserFileProblem("missing")
    name = f"{namespace}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserFileProblem("unloadable")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserFileProblem("failed", f"{type(exc).__name__}: {exc}") from None
    return module
