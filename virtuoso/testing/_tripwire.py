"""Wall-clock tripwires: while an analyzer runs, reading the system clock is noticed (and answered from the Clock).

The guard swaps the time functions of :mod:`time` and the ``now``/``utcnow``/``today``
constructors of :mod:`datetime` for fakes, both on those modules and wherever a
watched module imported them by name (``from time import time``). A fake notes
who called it and answers with the injected :class:`~virtuoso.clock.Clock`'s
time, so that an analyzer which reads the wall clock behaves in the kit as a
clean one would, and only the clock-clean property reports it.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any, Self

from virtuoso.clock import Clock

SECONDS_FUNCTIONS = ("time", "monotonic", "perf_counter", "process_time", "thread_time")
NS_FUNCTIONS = ("time_ns", "monotonic_ns", "perf_counter_ns", "process_time_ns", "thread_time_ns")
MAX_READS = 20
"""Distinct reads remembered (enough to name the culprits, bounded for a hot loop)."""


class WallClockGuard:
    """Patches the wall-clock readers while active (see the module docstring); :attr:`reads` names the callers."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.clock: Clock | None = None
        self._thread = threading.get_ident()
        self._modules: list[ModuleType] = []
        self._fakes: dict[int, tuple[object, object]] = {}  # id(original) -> (original, fake)
        self._targets: list[tuple[object, str, object, object]] = []
        self._build_fakes()

    def watch(self, module: ModuleType) -> None:
        """Also patch the names ``module`` imported from :mod:`time` and :mod:`datetime`."""
        if module not in self._modules:
            self._modules.append(module)

    @contextmanager
    def active(self, clock: Clock) -> Iterator[None]:
        """Patch for the duration of the block; fakes answer with ``clock``'s time."""
        self.clock = clock
        patched = self._patch()
        try:
            yield
        finally:
            for target, name, original in reversed(patched):
                setattr(target, name, original)
            self.clock = None

    # -- patching ------------------------------------------------------------------------

    def _build_fakes(self) -> None:
        for name in SECONDS_FUNCTIONS + NS_FUNCTIONS:
            original = getattr(time, name)
            self._add(time, name, original, self._time_fake(f"time.{name}", original, name in NS_FUNCTIONS))
        self._add(dt, "datetime", dt.datetime, _tripped_datetime(self))
        self._add(dt, "date", dt.date, _tripped_date(self))

    def _add(self, module: ModuleType, name: str, original: object, fake: object) -> None:
        self._fakes[id(original)] = (original, fake)
        self._targets.append((module, name, original, fake))

    def _patch(self) -> list[tuple[object, str, object]]:
        patched: list[tuple[object, str, object]] = []
        for target, name, original, fake in self._targets:
            patched.append((target, name, original))
            setattr(target, name, fake)
        for module in self._modules:
            for name, value in list(vars(module).items()):
                pair = self._fakes.get(id(value))
                if pair is not None and pair[0] is value:
                    patched.append((module, name, value))
                    setattr(module, name, pair[1])
        return patched

    # -- the fakes -----------------------------------------------------------------------

    def _time_fake(self, what: str, original: Callable[[], Any], in_ns: bool) -> Callable[[], float | int]:
        def fake() -> float | int:
            if not self._noticed(what):
                return original()  # type: ignore[no-any-return]  # another thread: the real clock
            return self.now_ns() if in_ns else self.now_ns() / 1e9

        fake.__name__ = original.__name__
        return fake

    def now_ns(self) -> int:
        """The injected clock's time (0 outside :meth:`active`)."""
        return self.clock.now_ns() if self.clock is not None else 0

    def _noticed(self, what: str) -> bool:
        if threading.get_ident() != self._thread:
            return False
        caller = sys._getframe(2)
        where = f"{what}() called from {_place(caller)}"
        origin = self._origin(caller)
        if origin is not None and origin is not caller:
            where += f" via {_place(origin)}"
        if where not in self.reads and len(self.reads) < MAX_READS:
            self.reads.append(where)
        return True

    def _origin(self, frame: FrameType | None) -> FrameType | None:
        # The nearest frame in a watched module (the analyzer's code), when the read happened deeper down.
        watched = {id(vars(module)) for module in self._modules}
        while frame is not None and id(frame.f_globals) not in watched:
            frame = frame.f_back
        return frame


def _place(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"


def _tripped_datetime(guard: WallClockGuard) -> type[dt.datetime]:
    class TrippedDatetime(dt.datetime):
        """``datetime.datetime`` whose wall-clock constructors are noticed by the guard."""

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Self:
            if not guard._noticed("datetime.now"):
                return super().now(tz)
            return cls.fromtimestamp(guard.now_ns() / 1e9, tz)

        @classmethod
        def utcnow(cls) -> Self:
            if not guard._noticed("datetime.utcnow"):
                return cls.fromtimestamp(time.time(), dt.UTC).replace(tzinfo=None)
            return cls.fromtimestamp(guard.now_ns() / 1e9, dt.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> Self:
            if not guard._noticed("datetime.today"):
                return super().today()
            return cls.fromtimestamp(guard.now_ns() / 1e9)

    TrippedDatetime.__name__ = TrippedDatetime.__qualname__ = "datetime"
    return TrippedDatetime


def _tripped_date(guard: WallClockGuard) -> type[dt.date]:
    class TrippedDate(dt.date):
        """``datetime.date`` whose ``today`` is noticed by the guard."""

        @classmethod
        def today(cls) -> Self:
            if not guard._noticed("date.today"):
                return super().today()
            return cls.fromtimestamp(guard.now_ns() / 1e9)

    TrippedDate.__name__ = TrippedDate.__qualname__ = "date"
    return TrippedDate
