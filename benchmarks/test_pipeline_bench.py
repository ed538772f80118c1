"""``virtuoso bench pipeline`` on the trades workload, through the ``pipeline_benchmark`` fixture.

The default analyzers replayed over the trades log (1,000,000 trades at full size,
50,000 with ``--quick``); pytest-benchmark times each round. Not a ratio case: it
prints no row in ``virtuoso bench``; its figures (events/s, the floor, the ratio
and each stage) are in the benchmark's ``extra_info``. It also keeps the fixture
and the stage timer from rotting: the stages must add up to the round.
"""

from __future__ import annotations

from benchmarks.harness import Scale
from benchmarks.workloads import SESSION_ID, TradeWorkload
from virtuoso.testing import PipelineBenchmark, pipeline_benchmark  # noqa: F401  (a fixture)


def test_default_analyzers_on_the_trades_workload(
    pipeline_benchmark: PipelineBenchmark,  # noqa: F811  (the fixture imported above)
    trade_workload: TradeWorkload,
    scale: Scale,
) -> None:
    figures = pipeline_benchmark(trade_workload.log, SESSION_ID, analyzers="default", rounds=min(scale.rounds, 3))
    assert figures.stage("analyzer:bars").calls == scale.events  # type: ignore[union-attr]
    assert abs(sum(s.ns for s in figures.stages) - figures.total_ns) <= 0.05 * figures.total_ns
