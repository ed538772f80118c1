"""Public test kit: a loopback Binance exchange that serves recorded payloads to real ccxt.

Nothing in the library imports this package; tests and users do (see ``docs/loopback.md``).
"""

from virtuoso.testing._capture import DEFAULT_CAPTURES, Capture, Frame, load_captures, symbol_key
from virtuoso.testing._faults import FaultSchedule, RestFault, WsFault
from virtuoso.testing._served import AppliedFault, Served, Withheld
from virtuoso.testing._server import LoopbackExchange
from virtuoso.testing._trades import TradeList

__all__ = [
    "DEFAULT_CAPTURES",
    "AppliedFault",
    "Capture",
    "FaultSchedule",
    "Frame",
    "LoopbackExchange",
    "RestFault",
    "Served",
    "TradeList",
    "Withheld",
    "WsFault",
    "load_captures",
    "symbol_key",
]
