"""A fake sleep that moves a ReplayClock instead of waiting, and scripted async calls."""

from __future__ import annotations

from collections.abc import Iterable

from virtuoso.clock import ReplayClock


class FakeSleep:
    """Records each wait and advances ``clock`` by it: retries run without real time."""

    def __init__(self, clock: ReplayClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance_to(self.clock.now_ns() + round(seconds * 1e9))


class Script:
    """An async zero-argument call that raises the scripted exceptions in turn, then returns ``result``."""

    def __init__(self, outcomes: Iterable[BaseException], result: str = "done") -> None:
        self.outcomes = list(outcomes)
        self.result = result
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.outcomes:
            raise self.outcomes.pop(0)
        return self.result
