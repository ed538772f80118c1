"""Analyzers chained in one processor handler: each one's output goes on to the analyzers after it.

The ``bars`` analyzer's bars reach the bar indicators in the same call, so
that a replay is deterministic without derived events going back through the
bus and the processor (they do not: see ``docs/analysis.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from msgspec.structs import replace

from virtuoso.analysis._base import TopicFilter
from virtuoso.analysis._protocol import Analyzer
from virtuoso.events import Event
from virtuoso.timing import StageTimer

_NOTHING: tuple[Event, ...] = ()
Absorb = Callable[[Sequence[Event], int, int], int]
"""``absorb(events, start, stop) -> index``: see :meth:`AnalyzerPipeline.absorb`."""


class AnalyzerPipeline:
    """A processor handler running ``analyzers`` in order on the events each ``consumes``.

    >>> from virtuoso.analysis import build_analyzers
    >>> from virtuoso.events import Event, Trade
    >>> pipeline = AnalyzerPipeline(build_analyzers([{"name": "vwap", "timeframe": "1s"}]))
    >>> def trade(ts, price, amount):
    ...     return Event(f"t{ts}", "x:BTC/USDT:trades", ts, ts, "s", Trade(price, amount, "buy", str(ts)))
    >>> pipeline(trade(1, 10.0, 1.0)), pipeline(trade(2, 20.0, 3.0))
    ((), ())
    >>> [(e.type, getattr(e.payload, "value", None)) for e in pipeline(trade(1_000_000_000, 5.0, 1.0))]
    [('Bar', None), ('IndicatorValue', 17.5)]
    """

    def __init__(self, analyzers: Sequence[Analyzer], timer: StageTimer | None = None) -> None:
        self.analyzers = tuple(analyzers)
        self._timer = timer
        """Benchmarks only: each analyzer's calls are charged to the stage ``analyzer:<name>``."""
        self._stages = tuple((a, TopicFilter(a.consumes), _suffix(a, self.analyzers)) for a in self.analyzers)
        self._plans: dict[tuple[type, int], tuple[tuple[int, Callable[[Event], Sequence[Event]], str], ...]] = {}
        self._first: dict[type, tuple[tuple[int, Callable[[Event], Sequence[Event]], str], ...]] = {}
        """The plans of input events (start 0) by payload class alone: one lookup a trade."""
        self._absorbers: dict[type, Absorb] = {}
        """Per payload class of input events, how a stretch of them that derives nothing is counted at once."""

    def __bool__(self) -> bool:
        return bool(self.analyzers)

    def __call__(self, event: Event) -> Sequence[Event]:
        """Every analyzer's output for ``event`` and for what the analyzers before it derived from it.

        The runtime never hands derived events back in (its processor feed skips
        events with a ``causation``), so none are filtered here.
        """
        plan = self._first.get(event.payload.__class__)
        if plan is None:
            plan = self._first[event.payload.__class__] = self._planned((event.payload.__class__, 0))
        out: list[Event] | None = None  # nearly every trade derives nothing: no list for it
        for index, on_event, suffix in plan:
            outputs = on_event(event)
            if outputs:
                if out is None:
                    out = []
                self._derived(outputs, index, suffix, out)
        return _NOTHING if out is None else out

    def absorb(self, events: Sequence[Event], start: int, stop: int) -> int:
        """Count the events of ``events[start:stop]`` (``start < stop``) that derive nothing; the index of the
        first one left.

        The analyzers are left as calling the pipeline on each counted event
        would leave them (and none of those calls would have returned anything):
        the caller hands the event at the returned index to :meth:`__call__`, then
        absorbs from the next one. Events are absorbed only when their class goes
        to one analyzer alone and that analyzer has an ``absorb`` (the bar
        builder: a trade that closes no bar); otherwise nothing is, and
        ``start`` comes back.

        >>> from virtuoso.analysis import build_analyzers
        >>> from virtuoso.events import Event, Trade
        >>> pipeline = AnalyzerPipeline(build_analyzers([{"name": "bars", "timeframes": ["1s"]}]))
        >>> trades = [Event(f"t{ts}", "x:BTC/USDT:trades", ts, ts, "s", Trade(1.0, 1.0, "buy", f"{ts}"))
        ...           for ts in (1, 2, 3, 1_000_000_000, 1_000_000_001)]
        >>> pipeline(trades[0]), pipeline.absorb(trades, 1, 5)
        ((), 3)
        >>> [e.payload.trades for e in pipeline(trades[3])], pipeline.absorb(trades, 4, 5)
        ([3], 5)
        """
        cls = events[start].payload.__class__
        absorber = self._absorbers.get(cls)
        if absorber is None:
            absorber = self._absorbers[cls] = self._absorber(cls)
        return absorber(events, start, stop)

    def _absorber(self, cls: type) -> Absorb:
        """The one analyzer's ``absorb`` when events of ``cls`` go to one analyzer that has one; else none."""
        stages = [stage for stage in self._stages if stage[1](cls)]
        absorb = getattr(stages[0][0], "absorb", None) if len(stages) == 1 else None
        if absorb is None:
            return _absorb_none
        if self._timer is None:
            return cast(Absorb, absorb)
        analyzer, _, suffix = stages[0]
        return _counted(self._timer, f"analyzer:{analyzer.name}{suffix}", absorb)

    def _planned(self, key: tuple[type, int]) -> tuple[tuple[int, Callable[[Event], Sequence[Event]], str], ...]:
        plan = self._plans[key] = self._plan(*key)
        return plan

    def _derived(self, outputs: Sequence[Event], index: int, suffix: str, out: list[Event]) -> None:
        for output in outputs:
            derived = replace(output, id=output.id + suffix) if suffix else output
            out.append(derived)
            self._run(derived, index + 1, out)

    def _run(self, event: Event, start: int, out: list[Event]) -> None:
        key = (type(event.payload), start)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._planned(key)
        for index, on_event, suffix in plan:
            outputs = on_event(event)
            if outputs:
                self._derived(outputs, index, suffix, out)

    def _plan(self, cls: type, start: int) -> tuple[tuple[int, Callable[[Event], Sequence[Event]], str], ...]:
        """The stages from ``start`` on that want payloads of ``cls`` (worked out once per class: the per-event
        path then calls only the analyzers concerned)."""
        stages = self._stages
        return tuple((i, self._call(i), stages[i][2]) for i in range(start, len(stages)) if stages[i][1](cls))

    def _call(self, index: int) -> Callable[[Event], Sequence[Event]]:
        analyzer, _, suffix = self._stages[index]
        if self._timer is None:
            return analyzer.on_event
        return self._timer.wrap(f"analyzer:{analyzer.name}{suffix}", analyzer.on_event)


def _counted(timer: StageTimer, stage: str, absorb: Absorb) -> Absorb:
    """``absorb`` charged to ``stage``, which counts a call for each event absorbed (as one a trade did)."""
    timed = timer.wrap(stage, absorb)

    def counted(events: Sequence[Event], start: int, stop: int) -> int:
        end = timed(events, start, stop)
        timer.count(stage, end - start - 1)
        return end

    return counted


def _absorb_none(events: Sequence[Event], start: int, stop: int) -> int:
    return start


def _suffix(analyzer: Analyzer, analyzers: Sequence[Analyzer]) -> str:
    """``""`` for the first analyzer of a name; ``"~<k>"`` for the k-th other one, so that ids stay unique."""
    same = [a for a in analyzers if a.name == analyzer.name]
    place = next(i for i, a in enumerate(same) if a is analyzer)
    return f"~{place}" if place else ""
