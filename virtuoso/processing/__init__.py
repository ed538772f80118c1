"""The event processor: async handlers over events in priority lanes, per-key order, deterministic replay.

>>> import asyncio
>>> from virtuoso.events import Event, Note
>>> async def main() -> list[str]:
...     seen = []
...     async with OptimizedProcessor(per_event(lambda e: seen.append(e.id)), workers=2) as proc:
...         for i in range(3):
...             await proc.submit(Event(f"n{i}", "notes", i, i, "s", Note(f"note {i}")))
...     return seen
>>> asyncio.run(main())
['n0', 'n1', 'n2']
"""

from virtuoso.processing._handlers import BatchHandler, PerEvent, per_event
from virtuoso.processing._lanes import DEFAULT_LANES, Lane
from virtuoso.processing._processor import OptimizedProcessor, by_stream
from virtuoso.processing._reports import LATENCY_WINDOW, DeadLetter, ProcessorSnapshot, ProcessorStats

__all__ = [
    "DEFAULT_LANES",
    "LATENCY_WINDOW",
    "BatchHandler",
    "DeadLetter",
    "Lane",
    "OptimizedProcessor",
    "PerEvent",
    "ProcessorSnapshot",
    "ProcessorStats",
    "by_stream",
    "per_event",
]
