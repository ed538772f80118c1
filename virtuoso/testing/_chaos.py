"""Seeded chaos: faults drawn at random from the whole catalogue, reproducibly from a seed.

Every channel (a REST path, a WebSocket stream of one market) has its own
``random.Random`` seeded from the seed and the channel's name, drawn once per request to
that path or per frame of that stream, in order. So the fault that the k-th request to a
path, or the k-th frame of a stream, gets depends only on the seed, never on how the
channels interleave. Each draw is a fault with probability ``rate``; the kind is dealt
from a shuffled deck of the kinds that apply to the channel, refilled when empty, so a
channel that has drawn as many faults as it has kinds has drawn every kind once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from virtuoso.errors import UsageError
from virtuoso.testing._faults import REST_BODY_ACTIONS, REST_ROW_ACTIONS, REST_STATUS_ACTIONS, RestFault, WsFault

REST_CHAOS = (*REST_STATUS_ACTIONS, "slow", *REST_BODY_ACTIONS, *REST_ROW_ACTIONS)
WS_CHAOS = ("disconnect", "skip", "malformed", "wrong-shape", "garbage", "cut", "stall", "reconnect", "reset")
CHAOS_KINDS = tuple(f"rest:{kind}" for kind in REST_CHAOS) + tuple(f"ws:{kind}" for kind in WS_CHAOS)
"""Every kind chaos can draw, named ``rest:KIND`` or ``ws:KIND`` (``pause`` and ``skip-depth`` are schedule-only)."""

_TRADE_PATHS = ("trades", "historicalTrades", "aggTrades")
_DEPTH_ROW_KINDS = ("missing", "bad-values")
_VALUED_EVENTS = ("trade", "aggTrade", "depth", "bookTicker")  # events with prices and amounts to spoil
_MAX_DISCONNECT_LOSS = 20  # a chaos disconnect withholds 0..20 messages of the connection's streams


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """What chaos draws: ``seed``, the chance ``rate`` that a request or frame goes wrong, the ``kinds``
    allowed (``rest:KIND``/``ws:KIND``, or a bare ``KIND`` for both channels; empty: all of
    :data:`CHAOS_KINDS`), and ``seconds``, how long a ``slow`` answer or a ``stall`` lasts."""

    seed: int
    rate: float = 0.01
    kinds: tuple[str, ...] = ()
    seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise UsageError(f"chaos rate must be between 0 and 1, got {self.rate}")
        if not 0 <= self.seconds < float("inf"):
            raise UsageError(f"chaos seconds must be >= 0, got {self.seconds}")
        for kind in self.kinds:
            if kind not in CHAOS_KINDS and f"rest:{kind}" not in CHAOS_KINDS and f"ws:{kind}" not in CHAOS_KINDS:
                raise UsageError(f"unknown chaos kind {kind!r} (one of {', '.join(CHAOS_KINDS)})")

    def allowed(self) -> frozenset[str]:
        """The qualified kinds (``rest:429``, ``ws:cut``) chaos may draw."""
        if not self.kinds:
            return frozenset(CHAOS_KINDS)
        wanted = set(self.kinds)
        return frozenset(k for k in CHAOS_KINDS if k in wanted or k.partition(":")[2] in wanted)


class _Channel:
    """One channel's generator and deck of kinds."""

    __slots__ = ("_deck", "_kinds", "last", "rng")

    def __init__(self, seed: int, name: str, kinds: list[str]) -> None:
        self.rng = random.Random(f"{seed}|{name}")
        self._kinds = kinds
        self._deck: list[str] = []
        self.last: tuple[int, WsFault | None] = (-1, None)  # the last frame drawn for, and its fault

    def draw(self, rate: float) -> str | None:
        if self.rng.random() >= rate or not self._kinds:
            return None
        if not self._deck:
            self._deck = list(self._kinds)
            self.rng.shuffle(self._deck)
        return self._deck.pop()


class Chaos:
    """Draws the faults of chaos mode, one :class:`_Channel` per REST path and WebSocket stream."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self._allowed = config.allowed()
        self._channels: dict[str, _Channel] = {}

    def rest_fault(self, path: str, ordinal: int) -> RestFault | None:
        """The fault (if any) of the ``ordinal``-th request to ``path``."""
        channel = self._channels.get(path) or self._channel(path, self._rest_kinds(path))
        kind = channel.draw(self.config.rate)
        if kind is None:
            return None
        seconds = self.config.seconds if kind == "slow" else 1.0 if kind in ("429", "418") else 0.0
        return RestFault(path, ordinal, ordinal, kind, seconds)

    def ws_fault(self, market: str, stream: str, event: str, frame: int, number: int = 0) -> WsFault | None:
        """The fault (if any) of frame ordinal ``frame`` of ``stream``, message ``number`` of the server.

        Asked again for the same frame (its delivery was interrupted: the connection went away
        during a stall), the answer is the same and nothing more is drawn.
        """
        name = f"ws:{market}:{stream}"
        channel = self._channels.get(name) or self._channel(name, self._ws_kinds(event))
        if channel.last[0] == frame:
            return channel.last[1]
        kind = channel.draw(self.config.rate)
        fault = None if kind is None else self._ws(kind, number, channel)
        channel.last = (frame, fault)
        return fault

    def spent(self, market: str, stream: str, frame: int) -> None:
        """The fault drawn for ``frame`` has been applied: if the frame is delivered again, it goes out plainly.

        (A stall that made the client reconnect must not stall the frame again on the next connection.)
        """
        channel = self._channels.get(f"ws:{market}:{stream}")
        if channel is not None and channel.last[0] == frame:
            channel.last = (frame, None)

    def _ws(self, kind: str, number: int, channel: _Channel) -> WsFault:
        if kind == "disconnect":
            return WsFault(kind, number, channel.rng.randint(0, _MAX_DISCONNECT_LOSS))
        return WsFault(kind, number, seconds=self.config.seconds if kind == "stall" else 0.0)

    def _channel(self, name: str, kinds: list[str]) -> _Channel:
        channel = self._channels[name] = _Channel(self.config.seed, name, kinds)
        return channel

    def _rest_kinds(self, path: str) -> list[str]:
        endpoint = path.rsplit("/", 1)[-1]
        rows = REST_ROW_ACTIONS if endpoint in _TRADE_PATHS else _DEPTH_ROW_KINDS if endpoint == "depth" else ()
        kinds = (*REST_STATUS_ACTIONS, "slow", *REST_BODY_ACTIONS, *rows)
        return [kind for kind in kinds if f"rest:{kind}" in self._allowed]

    def _ws_kinds(self, event: str) -> list[str]:
        kinds = [kind for kind in WS_CHAOS if f"ws:{kind}" in self._allowed]
        if event not in _VALUED_EVENTS:
            kinds = [kind for kind in kinds if kind != "garbage"]
        if event != "depth":
            kinds = [kind for kind in kinds if kind != "reset"]
        return kinds


def kinds_for(event: str) -> tuple[str, ...]:
    """The WebSocket chaos kinds that apply to frames of ``event`` (``trade``, ``depth``, ...)."""
    return tuple(
        kind
        for kind in WS_CHAOS
        if (kind != "garbage" or event in _VALUED_EVENTS) and (kind != "reset" or event == "depth")
    )
