"""A small registry of built-in example handlers for ``virtuoso replay --analyzers``.

Until issue 7 brings real analyzers, an "analyzer" is a processor handler
(``Event -> derived events``) built fresh for each run from its name, a frozen
config and the run's seeded generator. Issue 7 replaces this registry; the run
manifest already records each one as ``{name, config, hash}``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from virtuoso.errors import UsageError
from virtuoso.events import Event, Note, Trade
from virtuoso.store import config_hash

Handler = Callable[[Event], list[Event] | None]
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


BUILTIN: dict[str, AnalyzerSpec] = {
    "trade-count": AnalyzerSpec("trade-count", lambda config, rng: TradeCounter(_every(config)), {"every": 1000}),
    "vwap": AnalyzerSpec("vwap", lambda config, rng: VwapNotes(_every(config)), {"every": 1000}),
}
"""The built-in examples by name; ``default`` is all of them, ``none`` is none."""


def analyzers_named(names: str) -> tuple[AnalyzerSpec, ...]:
    """The specs of a comma-separated list of built-in names, ``default`` or ``none``.

    >>> [spec.name for spec in analyzers_named("default")]
    ['trade-count', 'vwap']
    """
    if names.strip() in ("", "none"):
        return ()
    if names.strip() == "default":
        return tuple(BUILTIN.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in BUILTIN]
    if unknown:
        known = ", ".join(BUILTIN)
        raise UsageError(f"unknown analyzer(s) {', '.join(unknown)} (built in: {known}; or default, none)")
    return tuple(BUILTIN[name] for name in wanted)
