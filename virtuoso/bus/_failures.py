"""What happens when a bus handler raises: a ``HandlerFailed`` event, and a policy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from virtuoso.events import Event, Payload, event_type


@event_type
class HandlerFailed(Payload, frozen=True, gc=False):
    """A bus handler raised while handling the event ``event_id`` (at ``position`` once stored, else 0)."""

    TYPE: ClassVar[str] = "HandlerFailed"
    TOPIC: ClassVar[str] = "system.handler.failed"

    handler: str
    event_id: str
    position: int
    event_type: str
    error: str
    unsubscribed: bool = False


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """How many failures a handler may have before the bus unsubscribes it (``None``: never)."""

    max_failures: int | None = None

    def gives_up(self, failures: int) -> bool:
        """True when a handler with ``failures`` failures must be unsubscribed."""
        return self.max_failures is not None and failures >= self.max_failures


def handler_name(handler: Callable[..., Any]) -> str:
    """A stable, readable name for a handler: ``module.qualname``."""
    target = getattr(handler, "__func__", handler)
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None) or type(target).__module__
    return f"{module}.{qualname}"


def failure_event(
    name: str, event: Event, error: BaseException | str, ts_recv: int, *, unsubscribed: bool = False
) -> Event:
    """The envelope of a ``HandlerFailed``: same session and exchange time as the failed event, caused by it.

    Its id is derived from the failed event's id and the handler's name, so a
    replay that fails the same way produces the same event (and the store keeps one).
    """
    text = error if isinstance(error, str) else describe_error(error)
    payload = HandlerFailed(name, event.id, event.position, event.type, text, unsubscribed)
    digest = hashlib.sha256(f"{event.id}\x00{name}".encode()).hexdigest()[:32]
    causation = event.position or None
    return Event(digest, f"system:{event.session}:failures", event.ts_event, ts_recv, event.session, payload, causation)


def describe_error(exc: BaseException) -> str:
    """How a handler's error is written in ``HandlerFailed`` and dead letters: ``"Type: message"``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
