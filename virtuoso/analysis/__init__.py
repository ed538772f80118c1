"""Analyzers: market events in, derived events (bars, indicators, scores, signals) out.

The contract every analyzer follows is :class:`Analyzer`; its parameters are an
:class:`AnalyzerConfig`. Built-in analyzers are registered by name
(:data:`ANALYZERS`) and built from a spec with :func:`build_analyzers`; each has
a vectorized batch counterpart in :mod:`virtuoso.analysis.batch`. See
``docs/analysis.md`` and ``docs/confluence.md``.
"""

from virtuoso.analysis._bars import BarAccumulator, BarBuilder, BarsConfig, timeframe_ns
from virtuoso.analysis._base import PerStream, derive, output_stream, source_stream
from virtuoso.analysis._book import (
    BookAnalyzer,
    BookConfig,
    BookDepth,
    BookImbalance,
    DepthConfig,
    ImbalanceConfig,
    SpreadBps,
)
from virtuoso.analysis._confluence import (
    COMPONENTS,
    Confluence,
    ConfluenceConfig,
    component_scores,
    next_stance,
)
from virtuoso.analysis._indicators import (
    Atr,
    BarConfig,
    Bollinger,
    BollingerConfig,
    Cvd,
    Ema,
    EmaConfig,
    IndicatorAnalyzer,
    Macd,
    MacdConfig,
    RealizedVol,
    RelativeVolume,
    Rsi,
    RsiConfig,
    Vwap,
    WindowConfig,
)
from virtuoso.analysis._pipeline import AnalyzerPipeline
from virtuoso.analysis._protocol import Analyzer, AnalyzerConfig, State
from virtuoso.analysis._registry import (
    ANALYZERS,
    DEFAULT,
    build_analyzers,
    config_for,
    instantiate,
    parse_spec,
    register_analyzer,
    resolve,
)

for _cls in (
    BarBuilder,
    Ema,
    Rsi,
    Macd,
    Bollinger,
    Atr,
    RealizedVol,
    RelativeVolume,
    Cvd,
    Vwap,
    Confluence,
    BookImbalance,
    SpreadBps,
    BookDepth,
):
    register_analyzer(_cls)

__all__ = [
    "ANALYZERS",
    "COMPONENTS",
    "DEFAULT",
    "Analyzer",
    "AnalyzerConfig",
    "AnalyzerPipeline",
    "Atr",
    "BarAccumulator",
    "BarBuilder",
    "BarConfig",
    "BarsConfig",
    "Bollinger",
    "BollingerConfig",
    "BookAnalyzer",
    "BookConfig",
    "BookDepth",
    "BookImbalance",
    "Confluence",
    "ConfluenceConfig",
    "Cvd",
    "DepthConfig",
    "Ema",
    "EmaConfig",
    "ImbalanceConfig",
    "IndicatorAnalyzer",
    "Macd",
    "MacdConfig",
    "PerStream",
    "RealizedVol",
    "RelativeVolume",
    "Rsi",
    "RsiConfig",
    "SpreadBps",
    "State",
    "Vwap",
    "WindowConfig",
    "build_analyzers",
    "component_scores",
    "config_for",
    "derive",
    "instantiate",
    "next_stance",
    "output_stream",
    "parse_spec",
    "register_analyzer",
    "resolve",
    "source_stream",
    "timeframe_ns",
]
