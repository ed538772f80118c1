"""Which subscriptions receive an event of a given payload class."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from virtuoso.events import Event, Payload

Handler = Callable[[Event], object]
BatchHandler = Callable[[list[Event]], object]
"""A batch subscriber: called with a list of events (see ``EventBus.subscribe``)."""


def is_async_callable(fn: Callable[..., object]) -> bool:
    """True for ``async def`` functions, methods and partials of them, and objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


@dataclass(eq=False, slots=True)
class Subscription:
    """One handler's subscription; pass it to ``EventBus.unsubscribe``."""

    handler: Handler | BatchHandler
    name: str
    priority: int
    order: int
    event_class: type[Payload] | None = None
    topics: tuple[str, ...] = ()
    failures: int = 0
    active: bool = True
    batch: bool = False
    """The handler takes a list of events: what each publish (or chunk) brought it, once (see ``EventBus``)."""
    pending: list[Event] = field(default_factory=list)
    """A batch subscription's events of the publish under way."""

    def matches(self, cls: type[Payload]) -> bool:
        """True when events whose payload is of class ``cls`` go to this handler."""
        if self.event_class is not None:
            return issubclass(cls, self.event_class)
        return any(fnmatchcase(cls.TOPIC, pattern) for pattern in self.topics)

    @property
    def receiver(self) -> Handler:
        """What a route calls with each event: the handler, or a batch subscription's ``pending.append``."""
        return self.pending.append if self.batch else self.handler  # type: ignore[return-value]

    @property
    def sort_key(self) -> tuple[int, int]:
        """Dispatch order: priority (smaller first), then subscription order."""
        return (self.priority, self.order)


def route_for(cls: type[Payload], subscriptions: list[Subscription]) -> tuple[Subscription, ...]:
    """The subscriptions an event of class ``cls`` is dispatched to, in dispatch order."""
    return tuple(sorted((s for s in subscriptions if s.matches(cls)), key=lambda s: s.sort_key))
