"""The ``pipeline_benchmark`` fixture in this project's own suite, on a small generated session.

A user's suite does the same: import the fixture (here, into this module; in a
``conftest.py`` for a whole suite) and gate the pipeline on ratios to the floor.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration._trade_day import write_trade_day
from virtuoso.bench import PipelineFigures
from virtuoso.testing import PipelineBenchmark, pipeline_benchmark  # noqa: F401  (a fixture)

TRADES = 3_000


@pytest.fixture(scope="module")
def recorded_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("fixture") / "day.sqlite"
    return path, asyncio.run(write_trade_day(path, TRADES))


def test_the_fixture_benchmarks_a_pipeline_through_pytest_benchmark(
    pipeline_benchmark: PipelineBenchmark,  # noqa: F811  (the fixture imported above)
    recorded_log: tuple[Path, str],
    request: pytest.FixtureRequest,
) -> None:
    db, session = recorded_log
    figures = pipeline_benchmark(db, session, analyzers="vwap,cvd", rounds=2)
    assert isinstance(figures, PipelineFigures)
    assert figures.stage("analyzer:vwap") is not None
    assert figures.stage("analyzer:cvd") is not None
    assert figures.stage("analyzer:bars").calls == TRADES  # type: ignore[union-attr]
    assert abs(sum(s.ns for s in figures.stages) - figures.total_ns) <= 0.05 * figures.total_ns
    assert figures.ratio > 0
    assert figures.total_units > 0
    benchmark = request.getfixturevalue("benchmark")
    assert benchmark.extra_info["events"] == figures.events
    assert set(benchmark.extra_info["stages"]) == {s.name for s in figures.stages}
