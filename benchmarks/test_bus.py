"""Dispatching events through the EventBus against pyee and against a plain loop.

Ours: ``bus.publish(event)`` for each event, one no-op subscriber (subscribed by
payload class), so every call pays the full route lookup and failure guard.

Baselines, on the same events and the same no-op handler:

* pyee's ``EventEmitter.emit("market.trade", event)`` with the handler registered
  under that name (pyee is a benchmark-only dependency, target 2x);
* a plain Python loop calling the handler directly (the floor of any dispatch,
  target 0.15x).
"""

from __future__ import annotations

from pathlib import Path

from pyee import EventEmitter

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from virtuoso.bus import EventBus
from virtuoso.events import Event, Trade


def no_op(event: Event) -> None:
    """The subscriber: does nothing, so dispatch is all that is measured."""


def ours(events: list[Event]) -> Side:
    """Our side: a bus with one class subscription; publishing every event is timed."""

    def side(_: Path) -> Prepared:
        bus = EventBus()
        bus.subscribe(Trade, no_op)
        publish = bus.publish

        def run() -> None:
            for event in events:
                publish(event)

        return Prepared(run=run)

    return side


def pyee_side(events: list[Event]) -> Side:
    """pyee: one listener on the trade topic; emitting every event is timed."""

    def side(_: Path) -> Prepared:
        emitter = EventEmitter()
        emitter.on("market.trade", no_op)
        emit = emitter.emit

        def run() -> None:
            for event in events:
                emit("market.trade", event)

        return Prepared(run=run)

    return side


def plain_loop(events: list[Event]) -> Side:
    """The floor: a loop calling the handler."""

    def side(_: Path) -> Prepared:
        def run() -> None:
            handler = no_op
            for event in events:
                handler(event)

        return Prepared(run=run)

    return side


def test_bus_against_pyee(benchmark: object, scale: Scale, trades: list[Event], tmp_path: Path) -> None:
    case = RatioCase("bus.publish vs pyee", 2.0, len(trades), scale.rounds, ours(trades), pyee_side(trades))
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1


def test_bus_against_a_plain_loop(benchmark: object, scale: Scale, trades: list[Event], tmp_path: Path) -> None:
    case = RatioCase("bus.publish vs plain loop", 0.15, len(trades), scale.rounds, ours(trades), plain_loop(trades))
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
