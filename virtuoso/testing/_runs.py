"""Feeding an analyzer as the runtime does, and recording what it emits, comparably to the byte.

A :class:`Step` is what one ``on_event`` call gave: the derived events and
``ready`` afterwards; a :class:`Trace` is the steps of a run, one per input. Two
traces are compared through :func:`encoded`, the derived events' envelope
fields and stored payload bytes, so floats compare exactly.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import ModuleType
from typing import NamedTuple

import msgspec

from virtuoso.analysis import Analyzer, State
from virtuoso.clock import Clock, ReplayClock
from virtuoso.events import Event, encode_payload
from virtuoso.testing._tripwire import WallClockGuard

AnalyzerFactory = Callable[[Clock], Analyzer]
"""Builds a fresh analyzer given the Clock it must read time from (``lambda clock: Rsi(RsiConfig(), clock)``)."""


class Step(NamedTuple):
    """One ``on_event`` call: ``ready`` after it and the derived events it returned."""

    ready: bool
    outputs: tuple[Event, ...]


Trace = list[Step]


def encode_output(event: Event) -> bytes:
    """A derived event as comparable bytes: envelope fields (not the store's version/position), then the payload."""
    head = [event.id, event.stream, event.ts_event, event.ts_recv, event.session, event.type, event.schema]
    return msgspec.json.encode([*head, event.causation]) + encode_payload(event.payload)


def encoded(trace: Sequence[Step]) -> list[tuple[bool, tuple[bytes, ...]]]:
    """``trace`` in comparable form."""
    return [(step.ready, tuple(encode_output(e) for e in step.outputs)) for step in trace]


def consumed(events: Sequence[Event], patterns: Sequence[str]) -> list[Event]:
    """The events the runtime would deliver to an analyzer consuming ``patterns`` (``fnmatch`` on the topic)."""
    return [e for e in events if any(fnmatchcase(e.topic, p) for p in patterns)]


def json_round_trip(state: State) -> State:
    """``state`` as it comes back from storage: encoded to JSON and decoded again."""
    decoded: State = msgspec.json.decode(msgspec.json.encode(state))
    return decoded


@dataclass
class Harness:
    """Builds fresh analyzers from ``factory`` and runs them under the wall-clock guard."""

    factory: AnalyzerFactory
    guard: WallClockGuard

    def start(self, start_ns: int) -> Run:
        """A fresh analyzer on a fresh :class:`~virtuoso.clock.ReplayClock` at ``start_ns``."""
        clock = ReplayClock(start_ns)
        with self.guard.active(clock):
            analyzer = self.factory(clock)
        for module in _modules_of(analyzer):
            self.guard.watch(module)
        return Run(analyzer, clock, self.guard)

    def trace(self, start_ns: int, inputs: Sequence[Event]) -> Trace:
        """The trace of a fresh analyzer fed ``inputs`` one by one."""
        return self.start(start_ns).feed(inputs)


@dataclass
class Run:
    """One analyzer instance and its clock."""

    analyzer: Analyzer
    clock: ReplayClock
    guard: WallClockGuard

    def feed(self, inputs: Sequence[Event]) -> Trace:
        """As a replay does: the clock moves to each event's ``ts_recv`` (never back), then ``on_event``."""
        steps: Trace = []
        for event in inputs:
            if event.ts_recv > self.clock.now_ns():
                self.clock.advance_to(event.ts_recv)
            steps.append(self.step(event))
        return steps

    def feed_chunk(self, chunk: Sequence[Event]) -> Trace:
        """As a batching processor does: the clock moves to the chunk's last ``ts_recv`` first, then each event."""
        if chunk and chunk[-1].ts_recv > self.clock.now_ns():
            self.clock.advance_to(chunk[-1].ts_recv)
        return [self.step(event) for event in chunk]

    def step(self, event: Event) -> Step:
        """One ``on_event`` call, guarded."""
        with self.guard.active(self.clock):
            outputs = tuple(self.analyzer.on_event(event))
            return Step(self.analyzer.ready, outputs)

    def snapshot(self) -> State:
        """The analyzer's snapshot, guarded."""
        with self.guard.active(self.clock):
            return self.analyzer.snapshot()

    def restore(self, state: State) -> None:
        """Restore the analyzer, guarded."""
        with self.guard.active(self.clock):
            self.analyzer.restore(state)


def _modules_of(analyzer: Analyzer) -> list[ModuleType]:
    # Where the analyzer's code lives: the modules of its class and base classes (not the stdlib's).
    modules = []
    for cls in type(analyzer).__mro__:
        module = inspect.getmodule(cls)
        if module is not None and module.__name__.partition(".")[0] not in sys.stdlib_module_names:
            modules.append(module)
    return modules
