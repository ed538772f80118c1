"""What :func:`~virtuoso.testing.check_analyzer` found: per property, passed, or the smallest failing example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from virtuoso.events import Event, encode_payload

Status = Literal["passed", "failed", "skipped"]


class AnalyzerCheckFailed(AssertionError):
    """Raised by :meth:`KitReport.raise_for_failures` (and ``check_analyzer(..., raise_on_failure=True)``)."""


@dataclass(frozen=True)
class Example:
    """One drawn case: the analyzer's inputs and where the property splits them.

    ``cut`` is the split point (prefix length, snapshot point); ``chunks`` the
    chunk sizes for the chunking property; ``start_ns`` the clock's start.
    """

    inputs: tuple[Event, ...]
    start_ns: int
    cut: int
    chunks: tuple[int, ...]

    def describe(self) -> str:
        """The inputs, one line each (position, stream, times, type and payload JSON)."""
        lines = [
            f"  #{i} pos={e.position} {e.stream} ts_event={e.ts_event} ts_recv={e.ts_recv} "
            f"{e.type} {encode_payload(e.payload).decode()}"
            for i, e in enumerate(self.inputs)
        ]
        return "\n".join(lines) if lines else "  (no inputs)"


@dataclass(frozen=True)
class Failure:
    """The smallest example hypothesis found for a failing property, and what went wrong on it."""

    example: Example
    explanation: str


@dataclass(frozen=True)
class PropertyResult:
    """One property's outcome; ``failure`` is set when it failed, ``reason`` says why it was skipped."""

    name: str
    status: Status
    meaning: str
    failure: Failure | None = None
    reason: str = ""

    def render(self) -> str:
        """One line, plus the failing example when there is one."""
        line = f"{self.name}: {self.status.upper()}"
        if self.status == "skipped":
            return f"{line} ({self.reason})"
        if self.failure is None:
            return line
        example = self.failure.example
        return (
            f"{line} - {self.meaning}\n  {self.failure.explanation}\n"
            f"  smallest failing input ({len(example.inputs)} events, cut={example.cut}, "
            f"chunks={list(example.chunks)}):\n{example.describe()}"
        )


@dataclass(frozen=True)
class Coverage:
    """How much the examples exercised the analyzer: a property that held on examples without outputs proves little."""

    examples: int
    productive: int
    """Examples on which the analyzer returned at least one derived event."""
    outputs: int

    def render(self) -> str:
        """One line; a warning when no example produced an output."""
        line = f"examples: {self.examples} drawn, {self.productive} with outputs ({self.outputs} derived events)"
        if self.examples and not self.productive:
            line += " - WARNING: no output at all, the properties held vacuously (longer sessions? shape=...)"
        return line


@dataclass(frozen=True)
class KitReport:
    """All properties checked for one analyzer.

    >>> report = KitReport("demo", (PropertyResult("deterministic", "passed", "same input, same outputs"),))
    >>> report.ok, report.failed
    (True, ())
    >>> print(report)
    check_analyzer(demo): all properties hold
    deterministic: PASSED
    """

    analyzer: str
    results: tuple[PropertyResult, ...]
    coverage: Coverage | None = None

    @property
    def ok(self) -> bool:
        """No property failed."""
        return not self.failed

    @property
    def failed(self) -> tuple[str, ...]:
        """The names of the failed properties."""
        return tuple(r.name for r in self.results if r.status == "failed")

    def result(self, name: str) -> PropertyResult:
        """The result of property ``name``."""
        return next(r for r in self.results if r.name == name)

    def __str__(self) -> str:
        head = "all properties hold" if self.ok else f"{len(self.failed)} failed: {', '.join(self.failed)}"
        lines = [f"check_analyzer({self.analyzer}): {head}", *(r.render() for r in self.results)]
        return "\n".join(lines + ([self.coverage.render()] if self.coverage else []))

    @property
    def vacuous(self) -> bool:
        """No drawn example made the analyzer emit anything (so every property held trivially)."""
        return self.coverage is not None and self.coverage.examples > 0 and self.coverage.productive == 0

    def raise_for_failures(self) -> None:
        """Raise :class:`AnalyzerCheckFailed` with the whole report when a property failed."""
        if not self.ok:
            raise AnalyzerCheckFailed(str(self))
