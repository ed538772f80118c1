"""Analyzers chained in one processor handler: each one's output goes on to the analyzers after it.

The ``bars`` analyzer's bars reach the bar indicators in the same call, so
that a replay is deterministic without derived events going back through the
bus and the processor (they do not: see ``docs/analysis.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from msgspec.structs import replace

from virtuoso.analysis._base import TopicFilter
from virtuoso.analysis._protocol import Analyzer
from virtuoso.events import Event
from virtuoso.timing import StageTimer

_NOTHING: tuple[Event, ...] = ()


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


def _suffix(analyzer: Analyzer, analyzers: Sequence[Analyzer]) -> str:
    """``""`` for the first analyzer of a name; ``"~<k>"`` for the k-th other one, so that ids stay unique."""
    same = [a for a in analyzers if a.name == analyzer.name]
    place = next(i for i, a in enumerate(same) if a is analyzer)
    return f"~{place}" if place else ""
