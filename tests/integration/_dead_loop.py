"""Waiting for ccxt.pro's receive loop to die, by the event rather than by a guess of time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

LOOP_DEATH_LIMIT_S = 30.0
AFTER_DEATH_S = 1.0


async def run_past_loop_death(
    watching: Awaitable[Any], errors: list[dict[str, Any]], died: Callable[[dict[str, Any]], bool]
) -> asyncio.Task[Any]:
    """Run ``watching`` until the event loop's exception handler has recorded the receive loop's death
    (``died`` of a context is true), then ``AFTER_DEATH_S`` more; the task, cancelled if it had not ended.

    Only the death itself is waited for (at most ``LOOP_DEATH_LIMIT_S``, however slow a loaded machine
    is); the short wait after it is enough, as nothing is received once the loop is dead.
    """
    task = asyncio.ensure_future(watching)
    async with asyncio.timeout(LOOP_DEATH_LIMIT_S):
        while not any(died(context) for context in errors):
            if task.done():
                return task
            await asyncio.sleep(0.02)
    await asyncio.wait({task}, timeout=AFTER_DEATH_S)
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return task
