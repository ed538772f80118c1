"""The ``pipeline_benchmark`` fixture as a pytest plugin: ``pytest_plugins = ["virtuoso.testing.pipeline_plugin"]``."""

from virtuoso.testing._pipeline import pipeline_benchmark

__all__ = ["pipeline_benchmark"]
