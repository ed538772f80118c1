"""Benchmark your own pipeline: a recorded session through your analyzers (and strategy), where the time goes
stage by stage, against the floor of reading the same session in the same run (see ``docs/benchmarks.md``)."""

from virtuoso.bench._figures import (
    NOISE_SHARE,
    TOLERANCE,
    Comparison,
    PipelineFigures,
    StageChange,
    StageFigure,
    compare,
    figures_rows,
)
from virtuoso.bench._measure import (
    STAGE_NAMES,
    PipelineBench,
    bench_pipeline,
    bench_pipelines,
    machine,
    peak_rss_bytes,
)
from virtuoso.bench._spec import PipelineSpec, load_analyzers
from virtuoso.replay import versions

__all__ = [
    "NOISE_SHARE",
    "STAGE_NAMES",
    "TOLERANCE",
    "Comparison",
    "PipelineBench",
    "PipelineFigures",
    "PipelineSpec",
    "StageChange",
    "StageFigure",
    "bench_pipeline",
    "bench_pipelines",
    "compare",
    "figures_rows",
    "load_analyzers",
    "machine",
    "peak_rss_bytes",
    "versions",
]
