"""Virtuoso: record, replay and backtest crypto market data on an append-only event log.

The public API is the names below; everything else lives in sub-packages
(``virtuoso.events``, ``virtuoso.store``, ``virtuoso.bus``, ...) or in private modules.
"""

from virtuoso.app import AppConfig, build_container
from virtuoso.bus import EventBus, EventPublisher
from virtuoso.clock import Clock, LiveClock, ReplayClock
from virtuoso.container import ServiceContainer
from virtuoso.errors import (
    ConcurrencyError,
    EventDecodeError,
    StoreError,
    UnknownEventType,
    VirtuosoError,
)
from virtuoso.events import Event, EventIdFactory, Payload, event_type
from virtuoso.processing import OptimizedProcessor
from virtuoso.store import EventFilter, EventStore, MemoryEventStore, open_sqlite_store

__version__ = "0.1.0"

__all__ = [
    "AppConfig",
    "Clock",
    "ConcurrencyError",
    "Event",
    "EventBus",
    "EventDecodeError",
    "EventFilter",
    "EventIdFactory",
    "EventPublisher",
    "EventStore",
    "LiveClock",
    "MemoryEventStore",
    "OptimizedProcessor",
    "Payload",
    "ReplayClock",
    "ServiceContainer",
    "StoreError",
    "UnknownEventType",
    "VirtuosoError",
    "__version__",
    "build_container",
    "event_type",
    "open_sqlite_store",
]
