"""Time, injected: every component asks a :class:`Clock`, never the system.

Live runs register a :class:`LiveClock` (the system clock and the running event
loop's timers); replays register a :class:`ReplayClock`, which the replayer moves
to each event's time. A component written against :class:`Clock` cannot tell
the two apart, which is what lets a replay reproduce a live run.

>>> clock = ReplayClock(start_ns=1_000)
>>> fired = []
>>> _ = clock.call_at(1_500, lambda: fired.append(("a", clock.now_ns())))
>>> _ = clock.call_later(200, lambda: fired.append(("b", clock.now_ns())))
>>> clock.advance_to(2_000)
>>> fired, clock.now_ns()
([('b', 1200), ('a', 1500)], 2000)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from virtuoso.errors import ClockError


class Stamped(Protocol):
    """What :meth:`ReplayClock.follow` reads of an item: an event's two times."""

    @property
    def ts_recv(self) -> int:
        """Local receive time, ns."""
        ...

    @property
    def ts_event(self) -> int:
        """Exchange time, ns."""
        ...


S = TypeVar("S", bound=Stamped)

Callback = Callable[[], object]


class TimerHandle:
    """A scheduled callback; :meth:`cancel` stops it from firing (cancelling twice is harmless)."""

    __slots__ = ("_callback", "_cancel_hook", "cancelled", "when_ns")

    def __init__(self, when_ns: int, callback: Callback) -> None:
        self.when_ns = when_ns
        self.cancelled = False
        self._callback = callback
        self._cancel_hook: Callable[[], None] | None = None

    def cancel(self) -> None:
        """Do not fire this timer."""
        if not self.cancelled:
            self.cancelled = True
            if self._cancel_hook is not None:
                self._cancel_hook()

    def _fire(self) -> None:
        if not self.cancelled:
            self.cancelled = True  # a timer fires once
            self._callback()


class Clock(Protocol):
    """What components may ask of time: the current instant and timers, in ns since the Unix epoch."""

    def now_ns(self) -> int:
        """The current time."""
        ...

    def call_at(self, ts_ns: int, callback: Callback) -> TimerHandle:
        """Call ``callback()`` once the clock reaches ``ts_ns``."""
        ...

    def call_later(self, delay_ns: int, callback: Callback) -> TimerHandle:
        """Call ``callback()`` ``delay_ns`` after now."""
        ...


class LiveClock:
    """The system clock; timers run on the running asyncio loop (so they need one).

    ``offset_ns`` shifts it: a recording of the loopback exchange's old capture runs on a
    clock set to the capture's time, so local and exchange timestamps stay comparable.
    """

    def __init__(self, offset_ns: int = 0) -> None:
        self.offset_ns = offset_ns

    def now_ns(self) -> int:
        """Wall-clock time (plus the offset)."""
        return time.time_ns() + self.offset_ns

    def call_at(self, ts_ns: int, callback: Callback) -> TimerHandle:
        """Schedule on the running loop, ``ts_ns - now_ns()`` from now (at once if already past)."""
        return self.call_later(ts_ns - self.now_ns(), callback)

    def call_later(self, delay_ns: int, callback: Callback) -> TimerHandle:
        """Schedule on the running loop after ``delay_ns``."""
        handle = TimerHandle(self.now_ns() + delay_ns, callback)
        loop_handle = asyncio.get_running_loop().call_later(max(delay_ns, 0) / 1e9, handle._fire)
        handle._cancel_hook = loop_handle.cancel
        return handle


class ReplayClock:
    """A clock that only moves when told to: :meth:`advance_to` (recorded time, replays, tests).

    Timers due at or before the new time fire first, in time order, ties in
    registration order; while a timer fires, :meth:`now_ns` is its due time, and
    timers it schedules that are due before the target fire in the same advance.
    A timer set in the past fires at the next advance, at the current time.
    """

    __slots__ = ("_heap", "_now", "_order")

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._heap: list[tuple[int, int, TimerHandle]] = []
        self._order = itertools.count()

    def now_ns(self) -> int:
        """The time the clock was last advanced to (or the due time of the timer firing now)."""
        return self._now

    def call_at(self, ts_ns: int, callback: Callback) -> TimerHandle:
        """Fire ``callback`` when the clock is advanced to ``ts_ns`` or later."""
        handle = TimerHandle(ts_ns, callback)
        heapq.heappush(self._heap, (ts_ns, next(self._order), handle))
        return handle

    def call_later(self, delay_ns: int, callback: Callback) -> TimerHandle:
        """Fire ``callback`` ``delay_ns`` after the current time."""
        return self.call_at(self._now + delay_ns, callback)

    def next_timer_ns(self) -> int | None:
        """When the earliest pending timer is due, or ``None`` without one."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def follow(self, items: Iterable[S], by_exchange_time: bool = False) -> Iterator[S]:
        """Yield each of ``items`` (events) once the clock is at its ``ts_recv`` (its ``ts_event`` with
        ``by_exchange_time``), as :meth:`advance_to` would move it, timers due first; an item stamped
        earlier than the clock leaves it where it is.

        A replay's hot loop: the clock is moved in place, without a call an event, unless a timer is due.

        >>> clock = ReplayClock()
        >>> _ = clock.call_at(15, lambda: print("timer at", clock.now_ns()))
        >>> class Item:
        ...     def __init__(self, ts): self.ts_recv = self.ts_event = ts
        >>> for item in clock.follow([Item(10), Item(20), Item(5)]):
        ...     print(item.ts_recv, clock.now_ns())
        10 10
        timer at 15
        20 20
        5 20
        """
        heap, now = self._heap, self._now
        if by_exchange_time:
            for item in items:
                if item.ts_event > now:
                    now = item.ts_event
                    if heap and heap[0][0] <= now:
                        self.advance_to(now)
                    else:
                        self._now = now
                yield item
        else:
            for item in items:
                if item.ts_recv > now:
                    now = item.ts_recv
                    if heap and heap[0][0] <= now:
                        self.advance_to(now)
                    else:
                        self._now = now
                yield item

    def advance_to(self, ts_ns: int) -> None:
        """Move to ``ts_ns``, firing every timer due by then in order; moving backwards raises :class:`ClockError`."""
        if ts_ns < self._now:
            raise ClockError(f"replay clock cannot go back from {self._now} to {ts_ns}")
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            when, _, handle = heapq.heappop(heap)
            if not handle.cancelled:
                self._now = max(self._now, when)
                handle._fire()
        self._now = ts_ns
