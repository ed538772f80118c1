"""Replay speed: as fast as possible, or recorded time x N against a wall clock; pause and resume.

The wall clock and the sleep are injected (a :class:`~virtuoso.clock.LiveClock`
and :func:`asyncio.sleep` by default), so tests pace a replay without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from virtuoso.clock import Clock, LiveClock
from virtuoso.errors import UsageError

Sleep = Callable[[float], Awaitable[object]]


class Pacer:
    """Holds each event back until ``(ts - first ts) / speed`` of wall time has passed since the start.

    Time spent paused does not count: after :meth:`resume` the replay goes on
    where it was, without a burst to catch up.
    """

    def __init__(self, speed: float, *, wall: Clock | None = None, sleep: Sleep = asyncio.sleep) -> None:
        if not speed > 0:
            raise UsageError(f"replay speed must be positive, not {speed!r}")
        self.speed = speed
        self._wall = wall or LiveClock()
        self._sleep = sleep
        self._origin: tuple[int, int] | None = None

    async def wait(self, ts_ns: int) -> None:
        """Return once the event at recorded time ``ts_ns`` is due."""
        if self._origin is None:
            self._origin = (ts_ns, self._wall.now_ns())
            return
        first_ts, started = self._origin
        delay_ns = started + int((ts_ns - first_ts) / self.speed) - self._wall.now_ns()
        if delay_ns > 0:
            await self._sleep(delay_ns / 1e9)

    def shift(self, paused_ns: int) -> None:
        """Discount ``paused_ns`` of wall time spent paused."""
        if self._origin is not None:
            first_ts, started = self._origin
            self._origin = (first_ts, started + paused_ns)

    def now_ns(self) -> int:
        """The wall clock's time."""
        return self._wall.now_ns()


class Gate:
    """Pause and resume: a replay waits at the gate while it is closed."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    @property
    def paused(self) -> bool:
        """Whether the replay is held."""
        return not self._open.is_set()

    def pause(self) -> None:
        """Hold the replay before its next event (or chunk, at full speed)."""
        self._open.clear()

    def resume(self) -> None:
        """Let the replay go on."""
        self._open.set()

    async def wait(self) -> None:
        """Return when the gate is open."""
        await self._open.wait()
