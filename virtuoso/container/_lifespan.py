"""What one owner (the container itself, or a scope) created, and disposing it in reverse order.

An instance is *disposable* when its class has ``aclose()``, ``close()``,
``__aexit__`` or ``__exit__``. Disposing prefers, asynchronously: ``aclose()``,
then ``close()`` (awaited when it returns an awaitable), then ``__aexit__``, then
``__exit__``; synchronously: ``close()``, then ``__exit__``. The exit methods are
called with ``(None, None, None)``: the container never calls ``__enter__``, the
instance is what its provider returned.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from virtuoso.errors import ContainerError, DisposalError

_METHODS = ("aclose", "close", "__aexit__", "__exit__")

Failure = tuple[str, BaseException]


def is_disposable(cls: type) -> bool:
    """Whether instances of ``cls`` have something to call on disposal."""
    return any(callable(getattr(cls, method, None)) for method in _METHODS)


def _method(obj: object, name: str) -> Any:
    """A disposal method of ``obj``'s class, bound; None if the class has no callable of that name."""
    return getattr(obj, name) if callable(getattr(type(obj), name, None)) else None


def _sync_close(obj: object) -> Callable[[], object] | None:
    close = _method(obj, "close")
    if close is not None and not inspect.iscoroutinefunction(close):
        return close  # type: ignore[no-any-return]
    exit_ = _method(obj, "__exit__")
    return (lambda: exit_(None, None, None)) if exit_ is not None else None


def needs_async(obj: object) -> bool:
    """Whether only an async disposer can dispose ``obj``."""
    return _sync_close(obj) is None


def dispose_sync(obj: object) -> None:
    """Dispose ``obj`` without an event loop; refuses objects that only an async disposer can close."""
    close = _sync_close(obj)
    if close is None:
        raise ContainerError(f"{type(obj).__qualname__} can only be disposed by `await aclose()`")
    result = close()
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never started: closing it avoids a "never awaited" warning
        raise ContainerError(f"{type(obj).__qualname__}.close() returned an awaitable: dispose with `await aclose()`")


async def dispose_async(obj: object) -> None:
    """Dispose ``obj`` by its first disposal method (see the module docstring)."""
    aclose = _method(obj, "aclose")
    if aclose is not None:
        await aclose()
        return
    close = _method(obj, "close")
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result
        return
    aexit = _method(obj, "__aexit__")
    if aexit is not None:
        await aexit(None, None, None)
        return
    dispose_sync(obj)


class Lifespan:
    """The instances one owner holds, the disposables among them in creation order, and its pending creations."""

    __slots__ = ("closed", "disposables", "instances", "pending", "tracked")

    def __init__(self, tracked: set[int]) -> None:
        self.instances: dict[Any, Any] = {}
        """Singleton or scoped instances by registration key (transients are not kept)."""
        self.disposables: list[tuple[str, object]] = []
        self.pending: dict[Any, asyncio.Future[Any]] = {}
        self.tracked = tracked
        """Ids of every instance any owner of the container will dispose: each is disposed once, by its first owner."""
        self.closed = False

    def track(self, label: str, instance: object) -> None:
        """Dispose ``instance`` when this owner closes, unless an owner already will."""
        if id(instance) not in self.tracked:
            self.tracked.add(id(instance))
            self.disposables.append((label, instance))

    def close(self) -> None:
        """Refuse new instances and forget the cached ones; disposal is separate."""
        self.closed = True
        self.instances.clear()

    def async_only(self) -> list[str]:
        """Labels of the waiting disposables that only an async disposer can dispose."""
        return [label for label, instance in self.disposables if needs_async(instance)]

    def dispose_sync(self, failures: list[Failure]) -> None:
        """Dispose every waiting instance, last created first; failures are appended, not raised."""
        while self.disposables:
            label, instance = self._pop()
            try:
                dispose_sync(instance)
            except Exception as error:
                failures.append((label, error))

    async def dispose_async(self, failures: list[Failure]) -> asyncio.CancelledError | None:
        """Like :meth:`dispose_sync`, awaiting; a cancellation is returned, for the caller to raise after the rest."""
        cancelled = None
        while self.disposables:
            label, instance = self._pop()
            try:
                await dispose_async(instance)
            except asyncio.CancelledError as error:
                cancelled = cancelled or error
            except Exception as error:
                failures.append((label, error))
        return cancelled

    def _pop(self) -> tuple[str, object]:
        label, instance = self.disposables.pop()
        self.tracked.discard(id(instance))
        return label, instance

    async def once(self, key: Any, create: Callable[[], Awaitable[Any]]) -> Any:
        """The instance under ``key``, created by ``create`` unless another task is creating it already."""
        while (pending := self.pending.get(key)) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled() or _being_cancelled():
                    raise
                # The task that was creating it was cancelled, not this one: try again.
        if key in self.instances:
            return self.instances[key]
        return await self._create(key, create)

    async def _create(self, key: Any, create: Callable[[], Awaitable[Any]]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            instance = await create()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # marks it retrieved: the creator raises it, waiters (if any) get it too
            raise
        else:
            future.set_result(instance)
            return instance
        finally:
            del self.pending[key]


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_failures(failures: list[Failure], cancelled: asyncio.CancelledError | None = None) -> None:
    """Raise what disposal collected: the cancellation first (never swallowed), else one DisposalError."""
    error = DisposalError(failures) if failures else None
    if cancelled is not None:
        raise cancelled from error
    if error is not None:
        raise error from failures[0][1]
