"""Finding a strategy class by ``module:Class`` or ``path/to/file.py:Class`` (imported, never evaluated),
and the spec a run manifest records of it."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from virtuoso._userfile import UserFileProblem, import_user_file
from virtuoso.backtest._strategy import Strategy, StrategyConfig
from virtuoso.errors import ConfigError, UsageError


def load_strategy(ref: str) -> type[Strategy]:
    """The :class:`Strategy` subclass ``ref`` names: ``package.module:Class`` or ``file.py:Class``.

    >>> load_strategy("virtuoso.strategies:MovingAverageCross").__name__
    'MovingAverageCross'
    >>> load_strategy("virtuoso.strategies:Nope")
    Traceback (most recent call last):
    virtuoso.errors.UsageError: strategy 'virtuoso.strategies:Nope': virtuoso.strategies has no attribute 'Nope'
    """
    where, sep, name = ref.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise UsageError(f"strategy {ref!r}: expected MODULE:CLASS or FILE.py:CLASS")
    module = _module_from_file(ref, Path(where)) if where.endswith(".py") else _module_named(ref, where)
    found = getattr(module, name, None)
    if found is None:
        raise UsageError(f"strategy {ref!r}: {module.__name__} has no attribute {name!r}")
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise UsageError(f"strategy {ref!r}: {name} is not a subclass of virtuoso.backtest.Strategy")
    return found


def _module_named(ref: str, name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UsageError(f"strategy {ref!r}: cannot import {name}: {exc}") from None


def _module_from_file(ref: str, path: Path) -> ModuleType:
    try:
        return import_user_file(path, "virtuoso_user_strategy")
    except UserFileProblem as problem:
        words = {"missing": f"no such file {path}", "unloadable": f"cannot load {path}"}
        text = words.get(problem.kind, f"{path} failed to import: {problem.detail}")
        raise UsageError(f"strategy {ref!r}: {text}") from None


@dataclass(frozen=True)
class StrategySpec:
    """A strategy of a run: its reference, its class and its parameters (all in the run's manifest).

    >>> spec = StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": "5"})
    >>> spec.config.fast, spec.as_config()["class"]
    (5, 'virtuoso.strategies._ma_cross.MovingAverageCross')
    """

    ref: str
    cls: type[Strategy] = field(compare=False, repr=False)
    config: StrategyConfig

    @classmethod
    def named(cls, ref: str, params: Mapping[str, Any] | None = None) -> StrategySpec:
        """Load ``ref`` and build its config from ``params`` (names checked, text converted)."""
        strategy = load_strategy(ref)
        try:
            config = strategy.Config.from_mapping(params or {})
        except ConfigError as exc:
            raise ConfigError(f"strategy {ref!r}: {exc}") from None
        return cls(ref, strategy, config)

    def build(self) -> Strategy:
        """A fresh strategy instance."""
        return self.cls(self.config)

    def as_config(self) -> dict[str, Any]:
        """What the manifest records: reference, class, parameters, their hash, and a hash of the class's source
        (editing a strategy's code makes a new run rather than finding the old one)."""
        return {
            "ref": self.ref,
            "class": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "config": self.config.as_dict(),
            "hash": self.config.hash(),
            "source_hash": _source_hash(self.cls),
        }


def _source_hash(cls: type[Strategy]) -> str:
    try:
        source = inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError):
        return ""
    return hashlib.sha256(source.encode()).hexdigest()
