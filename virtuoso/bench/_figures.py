"""The figures of a pipeline benchmark, saved as JSON, and the comparison of two of them.

Every cost is also kept in **floor units**: the stage's share of the round times
the round's CPU time, divided by the floor's CPU time (reading and decoding the
same session, in the same run). A slower machine scales both, and CPU time is
not stretched by other processes the way wall time is, so the units move when
the pipeline does; ``--compare`` judges them, never wall time.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from virtuoso.errors import UsageError
from virtuoso.timing import OTHER

TOLERANCE = 0.10
"""How much slower (in floor units) the whole or a stage may get before ``--compare`` fails."""
NOISE_SHARE = 0.05
"""A stage is judged only when its growth is also more than this share of the earlier total: the
smallest stages swing by more than the tolerance from one run to the next on a shared machine."""
FORMAT = 1


@dataclass(frozen=True)
class StageFigure:
    """One stage of the measured round: wall nanoseconds, share of the round, per event, in floor units."""

    name: str
    ns: int
    share: float
    ns_per_event: float
    floor_units: float
    calls: int
    spread: float = 0.0
    """How far the stage's floor units moved between the rounds (the range of the middle rounds)."""


@dataclass(frozen=True)
class PipelineFigures:
    """What ``virtuoso bench pipeline`` measured (the fields are its ``--json`` and ``--save`` keys)."""

    session: str
    events: int
    events_out: int
    rounds: int
    total_ns: int
    floor_ns: int
    total_cpu_ns: int
    floor_cpu_ns: int
    events_per_s: float
    floor_per_s: float
    ratio: float
    """events/s over the floor's events/s (below 1: the pipeline does more than read)."""
    peak_rss_bytes: int
    stages: tuple[StageFigure, ...]
    config: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    versions: dict[str, str | None] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    round_totals_ns: tuple[int, ...] = ()
    floor_totals_ns: tuple[int, ...] = ()
    round_units: tuple[dict[str, float], ...] = ()
    """Per round, in the order run: each stage's floor units and the ``total``'s (what a paired
    comparison of two interleaved benchmarks reads)."""

    @property
    def total_units(self) -> float:
        """The whole pipeline's cost in floor units: its CPU time over the floor's."""
        return self.total_cpu_ns / self.floor_cpu_ns if self.floor_cpu_ns else 0.0

    def stage(self, name: str) -> StageFigure | None:
        """The stage called ``name``, if the run had one."""
        return next((s for s in self.stages if s.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        values = asdict(self)
        values["format"] = FORMAT
        return values

    def save(self, path: Path) -> None:
        """Write :meth:`as_dict` to ``path`` (its folder is made)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PipelineFigures:
        """Figures from :meth:`as_dict`'s values."""
        data = {k: v for k, v in values.items() if k != "format"}
        data["stages"] = tuple(StageFigure(**stage) for stage in data["stages"])
        data["round_totals_ns"] = tuple(data.get("round_totals_ns", ()))
        data["floor_totals_ns"] = tuple(data.get("floor_totals_ns", ()))
        data["round_units"] = tuple(data.get("round_units", ()))
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> PipelineFigures:
        """Figures saved by :meth:`save`; a :class:`UsageError` naming the file when it is not one."""
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise UsageError(f"no such saved benchmark ({path})") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"not a saved pipeline benchmark: {type(exc).__name__}: {exc} ({path})") from None


def stage_figures(
    totals: Mapping[str, int],
    calls: Mapping[str, int],
    events: int,
    units: Mapping[str, float],
    spreads: Mapping[str, float] | None = None,
) -> tuple[StageFigure, ...]:
    """The figures of each stage with time, largest first (``other`` last): wall time, share and calls of
    one round (``totals``, ``calls``), and each stage's cost in floor units (``units``) and its spread."""
    whole = sum(totals.values()) or 1
    per = max(events, 1)
    spreads = spreads or {}
    figures = [
        StageFigure(name, ns, ns / whole, ns / per, units.get(name, 0.0), calls.get(name, 0), spreads.get(name, 0.0))
        for name, ns in totals.items()
        if ns > 0 or calls.get(name, 0)
    ]
    return tuple(sorted(figures, key=lambda f: (f.name == "other", -f.ns)))


def stage_units(rounds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each stage's cost in floor units: the median over the rounds of its cost in each (a round whose
    split a busy machine skewed does not move it).

    >>> stage_units([{"a": 3.0, "b": 1.0}, {"a": 1.0, "b": 1.0}, {"a": 4.5, "b": 1.5}])
    {'a': 3.0, 'b': 1.0}
    """
    names = list(dict.fromkeys(name for units in rounds for name in units))
    return {name: statistics.median(units.get(name, 0.0) for units in rounds) for name in names}


def stage_spreads(rounds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """How much each stage's floor units move between rounds: the range of the rounds left once the
    highest and the lowest are set aside (from four rounds on), of all of them below that.

    >>> stage_spreads([{"a": 3.0}, {"a": 1.0}, {"a": 9.0}, {"a": 4.0}, {"a": 3.5}])
    {'a': 1.0}
    """
    names = list(dict.fromkeys(name for units in rounds for name in units))
    spreads = {}
    for name in names:
        values = sorted(units.get(name, 0.0) for units in rounds)
        middle = values[1:-1] if len(values) >= 4 else values
        spreads[name] = middle[-1] - middle[0]
    return spreads


@dataclass(frozen=True)
class StageChange:
    """One row of a comparison: floor units before and after, the relative change, whether it fails."""

    name: str
    before: float | None
    after: float | None
    change: float | None
    slower: bool


@dataclass(frozen=True)
class Comparison:
    """``after`` against ``before``, per stage and for the whole (see :func:`compare`)."""

    rows: tuple[StageChange, ...]
    tolerance: float
    same_pipeline: bool
    same_session: bool

    @property
    def slower(self) -> tuple[StageChange, ...]:
        """The rows that got slower by more than the tolerance."""
        return tuple(row for row in self.rows if row.slower)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return asdict(self)


def compare(before: PipelineFigures, after: PipelineFigures, tolerance: float = TOLERANCE) -> Comparison:
    """Each stage's cost (and the whole's) in floor units, ``after`` against ``before``.

    The whole fails when it grew by more than ``tolerance``; a stage when it grew by more than
    ``tolerance`` of itself *and* by more than :data:`NOISE_SHARE` of the earlier whole. ``other``
    (set-up, the event loop: no stage of the pipeline) is shown, and counts in the whole, but is not
    judged on its own. Each stage's ``spread`` (how much it moved between rounds) is there to read.

    >>> def run(analyzer_ns):
    ...     stages = (StageFigure("analyzer:x", analyzer_ns, 0, 0, analyzer_ns / 100, 1),
    ...               StageFigure("read", 100, 0, 0, 1.0, 1))
    ...     total = analyzer_ns + 100
    ...     return PipelineFigures("s", 1, 0, 1, total, 100, total, 100, 0, 0, 100 / total, 0, stages)
    >>> [(r.name, r.slower) for r in compare(run(300), run(360)).rows]
    [('total', True), ('analyzer:x', True), ('read', False)]
    >>> compare(run(300), run(310)).slower
    ()
    """
    if tolerance < 0:
        raise UsageError(f"the tolerance must be >= 0, not {tolerance}")
    if _interleaved(before, after):
        return _paired(before, after, tolerance)
    whole = before.total_units
    rows = [_row("total", whole, after.total_units, tolerance, 0.0)]
    names = [s.name for s in before.stages] + [s.name for s in after.stages if before.stage(s.name) is None]
    for name in names:
        old, new = before.stage(name), after.stage(name)
        old_units, new_units = (old.floor_units if old else None), (new.floor_units if new else None)
        row = _row(name, old_units, new_units, tolerance, NOISE_SHARE * whole)
        rows.append(replace(row, slower=False) if name == OTHER else row)
    return Comparison(tuple(rows), tolerance, before.config_hash == after.config_hash, before.session == after.session)


def _interleaved(before: PipelineFigures, after: PipelineFigures) -> bool:
    """Whether the two ran in the same rounds (one floor measured for both, every round)."""
    return (
        bool(before.round_units)
        and len(before.round_units) == len(after.round_units)
        and before.floor_totals_ns == after.floor_totals_ns
    )


def _paired(before: PipelineFigures, after: PipelineFigures, tolerance: float) -> Comparison:
    """Round by round: each round's change, then the median of the changes (two pipelines measured in the
    same rounds see the same machine in each; the drift between rounds cancels in each pair)."""
    pairs = list(zip(before.round_units, after.round_units, strict=True))
    whole = statistics.median(old.get("total", 0.0) for old, _ in pairs)
    names = ["total", *(s.name for s in before.stages)]
    names += [s.name for s in after.stages if s.name not in names]
    rows = []
    for name in names:
        olds = [old.get(name) for old, _ in pairs]
        news = [new.get(name) for _, new in pairs]
        if any(v is None or v <= 0 for v in olds) or any(v is None for v in news):
            row = StageChange(name, None, None, None, False)
        else:
            change = statistics.median(n / o for o, n in zip(olds, news, strict=True)) - 1  # type: ignore[operator]
            growth = statistics.median(n - o for o, n in zip(olds, news, strict=True))  # type: ignore[operator]
            noise = 0.0 if name == "total" else NOISE_SHARE * whole
            slower = change > tolerance and growth > noise and name != OTHER
            row = StageChange(name, statistics.median(olds), statistics.median(news), change, slower)  # type: ignore[type-var]
        rows.append(row)
    return Comparison(tuple(rows), tolerance, before.config_hash == after.config_hash, before.session == after.session)


def _row(name: str, old: float | None, new: float | None, tolerance: float, noise: float) -> StageChange:
    if old is None or new is None or old <= 0:
        return StageChange(name, old, new, None, False)
    growth = new - old
    return StageChange(name, old, new, growth / old, growth > tolerance * old and growth > noise)


def figures_rows(stages: Sequence[StageFigure]) -> list[dict[str, Any]]:
    """The stages as plain rows (a DataFrame's records, a table's rows)."""
    return [asdict(stage) for stage in stages]
