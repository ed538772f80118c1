"""Shared fixtures: the real-data location and temporary event logs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Every package that defines event types, imported up front so the type registry
# is the same whichever tests run first.
import virtuoso.bus
import virtuoso.processing  # noqa: F401
from virtuoso.store import open_sqlite_store

REPO = Path(__file__).resolve().parent.parent

# CI draws the same examples on every run, so a red build names a change, not a
# lucky draw; a developer's `make test` explores new examples each time (and keeps
# the failures it finds in .hypothesis/ to replay them first). A loaded CI machine
# draws slowly; how fast examples are drawn is not what any test asserts.
settings.register_profile("ci", derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("VIRTUOSO_HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["VIRTUOSO_HYPOTHESIS_PROFILE"])

# `make test` runs the suite in parallel workers (pytest-xdist). A worker's marker
# variable is inherited by every process a test starts, and pytest-benchmark reads it
# to switch itself off: the `virtuoso bench` runs that tests start would then measure
# nothing. The workers themselves are known by their config, not by this variable.
for _name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
    os.environ.pop(_name, None)


def shared_data() -> Path:
    """Where ../shared/data lives (``VIRTUOSO_SHARED_DATA`` overrides)."""
    return Path(os.environ.get("VIRTUOSO_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_data(relative: str) -> Path:
    """The path of a shared data file; skip (or fail in CI) when it is absent."""
    path = shared_data() / relative
    if not path.exists():
        reason = f"real data file {path} is absent (set VIRTUOSO_SHARED_DATA)"
        if os.environ.get("VIRTUOSO_REQUIRE_DATA") == "1":
            pytest.fail(reason + " and VIRTUOSO_REQUIRE_DATA=1")
        pytest.skip(reason)
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh SQLite event log."""
    return tmp_path / "events.sqlite"


def new_row_log(path: Path) -> Path:
    """An empty log of the row layout at ``path`` (new logs are columnar): whatever writes into it keeps rows."""

    async def create() -> None:
        await (await open_sqlite_store(path, layout="rows")).close()

    asyncio.run(create())
    return path
