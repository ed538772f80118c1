"""What ``virtuoso replay --analyzers`` builds: the analyzers of :mod:`virtuoso.analysis`, and handlers.

A run's spec is a name, a config and a factory. Registered analyzers
(:data:`virtuoso.analysis.ANALYZERS`) are built by the run's container and
chained in one :class:`~virtuoso.analysis.AnalyzerPipeline`; a spec may also name
a plain processor handler (``Event -> derived events``) built fresh for each run
from its config and the run's seeded generator, like the two examples of
:data:`BUILTIN`. The run manifest records each spec as ``{name, config, hash}``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from virtuoso.analysis import ANALYZERS, AnalyzerConfig, AnalyzerPipeline, config_for, instantiate, parse_spec, resolve
from virtuoso.errors import UsageError
from virtuoso.events import Event, Note, Trade
from virtuoso.store import config_hash

Handler = Callable[[Event], Sequence[Event] | None]
Factory = Callable[[Mapping[str, Any], random.Random], Handler]


@dataclass(frozen=True)
class AnalyzerSpec:
    """An analyzer of a run: a name, a frozen config (hashed into the run's key) and how to build it."""

    name: str
    factory: Factory = field(compare=False, repr=False)
    config: Mapping[str, Any] = field(default_factory=dict)

    def build(self, rng: random.Random) -> Handler:
        """A fresh handler (its state starts empty)."""
        return self.factory(self.config, rng)

    def as_config(self) -> dict[str, Any]:
        """What the run manifest records: name, config and the config's hash."""
        return {"name": self.name, "config": dict(self.config), "hash": config_hash(dict(self.config))}


class TradeCounter:
    """Counts trades per stream; every ``every`` trades of a stream, a Note with the count."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.counts: dict[str, int] = {}

    def __call__(self, event: Event) -> list[Event] | None:
        if not isinstance(event.payload, Trade):
            return None
        count = self.counts.get(event.stream, 0) + 1
        self.counts[event.stream] = count
        if count % self.every:
            return None
        note = Note(f"{count} trades", data={"stream": event.stream, "count": str(count)})
        return [
            Event(f"{event.id}/trade-count", "analysis:trade-count", event.ts_event, event.ts_recv, event.session, note)
        ]


class VwapNotes:
    """The volume-weighted average price of each stream's last ``every`` trades, as a Note."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.sums: dict[str, tuple[float, float, int]] = {}

    def __call__(self, event: Event) -> list[Event] | None:
        trade = event.payload
        if not isinstance(trade, Trade):
            return None
        notional, volume, count = self.sums.get(event.stream, (0.0, 0.0, 0))
        notional, volume, count = notional + trade.price * trade.amount, volume + trade.amount, count + 1
        if count < self.every:
            self.sums[event.stream] = (notional, volume, count)
            return None
        self.sums[event.stream] = (0.0, 0.0, 0)
        vwap = notional / volume if volume else 0.0
        note = Note(f"vwap {vwap:.8g}", data={"stream": event.stream, "vwap": repr(vwap), "trades": str(count)})
        return [Event(f"{event.id}/vwap", "analysis:vwap", event.ts_event, event.ts_recv, event.session, note)]


def _every(config: Mapping[str, Any]) -> int:
    every = config.get("every", 1000)
    if not isinstance(every, int) or every < 1:
        raise UsageError(f"analyzer config 'every' must be a positive integer, not {every!r}")
    return every


class AnalyzerFactory:
    """The factory of a spec for a registered analyzer class: runs put these in the container's pipeline."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls

    def recipe(self, config: Mapping[str, Any]) -> tuple[type[Any], AnalyzerConfig]:
        """The class and its config object."""
        return self.cls, config_for(self.cls.name, config)

    def __call__(self, config: Mapping[str, Any], rng: random.Random) -> Handler:
        """A pipeline of this one analyzer (what a run builds through the container instead)."""
        return AnalyzerPipeline([instantiate(*self.recipe(config))])


BUILTIN: dict[str, AnalyzerSpec] = {
    "trade-count": AnalyzerSpec("trade-count", lambda config, rng: TradeCounter(_every(config)), {"every": 1000}),
    "vwap-notes": AnalyzerSpec("vwap-notes", lambda config, rng: VwapNotes(_every(config)), {"every": 1000}),
}
"""Example handlers by name (not analyzers: no warm-up, no snapshot), beside the analyzers of
:data:`virtuoso.analysis.ANALYZERS`."""


def analyzers_named(names: str | Sequence[Mapping[str, Any]]) -> tuple[AnalyzerSpec, ...]:
    """The specs of ``names``: ``default``, ``none``, comma-separated names, a ``*.toml`` file with an
    ``[[analyzers]]`` list, or such a list; names are analyzers (:data:`virtuoso.analysis.ANALYZERS`)
    or the example handlers of :data:`BUILTIN`. A ``bars`` analyzer the others need comes first.

    >>> [spec.name for spec in analyzers_named("rsi,trade-count")]
    ['trade-count', 'bars', 'rsi']
    >>> analyzers_named("rsi,nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    virtuoso.errors.UsageError: unknown analyzer 'nope' (known: atr, bars, ...; or default, none)
    """
    examples: list[AnalyzerSpec] = []
    tables: list[dict[str, Any]] = []
    for name, values in parse_spec(names):
        if name in BUILTIN:
            spec = BUILTIN[name]
            examples.append(AnalyzerSpec(spec.name, spec.factory, {**spec.config, **values}))
        elif name in ANALYZERS:
            tables.append({"name": name, **values})
        else:
            known = ", ".join(sorted([*ANALYZERS, *BUILTIN]))
            raise UsageError(f"unknown analyzer {name!r} (known: {known}; or default, none)")
    recipes = [(cls, config.as_dict()) for cls, config in resolve(tables)]
    return (*examples, *(AnalyzerSpec(cls.name, AnalyzerFactory(cls), values) for cls, values in recipes))
