"""The recorder's guards: each stream's exchange calls through a circuit breaker and a retry policy.

:func:`guards_for` turns the ``[resilience]`` table into what :func:`record`
needs: per stream, a :class:`~virtuoso.resilience.ResilientCall` with its own
breaker (named ``exchange:symbol:channel``) and the shared retry policy. Each
breaker transition becomes a ``BreakerStateChanged`` event on the session's
``system:<session>:breakers`` stream, published on the bus like everything else,
so the log says when and why data stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from virtuoso.bus import EventBus
from virtuoso.clock import Clock
from virtuoso.events import Event, EventIdFactory, Payload
from virtuoso.exchange._config import RecordConfig
from virtuoso.exchange._guard import Guard
from virtuoso.exchange._secrets import Secrets
from virtuoso.resilience import CircuitBreakers, ResilientCall, RetryPolicy

GuardsFor = Callable[[EventBus, Clock, str], "Guards"]
"""Builds the guards of one session: ``(bus, clock, session id) -> Guards``."""


def system_stream(session: str, name: str) -> str:
    """A session's own stream of toolkit events: ``system:<session>:<name>``."""
    return f"system:{session}:{name}"


class SystemEvents:
    """Publishes toolkit payloads (breaker changes, health reports) of one session on the bus."""

    def __init__(self, bus: EventBus, clock: Clock, session: str) -> None:
        self._bus, self._clock, self._session = bus, clock, session
        self._ids: dict[str, EventIdFactory] = {}

    def switch_session(self, session: str) -> None:
        """Publish as ``session`` from now on (a rotation)."""
        self._session = session
        self._ids.clear()

    def publish(self, name: str, payload: Payload) -> None:
        """Publish ``payload`` on ``system:<session>:<name>`` at the clock's time."""
        stream = system_stream(self._session, name)
        ids = self._ids.get(stream)
        if ids is None:
            ids = self._ids[stream] = EventIdFactory(f"{self._session}:{stream}")
        now = self._clock.now_ns()
        self._bus.publish(Event(ids(now), stream, now, now, self._session, payload))


class Guards:
    """The guard factory of one recording: a :class:`ResilientCall` per stream, its breaker on :attr:`breakers`."""

    def __init__(self, config: RecordConfig, clock: Clock, system: SystemEvents) -> None:
        settings = config.resilience
        self.system = system
        self.exchange = config.exchange
        self.retry = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_elapsed_s=settings.max_elapsed_s,
            base_delay_s=settings.base_delay_s,
            max_delay_s=settings.max_delay_s,
            rate_limit_delay_s=settings.rate_limit_delay_s,
            seed=settings.seed,
        )
        self.breakers = CircuitBreakers(
            clock,
            failure_threshold=settings.failure_threshold,
            window_s=settings.window_s,
            open_s=settings.open_s,
            on_transition=lambda change: self.system.publish("breakers", change),
        )
        self._secrets = Secrets.of(config).values
        self.exchange_object: Any = None
        """The ccxt instance whose last response headers carry a rate limit's Retry-After."""

    def __call__(self, name: str) -> Guard:
        """The guard of stream ``name`` (``binance:BTC/USDT:trades``), with the breaker of that name."""
        family = name.removeprefix(f"{self.exchange}:")
        breaker = self.breakers.get(self.exchange, family)
        return ResilientCall(
            breaker,
            self.retry,
            exchange=self.exchange,
            operation_family=family,
            headers=self._headers,
            secrets=self._secrets,
        )

    def _headers(self) -> Mapping[str, str] | None:
        headers = getattr(self.exchange_object, "last_response_headers", None)
        return headers if isinstance(headers, Mapping) else None


def guards_for(config: RecordConfig) -> GuardsFor:
    """The guards of ``config``'s ``[resilience]`` settings, built per session."""

    def build(bus: EventBus, clock: Clock, session: str) -> Guards:
        return Guards(config, clock, SystemEvents(bus, clock, session))

    return build
