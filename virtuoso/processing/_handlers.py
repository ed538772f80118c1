"""What the processor calls: batch handlers, and the adapter for per-event callables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from virtuoso.bus import handler_name as bus_handler_name
from virtuoso.bus import is_async_callable
from virtuoso.errors import UsageError
from virtuoso.events import Event

Derived: TypeAlias = Event | Sequence[Event] | None
"""What a per-event callable returns: one derived event, several, or none."""

BatchHandler: TypeAlias = Callable[[Sequence[Event]], Awaitable[Sequence[Event] | None]]
"""``async def handle(batch) -> derived events | None``: events of one lane, in per-key order."""

SyncEventFn: TypeAlias = Callable[[Event], Derived]
AbsorbFn: TypeAlias = Callable[[Sequence[Event], int, int], int]
"""``absorb(events, start, stop) -> index``: see :attr:`PerEvent.absorb`."""
AsyncEventFn: TypeAlias = Callable[[Event], Awaitable[Derived]]


class PerEvent:
    """Adapts a per-event callable, sync or async, to the processor (see :func:`per_event`).

    The processor recognises the adapter and calls ``fn`` once per event, so a
    failure dead-letters only the event that raised. Called directly, it is a
    :data:`BatchHandler` (a failure then stops the batch).
    """

    __slots__ = ("absorb", "fn", "is_async", "name")

    def __init__(
        self, fn: SyncEventFn | AsyncEventFn, *, is_async: bool | None = None, absorb: AbsorbFn | None = None
    ) -> None:
        self.fn: Callable[[Event], Any] = fn
        self.is_async = is_async_callable(fn) if is_async is None else is_async
        self.name = handler_name(fn)
        self.absorb = absorb
        """For a sync ``fn``: ``absorb(events, start, stop)`` does at once what ``fn`` would do for each of
        ``events[start:stop]`` up to the index it returns, for events on which ``fn`` derives nothing and
        cannot fail (the pipeline's :meth:`~virtuoso.analysis.AnalyzerPipeline.absorb`)."""

    async def __call__(self, batch: Sequence[Event]) -> list[Event]:
        """Call ``fn`` on each event of ``batch`` in order; the derived events, in order."""
        derived: list[Event] = []
        for event in batch:
            result = self.fn(event)
            if self.is_async:
                result = await result
            add_derived(derived, result)
        return derived

    def __repr__(self) -> str:
        return f"per_event({self.name})"


def per_event(
    fn: SyncEventFn | AsyncEventFn, *, is_async: bool | None = None, absorb: AbsorbFn | None = None
) -> PerEvent:
    """Run ``fn(event)`` (sync, or ``async def``) on each event; it returns derived events or ``None``.

    Whether ``fn`` is async is detected (``inspect.iscoroutinefunction``, also on
    ``fn.__call__``); pass ``is_async`` for callables detection cannot see through.
    ``absorb`` (sync ``fn`` only) counts a stretch of events ``fn`` would derive
    nothing from in one call (see :attr:`PerEvent.absorb`).

    >>> per_event(lambda event: None).is_async
    False
    """
    if absorb is not None and (is_async_callable(fn) if is_async is None else is_async):
        raise UsageError("absorb goes with a synchronous per-event callable")
    return PerEvent(fn, is_async=is_async, absorb=absorb)


def add_derived(derived: list[Event], result: Derived) -> None:
    """Append what a per-event callable returned to ``derived``."""
    if result is None:
        return
    if isinstance(result, Event):
        derived.append(result)
    else:
        derived.extend(result)


def handler_name(handler: Callable[..., Any]) -> str:
    """A readable, stable name for a handler: ``module.qualname`` (what dead letters record)."""
    return handler.name if isinstance(handler, PerEvent) else bus_handler_name(handler)
