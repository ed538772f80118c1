"""Fixtures shared by the benchmark suites, and a ratio summary at the end of the run."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.harness import RESULTS, Scale
from benchmarks.workloads import TradeWorkload, trade_events, write_log
from virtuoso.events import Event


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails to import; a module set to None in sys.modules
        return False


collect_ignore = [] if _installed("nautilus_trader") else ["peer_nautilus.py"]
"""The peer's module imports NautilusTrader (the optional bench-peers extra): without it, pytest's doctest
collection must not import it; ``test_peer_nautilus.py`` then skips its cases and says why."""


@pytest.fixture(scope="session")
def scale() -> Scale:
    """Events per round and rounds, from the environment (see ``harness.Scale``)."""
    return Scale.from_env()


@pytest.fixture(scope="session")
def trades(scale: Scale) -> list[Event]:
    """The trade events every store case works on, built once."""
    return trade_events(scale.events)


@pytest.fixture(scope="session")
def trade_log(tmp_path_factory: pytest.TempPathFactory, trades: list[Event]) -> Path:
    """A log our store recorded from :func:`trades` (rounds copy it, never change it)."""
    path = tmp_path_factory.mktemp("trade-log") / "events.sqlite"
    asyncio.run(write_log(path, trades))
    return path


@pytest.fixture(scope="session")
def trade_workload(scale: Scale, trades: list[Event], trade_log: Path) -> TradeWorkload:
    """The trades workload in one fixture."""
    return TradeWorkload(scale, trades, trade_log)


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for every round of a case, so our store stays on the loop that opened it."""
    with asyncio.Runner() as loop_runner:
        yield loop_runner


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per case: our throughput, the baseline's, the ratio and the target."""
    if not RESULTS:
        return
    terminalreporter.section("virtuoso ratios (best round of each side)")
    for result in RESULTS:
        verdict = "ok" if result.ok else "BELOW TARGET"
        unit = "ev/s" if result.unit == "s" else f"ev/{result.unit}"
        terminalreporter.write_line(
            f"{result.name}: {result.events_per_s:,.0f} {unit} vs baseline {result.baseline_per_s:,.0f} {unit}"
            f" = {result.ratio:.2f}x (target {result.target:.2f}x) {verdict}"
            f" [load {result.load[0]:.1f} -> {result.load[1]:.1f} on {os.cpu_count()} cpus]"
        )
