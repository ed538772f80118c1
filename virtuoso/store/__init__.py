"""The append-only event log: the EventStore over a storage backend (SQLite or in memory).

>>> import asyncio
>>> from virtuoso.events import Event, Trade
>>> from virtuoso.store import MemoryEventStore
>>> async def demo():
...     store = MemoryEventStore()
...     s = await store.begin_session("demo", "example", started_ns=1)
...     trade = Trade(58000.0, 0.01, "buy", "1")
...     await store.append([Event("t1", "binance:BTC/USDT:trades", 2, 3, s.id, trade)])
...     return [e.type async for e in store.read()]
>>> asyncio.run(demo())
['SessionStarted', 'Trade']
"""

from virtuoso.store._backend import StorageBackend
from virtuoso.store._column_chunks import ENVELOPE_COLUMNS, ColumnChunk, events_as_columns, payload_key
from virtuoso.store._columnar import ColumnarBackend
from virtuoso.store._columnar_migrate import migrate_log
from virtuoso.store._keys import KEY_ENV, read_key_file
from virtuoso.store._manifest import build_manifest, config_hash, is_secret_key, redact, scrub_text, secret_values
from virtuoso.store._memory import MemoryBackend, MemoryEventStore
from virtuoso.store._models import (
    FAILED_PREFIX,
    NO_STREAM,
    READ_CHUNK,
    AppendResult,
    EventFilter,
    SessionInfo,
    SessionStatus,
    StreamStats,
    VerifyReport,
)
from virtuoso.store._schema import SCHEMA_VERSION
from virtuoso.store._sqlite import SQLiteBackend, SQLiteEventStore, open_sqlite_store
from virtuoso.store._store import EventStore, imports_stream, lifecycle_stream
from virtuoso.store._writer import BufferedWriter, CommitRetry, DroppedSpan, gaps_stream

__all__ = [
    "ENVELOPE_COLUMNS",
    "FAILED_PREFIX",
    "KEY_ENV",
    "NO_STREAM",
    "READ_CHUNK",
    "SCHEMA_VERSION",
    "AppendResult",
    "BufferedWriter",
    "ColumnChunk",
    "ColumnarBackend",
    "CommitRetry",
    "DroppedSpan",
    "EventFilter",
    "EventStore",
    "MemoryBackend",
    "MemoryEventStore",
    "SQLiteBackend",
    "SQLiteEventStore",
    "SessionInfo",
    "SessionStatus",
    "StorageBackend",
    "StreamStats",
    "VerifyReport",
    "build_manifest",
    "config_hash",
    "events_as_columns",
    "gaps_stream",
    "imports_stream",
    "is_secret_key",
    "lifecycle_stream",
    "migrate_log",
    "open_sqlite_store",
    "payload_key",
    "read_key_file",
    "redact",
    "scrub_text",
    "secret_values",
]
