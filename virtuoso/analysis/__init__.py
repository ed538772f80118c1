"""Analyzers: market events in, derived events (indicators, scores, signals) out.

The contract every analyzer follows is :class:`Analyzer`; its parameters are an
:class:`AnalyzerConfig`. See ``docs/analysis.md``.
"""

from virtuoso.analysis._protocol import Analyzer, AnalyzerConfig, State

__all__ = ["Analyzer", "AnalyzerConfig", "State"]
