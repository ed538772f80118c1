"""Importers: recorded market data files into the event log, one session per import.

Formats: ``binance-capture`` (raw WebSocket captures), ``binance-vision`` (Binance's
public CSV dumps) and ``ccxt-json`` (lists of ccxt unified trades or OHLCV rows).
See ``docs/importers.md``.
"""

from virtuoso.importers._markets import RecordedMarket, markets_from_exchange_info, session_markets
from virtuoso.importers._run import (
    FORMATS,
    FileReport,
    ImportPlan,
    ImportReport,
    Progress,
    ProgressUpdate,
    import_files,
    imported_files,
    plan_import,
)
from virtuoso.importers._symbols import unified_symbol

__all__ = [
    "FORMATS",
    "FileReport",
    "ImportPlan",
    "ImportReport",
    "Progress",
    "ProgressUpdate",
    "RecordedMarket",
    "import_files",
    "imported_files",
    "markets_from_exchange_info",
    "plan_import",
    "session_markets",
    "unified_symbol",
]
