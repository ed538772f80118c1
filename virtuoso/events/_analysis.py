"""Analysis payloads: what the analyzers derive from market events (see ``docs/analysis.md``)."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from virtuoso.events._registry import Payload, event_type

Stance = Literal["long", "short", "neutral"]
"""The state of a confluence score: above the long threshold, below the short one, or between."""


@event_type
class IndicatorValue(Payload, frozen=True, gc=False):
    """One value of indicator ``name`` (``"rsi"``, ``"macd"``) on bars of ``timeframe`` (``""``: per event).

    ``at_ns`` is the open time of the bar it was computed on (the book's exchange
    time for book indicators); ``components`` holds the secondary outputs
    (MACD's ``signal`` and ``histogram``, Bollinger's ``upper`` and ``lower``).
    """

    TYPE: ClassVar[str] = "IndicatorValue"
    TOPIC: ClassVar[str] = "analysis.indicator"

    name: str
    timeframe: str
    at_ns: int
    value: float
    components: dict[str, float] = msgspec.field(default_factory=dict)


@event_type
class ConfluenceScore(Payload, frozen=True, gc=False):
    """A confluence score from 0 (every component bearish) to 100 (every one bullish), 50 neutral.

    ``components`` maps ``"<timeframe>:<component>"`` to its 0-100 score,
    ``timeframes`` each timeframe's weighted score; ``state`` is the stance after
    the thresholds and their hysteresis.
    """

    TYPE: ClassVar[str] = "ConfluenceScore"
    TOPIC: ClassVar[str] = "analysis.confluence"

    total: float
    state: Stance
    timeframes: dict[str, float] = msgspec.field(default_factory=dict)
    components: dict[str, float] = msgspec.field(default_factory=dict)


@event_type
class Signal(Payload, frozen=True, gc=False):
    """The stance of ``source`` changed from ``previous`` to ``state`` (at score ``score``)."""

    TYPE: ClassVar[str] = "Signal"
    TOPIC: ClassVar[str] = "analysis.signal"

    source: str
    state: Stance
    previous: Stance
    score: float
