"""Data out: events as typed pandas DataFrames, and sessions as Parquet or CSV files.

>>> import asyncio
>>> from virtuoso.events import Event, Trade
>>> from virtuoso.export import to_frame
>>> from virtuoso.store import MemoryEventStore
>>> async def demo():
...     store = MemoryEventStore()
...     s = await store.begin_session("demo", "example", started_ns=1)
...     trade = Trade(58000.0, 0.01, "buy", "1")
...     await store.append([Event("t1", "binance:BTC/USDT:trades", 2, 3, s.id, trade)])
...     return await to_frame(store, session=s.id, types="Trade")
>>> asyncio.run(demo())[["position", "ts_event", "price", "amount", "side"]].to_dict("records")
[{'position': 2, 'ts_event': 2, 'price': 58000.0, 'amount': 0.01, 'side': 'buy'}]
"""

from virtuoso.export._columns import ENVELOPE, RESERVED, PayloadColumn, arrow_schema, payload_class, payload_columns
from virtuoso.export._files import (
    FORMATS,
    ExportProgress,
    ExportReport,
    Format,
    check_out_dir,
    export,
    export_session,
)
from virtuoso.export._frames import combined_frame, frame_of, record_batch
from virtuoso.export._read import TypeNames, to_frame

__all__ = [
    "ENVELOPE",
    "FORMATS",
    "RESERVED",
    "ExportProgress",
    "ExportReport",
    "Format",
    "PayloadColumn",
    "TypeNames",
    "arrow_schema",
    "check_out_dir",
    "combined_frame",
    "export",
    "export_session",
    "frame_of",
    "payload_class",
    "payload_columns",
    "record_batch",
    "to_frame",
]
