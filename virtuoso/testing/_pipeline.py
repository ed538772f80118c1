"""``pipeline_benchmark``: ``virtuoso bench pipeline`` inside a pytest suite, on top of pytest-benchmark.

Import the fixture into a ``conftest.py`` (``from virtuoso.testing import pipeline_benchmark``) or load
this module as a plugin (``pytest_plugins = ["virtuoso.testing.pipeline_plugin"]``), then::

    def test_my_analyzers_keep_up(pipeline_benchmark):
        figures = pipeline_benchmark("recorded.sqlite", "3f2a", analyzers="analyzers.toml")
        assert figures.ratio >= 0.25                       # at least a quarter of the read floor's speed
        assert figures.stage("analyzer:my-signal").floor_units < 1.0

pytest-benchmark times each round (its table, ``--benchmark-json``, ``--benchmark-compare`` and
``--benchmark-disable`` work as for any benchmark); the floor is measured before each round in its
``setup``, untimed by it. The figures, the stages included, go into the benchmark's ``extra_info``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from virtuoso.backtest import StrategySpec
from virtuoso.bench import PipelineBench, PipelineFigures, PipelineSpec
from virtuoso.bench._spec import AnalyzersArg


class PipelineBenchmark:
    """What the ``pipeline_benchmark`` fixture gives a test: call it once per test."""

    def __init__(self, benchmark: Any) -> None:
        self._benchmark = benchmark

    def __call__(
        self,
        db: str | Path,
        session: str,
        *,
        analyzers: AnalyzersArg = None,
        strategy: StrategySpec | None = None,
        workers: int = 1,
        rounds: int = 3,
        seed: int = 0,
    ) -> PipelineFigures:
        """Benchmark the pipeline on ``session`` of the log ``db``: a warm-up, ``rounds`` timed rounds; the
        figures (see :class:`~virtuoso.bench.PipelineFigures`)."""
        spec = PipelineSpec(session, analyzers=analyzers, strategy=strategy, workers=workers, seed=seed)
        bench = asyncio.run(PipelineBench.prepare(Path(db), spec))
        try:
            asyncio.run(bench.round())  # the warm-up
            bench.forget()
            self._benchmark.pedantic(
                lambda: asyncio.run(bench.round()),
                setup=lambda: asyncio.run(bench.floor()),
                rounds=rounds,
                iterations=1,
            )
            figures = bench.figures()
        finally:
            bench.close()
        self._benchmark.extra_info.update(_extra_info(figures))
        return figures


def _extra_info(figures: PipelineFigures) -> dict[str, Any]:
    return {
        "events": figures.events,
        "events_per_s": figures.events_per_s,
        "floor_per_s": figures.floor_per_s,
        "ratio": figures.ratio,
        "total_units": figures.total_units,
        "config_hash": figures.config_hash,
        "stages": {s.name: {"share": s.share, "ns_per_event": s.ns_per_event, "floor_units": s.floor_units}
                   for s in figures.stages},
    }  # fmt: skip


@pytest.fixture
def pipeline_benchmark(benchmark: Any) -> PipelineBenchmark:
    """Benchmark a pipeline on a recorded session (see :class:`PipelineBenchmark`); needs pytest-benchmark."""
    return PipelineBenchmark(benchmark)
