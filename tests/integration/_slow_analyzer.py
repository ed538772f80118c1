"""A test analyzer with a known cost: ``work`` rounds of integer arithmetic per trade, nothing emitted.

Its cost is CPU work, not a sleep or a busy wait on the clock, so it scales with
the machine the way the benchmark's floor does (a loaded machine slows both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from virtuoso.analysis import AnalyzerConfig
from virtuoso.events import Event

NAME = "test-slow"


class SlowConfig(AnalyzerConfig, frozen=True, kw_only=True):
    work: int = 200
    """Rounds of arithmetic per trade."""


def burn(work: int) -> int:
    """The analyzer's extra cost per trade (also timed alone by the tests, to know it)."""
    acc = 0
    for i in range(work):
        acc = (acc * 31 + i) & 0xFFFF
    return acc


class SlowAnalyzer:
    """Registered by whoever uses it (``register_analyzer(SlowAnalyzer)``), and removed after: other tests
    list the registry."""

    name: ClassVar[str] = NAME
    consumes: ClassVar[tuple[str, ...]] = ("market.trade",)
    config_type: ClassVar[type[AnalyzerConfig]] = SlowConfig

    def __init__(self, config: SlowConfig) -> None:
        self.config = config
        self.seen = 0

    @property
    def ready(self) -> bool:
        return True

    def on_event(self, event: Event) -> Sequence[Event]:
        self.seen += burn(self.config.work) & 1
        return ()

    def snapshot(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def restore(self, state: dict[str, Any]) -> None:
        self.seen = int(state["seen"])


def analyzers_file(folder: Any, work: int, name: str = "slow") -> Any:
    """A ``--analyzers`` Python file running this analyzer with ``work`` (returns its path)."""
    path = folder / f"{name}_{work}.py"
    path.write_text(
        "from tests.integration._slow_analyzer import SlowAnalyzer\n"
        "from virtuoso.analysis import register_analyzer\n"
        "register_analyzer(SlowAnalyzer)\n"
        f'PIPELINE = [{{"name": "test-slow", "work": {work}}}]\n'
    )
    return path
