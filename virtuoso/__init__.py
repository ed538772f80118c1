"""Virtuoso: record, replay and backtest crypto market data on an append-only event log.

The public API is the names below; everything else lives in sub-packages
(``virtuoso.events``, ``virtuoso.store``, ``virtuoso.bus``, ...) or in private modules.

The names are loaded on first use (PEP 562), so that ``import virtuoso`` (which every
``virtuoso`` command does first, ``--help`` included) costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "virtuoso.app": ("AppConfig", "build_container"),
    "virtuoso.bus": ("EventBus", "EventPublisher"),
    "virtuoso.clock": ("Clock", "LiveClock", "ReplayClock"),
    "virtuoso.container": ("ServiceContainer",),
    "virtuoso.errors": ("ConcurrencyError", "EventDecodeError", "StoreError", "UnknownEventType", "VirtuosoError"),
    "virtuoso.events": ("Event", "EventIdFactory", "Payload", "event_type"),
    "virtuoso.processing": ("OptimizedProcessor",),
    "virtuoso.store": ("EventFilter", "EventStore", "MemoryEventStore", "open_sqlite_store"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'virtuoso' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME_OF})


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
