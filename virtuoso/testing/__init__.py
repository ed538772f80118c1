"""Public test kit: a loopback Binance exchange that serves recorded payloads to real ccxt.

Nothing in the library imports this package; tests and users do (see ``docs/loopback.md``).

Also the property-testing kit: hypothesis strategies for valid market data and
:func:`check_analyzer`, which checks any analyzer against six properties (see
``docs/property-testing.md``).
"""

import importlib
from typing import TYPE_CHECKING, Any

from virtuoso.testing._capture import DEFAULT_CAPTURES, Capture, Frame, load_captures, symbol_key
from virtuoso.testing._chaos import CHAOS_KINDS, ChaosConfig
from virtuoso.testing._faults import REST_ACTIONS, WS_ACTIONS, FaultSchedule, RestFault, WsFault
from virtuoso.testing._served import AppliedFault, MarketChange, Served, UpdateIds, Withheld
from virtuoso.testing._server import LoopbackExchange
from virtuoso.testing._trades import TradeList

__all__ = [
    "CHAOS_KINDS",
    "DEFAULT_CAPTURES",
    "REST_ACTIONS",
    "WS_ACTIONS",
    "AppliedFault",
    "Capture",
    "ChaosConfig",
    "FaultSchedule",
    "Frame",
    "LoopbackExchange",
    "MarketChange",
    "RestFault",
    "Served",
    "TradeList",
    "UpdateIds",
    "Withheld",
    "WsFault",
    "load_captures",
    "symbol_key",
]

# The property-testing kit needs hypothesis (the `testing` extra); it loads on first use, so the
# loopback exchange (and the CLI that serves it) works without it.
_KIT = {
    "AnalyzerCheckFailed": "virtuoso.testing._report",
    "AnalyzerFactory": "virtuoso.testing._runs",
    "Coverage": "virtuoso.testing._report",
    "Example": "virtuoso.testing._report",
    "Failure": "virtuoso.testing._report",
    "KitReport": "virtuoso.testing._report",
    "MarketShape": "virtuoso.testing._strategies",
    "PROPERTY_NAMES": "virtuoso.testing._check",
    "PropertyResult": "virtuoso.testing._report",
    "bars": "virtuoso.testing._strategies",
    "book_deltas": "virtuoso.testing._strategies",
    "books": "virtuoso.testing._strategies",
    "check_analyzer": "virtuoso.testing._check",
    "PipelineBenchmark": "virtuoso.testing._pipeline",
    "pipeline_benchmark": "virtuoso.testing._pipeline",
    "sessions": "virtuoso.testing._sessions",
    "trades": "virtuoso.testing._strategies",
}
__all__ += [
    "PROPERTY_NAMES",
    "AnalyzerCheckFailed",
    "AnalyzerFactory",
    "Coverage",
    "Example",
    "Failure",
    "KitReport",
    "MarketShape",
    "PipelineBenchmark",
    "PropertyResult",
    "bars",
    "book_deltas",
    "books",
    "check_analyzer",
    "pipeline_benchmark",
    "sessions",
    "trades",
]

if TYPE_CHECKING:
    from virtuoso.testing._check import PROPERTY_NAMES, check_analyzer
    from virtuoso.testing._pipeline import PipelineBenchmark, pipeline_benchmark
    from virtuoso.testing._report import AnalyzerCheckFailed, Coverage, Example, Failure, KitReport, PropertyResult
    from virtuoso.testing._runs import AnalyzerFactory
    from virtuoso.testing._sessions import sessions
    from virtuoso.testing._strategies import MarketShape, bars, book_deltas, books, trades


def __getattr__(name: str) -> Any:
    module = _KIT.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
