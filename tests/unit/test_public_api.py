"""The top-level package exposes exactly its curated public API."""

from __future__ import annotations

import virtuoso
import virtuoso.bus
import virtuoso.container
import virtuoso.events
import virtuoso.processing
import virtuoso.store

EXPECTED = {
    "AppConfig",
    "OptimizedProcessor",
    "ServiceContainer",
    "build_container",
    "Clock",
    "EventBus",
    "EventPublisher",
    "LiveClock",
    "ReplayClock",
    "ConcurrencyError",
    "Event",
    "EventDecodeError",
    "EventFilter",
    "EventIdFactory",
    "EventStore",
    "MemoryEventStore",
    "Payload",
    "StoreError",
    "UnknownEventType",
    "VirtuosoError",
    "__version__",
    "event_type",
    "open_sqlite_store",
}


def test_top_level_all_is_the_curated_api() -> None:
    assert set(virtuoso.__all__) == EXPECTED


def test_every_exported_name_exists_and_no_private_name_is_exported() -> None:
    for module in (virtuoso, virtuoso.bus, virtuoso.container, virtuoso.events, virtuoso.processing, virtuoso.store):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
            assert not name.startswith("_") or name == "__version__"


def test_version_matches_the_installed_distribution() -> None:
    from importlib.metadata import version

    assert virtuoso.__version__ == version("virtuoso")
