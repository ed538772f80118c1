"""Resolving from the ServiceContainer against calling the constructor directly.

Two cases, N resolutions per round (N as for the store cases: 1,000,000 at full
size, 50,000 with ``--quick``):

* ``container.resolve singleton``: ``container.resolve(Settings)`` of a
  singleton already built, against ``Settings()`` (a one-attribute class);
* ``container.resolve transient (3 deps)``: ``container.resolve(Feed)`` of a
  transient whose constructor takes three singletons, against
  ``Feed(settings, clock, store)`` with the three already at hand.

Both sides loop the same way; building the container and the first resolution
(which compiles the plans) are not timed. Besides the ratio, each case records
the time per resolution in ``extra_info`` (``ns_per_op``) against the issue's
absolute budget (``budget_ns``: 1 µs for a singleton, 5 µs for the transient).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

from benchmarks.harness import Prepared, RatioCase, RatioResult, Scale, in_memory, measure
from virtuoso.container import Lifetime, ServiceContainer

SINGLETON_TARGET = 0.5
TRANSIENT_TARGET = 0.08
SINGLETON_BUDGET_NS = 1_000
TRANSIENT_BUDGET_NS = 5_000


class Settings:
    def __init__(self) -> None:
        self.depth = 20


class Clock:
    def __init__(self) -> None:
        self.now_ns = 0


class Store:
    def __init__(self) -> None:
        self.path = "events.sqlite"


class Feed:
    def __init__(self, settings: Settings, clock: Clock, store: Store) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store


def container() -> ServiceContainer:
    """Three singletons and a transient needing them; everything resolved once (plans compiled)."""
    c = ServiceContainer()
    c.register(Settings)
    c.register(Clock)
    c.register(Store)
    c.register(Feed, lifetime=Lifetime.TRANSIENT)
    c.resolve(Feed)
    return c


def resolving(service: type, count: int) -> Callable[[], Prepared]:
    """Our side: ``count`` resolutions of ``service`` from a ready container (closed after the round)."""

    def prepare() -> Prepared:
        ready = container()
        resolve = ready.resolve

        def run() -> None:
            for _ in repeat(None, count):
                resolve(service)

        return Prepared(run=run, cleanup=ready.close)

    return prepare


def constructing(make: Callable[[], Callable[[], object]], count: int) -> Callable[[], Callable[[], object]]:
    """The baseline: ``count`` direct calls of the constructor ``make()`` returns (arguments bound)."""

    def prepare() -> Callable[[], object]:
        call = make()

        def run() -> None:
            for _ in repeat(None, count):
                call()

        return run

    return prepare


def feed_constructor() -> Callable[[], object]:
    settings, clock, store = Settings(), Clock(), Store()
    return lambda: Feed(settings, clock, store)


def record_budget(benchmark: Any, result: RatioResult, budget_ns: int) -> None:
    """Add the time per resolution, and whether it is within the absolute budget, to ``extra_info``."""
    ns_per_op = 1e9 / result.events_per_s
    benchmark.extra_info.update(
        ns_per_op=round(ns_per_op, 1),
        baseline_ns_per_op=round(1e9 / result.baseline_per_s, 1),
        budget_ns=budget_ns,
        within_budget=ns_per_op < budget_ns,
    )


def test_resolve_singleton(benchmark: Any, scale: Scale, tmp_path: Path) -> None:
    n = scale.events
    case = RatioCase(
        "container.resolve singleton",
        target=SINGLETON_TARGET,
        events=n,
        rounds=scale.rounds,
        ours=in_memory(resolving(Settings, n)),
        baseline=in_memory(constructing(lambda: Settings, n)),
    )
    result = measure(benchmark, case, tmp_path)
    record_budget(benchmark, result, SINGLETON_BUDGET_NS)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_resolve_transient_with_three_dependencies(benchmark: Any, scale: Scale, tmp_path: Path) -> None:
    n = scale.events
    case = RatioCase(
        "container.resolve transient (3 deps)",
        target=TRANSIENT_TARGET,
        events=n,
        rounds=scale.rounds,
        ours=in_memory(resolving(Feed, n)),
        baseline=in_memory(constructing(feed_constructor, n)),
    )
    result = measure(benchmark, case, tmp_path)
    record_budget(benchmark, result, TRANSIENT_BUDGET_NS)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
