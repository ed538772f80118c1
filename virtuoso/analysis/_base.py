"""What the built-in analyzers share: derived-event stamping, topic filters and per-stream state."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any, ClassVar, Generic, TypeVar

from virtuoso.analysis._protocol import AnalyzerConfig, State
from virtuoso.events import Event, Payload

ANALYSIS_PREFIX = "analysis:"
S = TypeVar("S")


def source_stream(stream: str) -> str:
    """The market stream behind ``stream``: ``analysis:bars:binance:BTC/USDT:trades`` -> ``binance:BTC/USDT:trades``."""
    while stream.startswith(ANALYSIS_PREFIX):
        parts = stream.split(":", 2)
        stream = parts[2] if len(parts) == 3 else ""
    return stream


def output_stream(name: str, stream: str) -> str:
    """The stream of analyzer ``name``'s output for input ``stream``: ``analysis:<name>:<market stream>``."""
    return f"{ANALYSIS_PREFIX}{name}:{source_stream(stream)}"


def derive(event: Event, name: str, index: int, payload: Payload) -> Event:
    """Output ``index`` of analyzer ``name`` for ``event``: a deterministic id, times and causation from ``event``.

    >>> from virtuoso.events import Note
    >>> e = Event("t1", "binance:BTC/USDT:trades", 5, 6, "s", Note("x"), position=9)
    >>> d = derive(e, "rsi", 0, Note("y"))
    >>> d.id, d.stream, d.ts_event, d.ts_recv, d.causation
    ('t1/rsi/0', 'analysis:rsi:binance:BTC/USDT:trades', 5, 6, 9)
    """
    causation = event.position or event.causation
    return Event(
        f"{event.id}/{name}/{index}",
        output_stream(name, event.stream),
        event.ts_event,
        event.ts_recv,
        event.session,
        payload,
        causation=causation,
    )


class TopicFilter:
    """Whether a payload class's topic matches one of ``patterns`` (fnmatch rules, cached per class)."""

    __slots__ = ("_cache", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._cache: dict[type[Payload], bool] = {}

    def __call__(self, cls: type[Payload]) -> bool:
        """True when events of ``cls`` are wanted."""
        wanted = self._cache.get(cls)
        if wanted is None:
            wanted = self._cache[cls] = any(fnmatchcase(cls.TOPIC, p) for p in self.patterns)
        return wanted


class PerStream(Generic[S]):
    """Base of analyzers that keep one state per market stream (the processor runs streams independently).

    Subclasses set ``name``, ``consumes``, ``config``, implement :meth:`fresh`,
    :meth:`dump` and :meth:`load` for one stream's state, and ``on_event``.
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]]
    config: AnalyzerConfig

    def __init__(self) -> None:
        self.states: dict[str, S] = {}
        self._ready = False

    @property
    def ready(self) -> bool:
        """True once some stream has passed its warm-up (its first output was emitted)."""
        return self._ready

    def state_for(self, stream: str) -> S:
        """The state of market stream ``stream``, created on first use."""
        state = self.states.get(stream)
        if state is None:
            state = self.states[stream] = self.fresh()
        return state

    def fresh(self) -> S:
        """A new stream's state."""
        raise NotImplementedError

    def dump(self, state: S) -> Any:
        """One stream's state as plain values."""
        raise NotImplementedError

    def load(self, values: Any) -> S:
        """One stream's state back from :meth:`dump`'s values."""
        raise NotImplementedError

    def snapshot(self) -> State:
        """Every stream's state, and whether the warm-up is over."""
        return {"ready": self._ready, "streams": {s: self.dump(v) for s, v in self.states.items()}}

    def restore(self, state: State) -> None:
        """Continue from :meth:`snapshot`'s state."""
        self._ready = bool(state["ready"])
        self.states = {s: self.load(v) for s, v in state["streams"].items()}
