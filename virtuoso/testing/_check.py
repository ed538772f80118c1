"""``check_analyzer``: hypothesis against any analyzer, the smallest failing example for each property."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from types import ModuleType

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st

from virtuoso.errors import UsageError
from virtuoso.events import Bar, BookDelta, BookSnapshot, Event, Payload, Quote, Trade
from virtuoso.testing._builders import TIMEFRAMES_NS
from virtuoso.testing._properties import PROPERTIES
from virtuoso.testing._report import Example, Failure, KitReport, PropertyResult
from virtuoso.testing._runs import AnalyzerFactory, Harness, consumed
from virtuoso.testing._search import Search
from virtuoso.testing._sessions import sessions
from virtuoso.testing._strategies import Channel, MarketShape
from virtuoso.testing._tripwire import WallClockGuard

PROPERTY_NAMES = tuple(PROPERTIES)
"""The properties :func:`check_analyzer` knows, in the order it checks them."""

COMPARE_RUNS = ("causal", "resumable", "chunking")
"""Properties that compare two runs: meaningless (skipped) when the analyzer is not deterministic."""

CHANNEL_PAYLOADS: dict[Channel, tuple[type[Payload], ...]] = {
    "trades": (Trade,),
    "bars": (Bar,),
    "book": (BookSnapshot, BookDelta),
    "quotes": (Quote,),
}


def check_analyzer(
    factory: AnalyzerFactory,
    *,
    shape: MarketShape | None = None,
    events: st.SearchStrategy[list[Event]] | None = None,
    properties: Sequence[str] = PROPERTY_NAMES,
    max_examples: int = 50,
    derandomize: bool = False,
    settings: hypothesis.settings | None = None,
    max_shrinks: int = 500,
    modules: Iterable[ModuleType] = (),
    raise_on_failure: bool = False,
) -> KitReport:
    """Check the analyzers ``factory(clock)`` builds against every property; a report of what holds.

    Inputs are sessions drawn from :func:`sessions` with ``shape`` (by default
    the channels the analyzer consumes, all pathologies on), or from ``events``;
    the analyzer gets only what its ``consumes`` patterns match, as from the
    runtime. Hypothesis draws ``max_examples`` examples and checks each against
    every property (``derandomize`` for a fixed sequence in CI, or pass a whole
    ``settings``); each property that fails then gets a search of its own that
    shrinks its first failure, for at most ``max_shrinks`` more examples, and
    the report shows the smallest failing example found. ``modules`` adds
    modules whose ``from time import ...`` names the clock-clean tripwires must
    cover (the analyzer's own modules always are). With ``raise_on_failure``, a
    failed property raises :class:`AnalyzerCheckFailed` carrying the report.
    See ``docs/property-testing.md`` for what each property means exactly.
    """
    unknown = [name for name in properties if name not in PROPERTIES]
    if unknown:
        raise UsageError(f"unknown analyzer propert(ies) {', '.join(unknown)} (known: {', '.join(PROPERTIES)})")
    guard = WallClockGuard()
    for module in modules:
        guard.watch(module)
    harness = Harness(factory, guard)
    probe = harness.start(0).analyzer
    consumes = tuple(getattr(probe, "consumes", ("*",)))
    drawn = examples(events if events is not None else sessions(shape or shape_for(consumes)), consumes)
    search = Search(harness, drawn, _settings(settings, max_examples, derandomize), max_shrinks)
    found, coverage = search.explore(properties)
    results = [_skipped(name, found) or _result(name, search, found.get(name)) for name in properties]
    report = KitReport(str(getattr(probe, "name", type(probe).__name__)), tuple(results), coverage)
    if raise_on_failure:
        report.raise_for_failures()
    return report


def shape_for(consumes: Sequence[str]) -> MarketShape:
    """The default shape for an analyzer: the channels whose payloads it consumes (all when it consumes none).

    An analyzer of bars only gets longer sessions whose events are up to three
    bars apart, so that enough bars close to get past a typical warm-up.

    >>> shape_for(("market.bar",)).channels, shape_for(("market.book.*",)).channels
    (('bars',), ('book',))
    """
    wanted = tuple(
        channel
        for channel, payloads in CHANNEL_PAYLOADS.items()
        if any(fnmatchcase(p.TOPIC, pattern) for p in payloads for pattern in consumes)
    )
    if wanted == ("bars",):
        return MarketShape(channels=wanted, max_events=100, max_step_ns=3 * TIMEFRAMES_NS["1m"])
    return MarketShape(channels=wanted) if wanted else MarketShape()


@st.composite
def examples(draw: st.DrawFn, events: st.SearchStrategy[list[Event]], consumes: Sequence[str]) -> Example:
    """A drawn session cut down to what the analyzer consumes, with a split point and chunk boundaries."""
    session = draw(events)
    inputs = consumed(session, consumes)
    cut, ends = draw(_splits(len(inputs)))
    start_ns = session[0].ts_recv if session else 0
    return Example(tuple(inputs), start_ns, cut, _chunk_sizes(ends))


@functools.cache
def _splits(count: int) -> st.SearchStrategy[tuple[int, list[bool]]]:
    # Cached per length: hypothesis validates each new strategy object, which costs more than drawing from it.
    return st.tuples(st.integers(min_value=0, max_value=count), st.lists(st.booleans(), min_size=count, max_size=count))


def _chunk_sizes(ends: list[bool]) -> tuple[int, ...]:
    # A chunk ends after input i when ends[i]; the last chunk ends with the inputs. All False: one chunk.
    sizes, size = [], 0
    for i, end in enumerate(ends):
        size += 1
        if end or i == len(ends) - 1:
            sizes.append(size)
            size = 0
    return tuple(sizes)


def _settings(given: hypothesis.settings | None, max_examples: int, derandomize: bool) -> hypothesis.settings:
    # The explain phase (which parts of a failing example matter) costs more than the whole search; the
    # report shows the example instead.
    if given is not None:
        phases = [phase for phase in given.phases if phase != Phase.explain]
        return hypothesis.settings(given, verbosity=Verbosity.quiet, phases=phases)
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )


def _skipped(name: str, found: dict[str, Failure]) -> PropertyResult | None:
    if name in COMPARE_RUNS and "deterministic" in found:
        reason = "needs a deterministic analyzer to compare runs; deterministic failed"
        return PropertyResult(name, "skipped", PROPERTIES[name][1], reason=reason)
    return None


def _result(name: str, search: Search, first: Failure | None) -> PropertyResult:
    meaning = PROPERTIES[name][1]
    if first is None:
        return PropertyResult(name, "passed", meaning)
    return PropertyResult(name, "failed", meaning, search.shrink(name) or first)
