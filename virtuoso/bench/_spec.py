"""What a pipeline benchmark runs: a session, the analyzers, an optional strategy, the worker count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from virtuoso._userfile import UserFileProblem, import_user_file
from virtuoso.backtest import StrategySpec
from virtuoso.errors import UsageError
from virtuoso.replay import AnalyzerSpec, analyzers_named
from virtuoso.store import config_hash

AnalyzersArg = str | Sequence[Mapping[str, Any]] | None
"""``default``, ``none``, names, a ``.toml`` file, a ``.py`` file (see :func:`load_analyzers`), a list of
tables, or ``None`` (``default`` for a replay, what the strategy asks for in a backtest)."""


@dataclass(frozen=True)
class PipelineSpec:
    """The pipeline to measure: ``analyzers`` (see :data:`AnalyzersArg`), a ``strategy`` (then the run is a
    backtest, else a replay), the processor's ``workers`` (a replay's analyzers run there) and the seed.

    >>> spec = PipelineSpec("abcd1234", analyzers="rsi")
    >>> [a.name for a in spec.analyzer_specs()], spec.kind, len(spec.hash())
    (['bars', 'rsi'], 'replay', 64)
    """

    session: str
    analyzers: AnalyzersArg = None
    strategy: StrategySpec | None = None
    workers: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"workers must be >= 1, not {self.workers}")

    @property
    def kind(self) -> str:
        """``backtest`` with a strategy, else ``replay``."""
        return "replay" if self.strategy is None else "backtest"

    def analyzer_specs(self) -> tuple[AnalyzerSpec, ...]:
        """The analyzers the run builds, in pipeline order."""
        if self.analyzers is None and self.strategy is not None:
            return analyzers_named(self.strategy.cls.analyzers_for(self.strategy.config))
        return load_analyzers(self.analyzers if self.analyzers is not None else "default")

    def as_config(self) -> dict[str, Any]:
        """What identifies the pipeline (its hash is what ``--compare`` checks); the session is not in it."""
        return {
            "kind": self.kind,
            "analyzers": [spec.as_config() for spec in self.analyzer_specs()],
            "strategy": None if self.strategy is None else self.strategy.as_config(),
            "workers": self.workers,
            "seed": self.seed,
        }

    def hash(self) -> str:
        """The content hash of :meth:`as_config`."""
        return config_hash(self.as_config())


def load_analyzers(arg: str | Sequence[Mapping[str, Any]]) -> tuple[AnalyzerSpec, ...]:
    """The analyzer specs of ``arg``: what ``virtuoso replay --analyzers`` takes, or a Python file.

    A ``.py`` file is imported (its ``@register_analyzer`` classes register themselves) and names its
    pipeline in a module-level ``PIPELINE``: a string (``"bars,my-analyzer"``) or a list of tables.
    """
    if isinstance(arg, str) and arg.strip().endswith(".py"):
        path = Path(arg.strip())
        pipeline = getattr(_import_file(path), "PIPELINE", None)
        if not isinstance(pipeline, str | list | tuple):
            raise UsageError(f"the analyzers file defines no PIPELINE (a string or a list of tables) ({path})")
        try:
            return analyzers_named(pipeline)
        except UsageError as exc:
            raise UsageError(f"{exc} ({path})") from None
    return analyzers_named(arg)


def _import_file(path: Path) -> ModuleType:
    try:
        return import_user_file(path, "virtuoso_user_analyzers")
    except UserFileProblem as problem:
        words = {"missing": "no such analyzers file", "unloadable": "cannot load the analyzers file"}
        text = words.get(problem.kind, f"the analyzers file failed to import: {problem.detail}")
        raise UsageError(f"{text} ({path})") from None
