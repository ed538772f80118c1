"""Fixtures of the store contract suite: every test runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from virtuoso.store import EventStore, MemoryEventStore, SessionInfo, open_sqlite_store

BACKENDS = ["memory", "rows", "columnar"]


async def open_backend(backend: str, path: Path) -> EventStore:
    """A fresh store of ``backend``; ``path`` is used by SQLite only (``rows`` or ``columnar``: that layout)."""
    if backend == "memory":
        return MemoryEventStore()
    return await open_sqlite_store(path, layout="rows" if backend == "rows" else "columnar")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``memory``, ``rows`` or ``columnar`` (the two SQLite layouts)."""
    return str(request.param)


@pytest_asyncio.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[EventStore]:
    """An empty store of the backend under test, closed afterwards."""
    opened = await open_backend(backend, tmp_path / "x.sqlite")
    try:
        yield opened
    finally:
        await opened.close()


@pytest_asyncio.fixture
async def session(store: EventStore) -> SessionInfo:
    """An open session in ``store`` (its SessionStarted event is position 1)."""
    return await store.begin_session(
        "contract", "tests", started_ns=1_000, symbols=("BTC/USDT",), channels=("trades",), session_id="s-main"
    )
