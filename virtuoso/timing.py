"""StageTimer: where a run's wall time goes, stage by stage, for ``virtuoso bench pipeline``.

The runtime's parts (the replayer, the bus, the processor, the analyzer
pipeline, the backtest engine, the run's writer) take an optional timer. Without
one (every ordinary run) nothing changes on their per-event paths: they decide
once, when built, whether to wrap a callable. With one, each wrapped call moves
the timer's *current stage* and charges the time since the last move to the
stage that was current, so nested stages are charged exclusively (an analyzer's
time is not also the processor's) and the stages partition the measured wall
time: what no stage claims is charged to ``other``. Two ``perf_counter_ns`` reads
and a few list updates per wrapped call; nothing is recorded per event.

This is the one place a replay reads a clock other than the injected one, and it
only measures: nothing it reads reaches an event, a digest or a decision.

>>> timer = StageTimer()
>>> double = timer.wrap("double", lambda x: 2 * x)
>>> timer.reset()
>>> double(21)
42
>>> timer.stop()
>>> timer.calls("double"), sorted(timer.totals()), timer.elapsed_ns() == sum(timer.totals().values())
(1, ['double', 'other'], True)
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from time import perf_counter_ns, process_time_ns
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
OTHER = "other"
"""The stage charged with whatever no wrapped call claims (the replay loop, the event loop, set-up)."""


class StageTimer:
    """Wall time per named stage, measured at stage boundaries (see the module docstring)."""

    def __init__(self) -> None:
        self._names: list[str] = [OTHER]
        self._index: dict[str, int] = {OTHER: 0}
        self._ns: list[int] = [0]
        self._calls: list[int] = [0]
        self._waits: dict[int, list[int]] = {}
        """Per stage that waits (awaited: a read, a commit): process CPU and the wall time of other stages
        nested in it (other tasks that ran while it waited), both in its windows."""
        self._current = 0
        self._last = perf_counter_ns()
        self._started = self._last
        self._stopped: int | None = None

    def stage(self, name: str) -> int:
        """The number of stage ``name`` (made on first use)."""
        index = self._index.get(name)
        if index is None:
            index = self._index[name] = len(self._names)
            self._names.append(name)
            self._ns.append(0)
            self._calls.append(0)
        return index

    def reset(self) -> None:
        """Zero every stage and start measuring now, in ``other``."""
        self._ns[:] = [0] * len(self._ns)
        self._calls[:] = [0] * len(self._calls)
        self._waits = {}
        self._current = 0
        self._last = self._started = perf_counter_ns()
        self._stopped = None

    def stop(self) -> None:
        """Charge the time since the last boundary to the current stage and stop the interval."""
        now = perf_counter_ns()
        self._ns[self._current] += now - self._last
        self._last = self._stopped = now

    def elapsed_ns(self) -> int:
        """Wall time from :meth:`reset` to :meth:`stop` (or now)."""
        return (self._stopped if self._stopped is not None else perf_counter_ns()) - self._started

    def enter(self, index: int) -> int:
        """Make stage ``index`` current; the stage it replaces (give it back to :meth:`leave`)."""
        now = perf_counter_ns()
        previous = self._current
        self._ns[previous] += now - self._last
        self._calls[index] += 1
        self._current = index
        self._last = now
        return previous

    def leave(self, previous: int) -> None:
        """Charge the current stage and make ``previous`` current again."""
        now = perf_counter_ns()
        self._ns[self._current] += now - self._last
        self._current = previous
        self._last = now

    def wrap(self, name: str, call: Callable[P, R]) -> Callable[P, R]:
        """``call``, charged to stage ``name``."""
        index = self.stage(name)
        enter, leave = self.enter, self.leave

        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            previous = enter(index)
            try:
                return call(*args, **kwargs)
            finally:
                leave(previous)

        return timed

    def wrap_async(self, name: str, call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """The coroutine function ``call``, charged to stage ``name`` from its start to its end (what other
        tasks run while it waits is charged to their own stages when they are wrapped)."""
        index = self.stage(name)

        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            window = self._open(index)
            try:
                return await call(*args, **kwargs)
            finally:
                self._close(index, window)

        return timed

    async def iterate(self, name: str, items: AsyncIterable[T]) -> AsyncIterator[T]:
        """``items``, the wait for each next one charged to stage ``name``."""
        index = self.stage(name)
        iterator = aiter(items)
        while True:
            window = self._open(index)
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                self._close(index, window)
            yield item

    def _open(self, index: int) -> tuple[int, int, int]:
        # A waiting stage's window: its process CPU and the time other stages took inside it are kept, so
        # that what waited can be told from what ran meanwhile (see waits()). One per chunk or commit.
        previous = self.enter(index)
        return previous, process_time_ns(), sum(self._ns) - self._ns[index]

    def _close(self, index: int, window: tuple[int, int, int]) -> None:
        previous, cpu, others = window
        self.leave(previous)
        waits = self._waits.setdefault(index, [0, 0])
        waits[0] += process_time_ns() - cpu
        waits[1] += sum(self._ns) - self._ns[index] - others

    def waits(self) -> dict[str, tuple[int, int]]:
        """Per waiting stage (one timed by :meth:`wrap_async` or :meth:`iterate`): the process CPU time of
        its windows, and the wall time the other stages took inside them."""
        return {self._names[i]: (cpu, nested) for i, (cpu, nested) in self._waits.items()}

    def totals(self) -> dict[str, int]:
        """Nanoseconds per stage seen so far, in the order the stages were made (``other`` first)."""
        return dict(zip(self._names, self._ns, strict=True))

    def count(self, name: str, calls: int) -> None:
        """Add ``calls`` to stage ``name``'s count: a call that did the work of several counts as them."""
        self._calls[self.stage(name)] += calls

    def calls(self, name: str) -> int:
        """How many times stage ``name`` was entered since :meth:`reset`."""
        index = self._index.get(name)
        return 0 if index is None else self._calls[index]
