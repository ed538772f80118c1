"""Supervision: each channel of each symbol runs on its own, and is started again when it fails.

A channel's :meth:`Collector.run` waits out the failures of single calls by
itself. What leaves it is decided here, by whose fault it was
(:func:`~virtuoso.exchange._faults.fault_scope`):

- a permanent error for the symbol (unknown, delisted, inactive market): that
  symbol's channels stop, with a warning ``Note`` and a ``ChannelRestarted``
  event with ``stopped=True``; its health entries turn ``degraded``; the other
  symbols go on;
- a permanent error for the recording (credentials refused, an operation the
  exchange does not have): it is raised and ends the recording;
- anything else, our own bugs included: the channel starts again after a
  backoff (``restart_base_s`` doubling up to ``restart_max_s``, no jitter, timed
  by the injected Clock; reset once the channel recorded again), each restart a ``ChannelRestarted`` event
  with the reason, the error and its traceback in the Python log, the
  channel's health entry ``degraded`` while it waits to start again.

When no channel can run any more (every symbol stopped), :meth:`Supervisor.run`
raises the last symbol error: the recording ends with ``failed: ...``.
Cancellation always goes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from virtuoso.clock import Clock
from virtuoso.events import ChannelRestarted, ComponentHealth, HealthStatus, Note
from virtuoso.exchange._collectors import Collector
from virtuoso.exchange._emit import Emitter
from virtuoso.exchange._faults import BUG, RECORDING, SYMBOL, MarketInactive, fault_scope
from virtuoso.exchange._resilient import system_stream

log = logging.getLogger("virtuoso.exchange")
CHANNELS = "channels"
"""The session's system stream of channel restarts and stops: ``system:<session>:channels``."""


async def clock_sleep(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` by ``clock``'s timers (a :class:`~virtuoso.clock.ReplayClock` makes it instant in tests)."""
    done = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    timer = clock.call_later(round(seconds * 1e9), wake)
    try:
        await done
    finally:
        timer.cancel()


def restart_delay_s(restarts: int, base_s: float, max_s: float) -> float:
    """The wait before restart number ``restarts`` (1-based): ``base_s`` doubling, at most ``max_s``.

    >>> [restart_delay_s(n, 1.0, 5.0) for n in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    """
    return min(max_s, base_s * 2.0 ** min(restarts - 1, 64))


@dataclass
class ChannelState:
    """Where one channel stands: ``running``, ``restarting`` (after a failure) or ``stopped`` (for good)."""

    state: str = "running"
    reason: str = ""
    restarts: int = 0


class Supervisor:
    """Runs ``collectors`` under the rules of the module doc; :meth:`stop_symbol` stops one symbol from outside."""

    def __init__(
        self, collectors: Sequence[Collector], emitter: Emitter, clock: Clock, *, base_s: float, max_s: float
    ) -> None:
        self.collectors = list(collectors)
        self._emitter = emitter
        self._clock = clock
        self._base_s, self._max_s = base_s, max_s
        self.states = {c.stream_key: ChannelState() for c in self.collectors}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_symbol_error: BaseException | None = None

    async def run(self) -> None:
        """Run every channel until cancelled; raise a recording-level error, or the last one when none can run."""
        self._tasks = {
            c.stream_key: asyncio.create_task(self._keep(c), name=c.stream_key)
            for c in self.collectors
            if self.states[c.stream_key].state != "stopped"
        }
        try:
            pending = set(self._tasks.values())
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]  # checked just above
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        error = self._last_symbol_error
        raise error if error is not None else RuntimeError("no channel to record")

    async def stop_symbol(self, symbol: str, reason: str, error: BaseException | None = None) -> None:
        """Stop every channel of ``symbol`` for good (a permanent error for it), saying why."""
        stopping = [c for c in self.collectors if c.symbol == symbol and self.states[c.stream_key].state != "stopped"]
        if not stopping:
            return
        self._last_symbol_error = error or MarketInactive(f"{symbol}: {reason}")
        log.warning("%s: stopped: %s (the other symbols go on)", symbol, reason)
        await self._publish(Note(f"{symbol} stopped: {reason}; the other symbols go on", "warning", {"symbol": symbol}))
        current = asyncio.current_task()
        for collector in stopping:
            state = self.states[collector.stream_key]
            state.state, state.reason = "stopped", reason
            await self._publish(ChannelRestarted(collector.stream_key, reason, state.restarts, stopped=True))
            task = self._tasks.get(collector.stream_key)
            if task is not None and task is not current:
                task.cancel()

    def health(self) -> list[ComponentHealth]:
        """One entry per channel: ``ok`` running, ``degraded`` restarting or stopped (with the reason)."""
        entries = []
        for name, state in sorted(self.states.items()):
            status: HealthStatus = "ok" if state.state == "running" else "degraded"
            reason = state.state if state.state == "running" else f"{state.state}: {state.reason}"
            entries.append(ComponentHealth(f"channel {name}", status, reason))
        return entries

    async def _keep(self, collector: Collector) -> None:
        state = self.states[collector.stream_key]
        restarts_since_progress, seen_steps = 0, collector.steps
        while True:
            try:
                await collector.run()
                return
            except Exception as exc:
                scope, reason = fault_scope(exc), collector.reason(exc)
                if scope == RECORDING:
                    raise
                if scope == SYMBOL:
                    await self.stop_symbol(collector.symbol, reason, exc)
                    return
                if collector.steps != seen_steps:
                    restarts_since_progress, seen_steps = 0, collector.steps
                restarts_since_progress += 1
                state.restarts += 1
                delay = restart_delay_s(restarts_since_progress, self._base_s, self._max_s)
                state.state, state.reason = "restarting", reason
                log.error(
                    "%s failed (%s); restart %d in %.1f s",
                    collector.stream_key,
                    reason,
                    state.restarts,
                    delay,
                    exc_info=exc if scope == BUG else None,
                )
                await self._publish(ChannelRestarted(collector.stream_key, reason, state.restarts, delay))
                await collector.interrupt(exc)
                await clock_sleep(self._clock, delay)
                state.state = "running"

    async def _publish(self, payload: ChannelRestarted | Note) -> None:
        await self._emitter.emit(system_stream(self._emitter.session, CHANNELS), payload)
