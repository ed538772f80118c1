"""Priority lanes: which lane an event waits in, chosen by its topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from virtuoso.errors import UsageError
from virtuoso.events import Payload


@dataclass(frozen=True, slots=True)
class Lane:
    """A priority lane: events whose topic matches one of ``topics`` (``fnmatch`` patterns) wait here.

    Workers serve the lane of the smallest ``priority`` first. An event goes to
    the first lane, in priority order, with a matching pattern.

    >>> Lane("market", 1, ("market.*",)).matches("market.trade")
    True
    """

    name: str
    priority: int
    topics: tuple[str, ...]

    def matches(self, topic: str) -> bool:
        """True when ``topic`` matches one of this lane's patterns."""
        return any(fnmatchcase(topic, pattern) for pattern in self.topics)


DEFAULT_LANES: tuple[Lane, ...] = (
    Lane("system", 0, ("system.*",)),
    Lane("market", 1, ("market.*",)),
    Lane("analysis", 2, ("*",)),
)
"""System events first, then market data, then everything else (analysis results, user topics)."""


def ordered_lanes(lanes: Sequence[Lane]) -> tuple[Lane, ...]:
    """``lanes`` in service order (priority, then as given), checked for usable names."""
    if not lanes:
        raise UsageError("a processor needs at least one lane")
    names = [lane.name for lane in lanes]
    if len(set(names)) != len(names):
        raise UsageError(f"lane names must be distinct, got {names}")
    return tuple(sorted(lanes, key=lambda lane: lane.priority))


class LaneRouter:
    """The lane index of each payload class, worked out once per class from its topic."""

    __slots__ = ("_by_class", "_lanes")

    def __init__(self, lanes: tuple[Lane, ...]) -> None:
        self._lanes = lanes
        self._by_class: dict[type[Payload], int] = {}

    @property
    def table(self) -> dict[type[Payload], int]:
        """The learned classes; the processor reads it directly on its hot path."""
        return self._by_class

    def learn(self, cls: type[Payload]) -> int:
        """The lane index of ``cls`` (remembered); :class:`UsageError` when no lane takes its topic."""
        for index, lane in enumerate(self._lanes):
            if lane.matches(cls.TOPIC):
                self._by_class[cls] = index
                return index
        names = ", ".join(lane.name for lane in self._lanes)
        raise UsageError(f"no lane takes topic {cls.TOPIC!r} of {cls.TYPE} (lanes: {names}); add a catch-all '*' lane")
