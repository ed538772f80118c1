"""The analyzer contract: what every analyzer, built in or a user's, provides.

An analyzer turns the market events it consumes into derived events. It is a
plain object with state; the runtime feeds it events one at a time, in the
order of the log, and never tells it whether it runs live or in a replay. Its
parameters are a frozen :class:`AnalyzerConfig` whose content hash goes into
every run manifest, and its state can be saved and restored, so that a run can
resume and a test can prove that resuming changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import msgspec

from virtuoso.events import Event
from virtuoso.store import config_hash

State = dict[str, Any]
"""An analyzer's saved state: plain JSON-compatible values (``msgspec.to_builtins`` round-trips it)."""


class AnalyzerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of analyzer configs: frozen, built from a mapping (a TOML table), with a content hash.

    >>> class EmaConfig(AnalyzerConfig, frozen=True, kw_only=True):
    ...     period: int = 20
    >>> EmaConfig(period=9).as_dict(), EmaConfig.from_mapping({"period": 9}) == EmaConfig(period=9)
    ({'period': 9}, True)
    >>> EmaConfig(period=9).hash() == EmaConfig(period=9).hash() != EmaConfig().hash()
    True
    """

    def as_dict(self) -> dict[str, Any]:
        """The config as plain values (what a run manifest records)."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values

    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`as_dict` (keys sorted)."""
        return config_hash(self.as_dict())

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> AnalyzerConfig:
        """The config of ``values``; unknown keys and wrong types raise ``msgspec.ValidationError``."""
        return msgspec.convert(values, cls)


@runtime_checkable
class Analyzer(Protocol):
    """What the runtime, the run manifest and the property-testing kit rely on.

    - ``name``: the registry name (``"rsi"``); ``consumes``: the topic patterns of
      the events it takes (``("market.trade",)``, ``("market.book.*",)``); other
      events never reach ``on_event``.
    - ``config``: its frozen parameters.
    - ``on_event(event)``: the derived events for one input event, possibly none.
      Each derived event has ``causation=event.position`` and a deterministic id.
    - ``ready``: False while warming up; nothing is emitted before it turns True.
    - ``snapshot()`` / ``restore(state)``: a fresh instance restored from a
      snapshot continues exactly as the original would have.

    Services (the :class:`~virtuoso.clock.Clock`, ...) come in through the
    constructor, from the container; an analyzer never builds them itself, and
    reads time only from the Clock it was given.
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]]
    config: AnalyzerConfig

    @property
    def ready(self) -> bool:
        """Whether the warm-up is over (outputs are valid and emitted)."""
        ...

    def on_event(self, event: Event) -> Sequence[Event]:
        """The derived events for ``event``."""
        ...

    def snapshot(self) -> State:
        """The state needed to continue from here."""
        ...

    def restore(self, state: State) -> None:
        """Continue from a state :meth:`snapshot` returned (on a fresh instance with the same config)."""
        ...
