"""The SQLite schema, its version and the migrations between versions.

``PRAGMA application_id`` marks a file as a Virtuoso event log and
``PRAGMA user_version`` holds the schema version. A migration is a list of SQL
statements run in one transaction; :data:`MIGRATIONS` maps each version to the
statements that build it from the version before.
"""

from __future__ import annotations

APPLICATION_ID = 0x56545344  # "VTSD"
ROWS_SCHEMA = 2
"""The newest schema of the row layout (a row per event): version 2 marks a row log."""
COLUMNAR_SCHEMA = 4
"""The newest schema of the columnar layout (a compressed blob per committed batch per stream): version 4 keys
ids in time order (``_columnar_ids``); version 3, the first columnar schema, by hashes only, and stays so."""
COLUMNAR_SCHEMAS = (3, COLUMNAR_SCHEMA)
"""The schema versions that mark a columnar log."""
SCHEMA_VERSION = COLUMNAR_SCHEMA
"""The newest schema version this Virtuoso reads; a file of a higher one is refused."""

_APPEND_ONLY = "virtuoso: the event log is append-only"


def _append_only_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ]


_V1 = [
    """CREATE TABLE sessions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        symbols TEXT NOT NULL,
        channels TEXT NOT NULL,
        manifest TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        started_ns INTEGER NOT NULL,
        ended_ns INTEGER,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'crashed')),
        end_reason TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE streams (
        seq INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE kinds (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        schema INTEGER NOT NULL,
        UNIQUE (type, schema)
    )""",
    """CREATE TABLE events (
        position INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        stream INTEGER NOT NULL,
        version INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        ts_event INTEGER NOT NULL,
        ts_recv INTEGER NOT NULL,
        session INTEGER NOT NULL,
        causation INTEGER,
        payload BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX events_id ON events (id)",
    "CREATE UNIQUE INDEX events_stream_version ON events (stream, version)",
    """CREATE TABLE batches (
        seq INTEGER PRIMARY KEY,
        first_position INTEGER NOT NULL,
        last_position INTEGER NOT NULL,
        hash BLOB NOT NULL
    )""",
    """CREATE TABLE session_streams (
        session INTEGER NOT NULL,
        stream INTEGER NOT NULL,
        events INTEGER NOT NULL,
        first_ts_event INTEGER NOT NULL,
        last_ts_event INTEGER NOT NULL,
        first_position INTEGER NOT NULL,
        last_position INTEGER NOT NULL,
        PRIMARY KEY (session, stream)
    )""",
    *_append_only_triggers("events"),
    *_append_only_triggers("batches"),
    # INSERT OR REPLACE deletes the row it replaces without firing delete triggers.
    # Refusing it per event would cost a fifth of the append rate, so events rely on
    # verify() (the chain and contiguity catch a replaced event); the chain's own
    # rows, one per batch, are guarded here.
    f"CREATE TRIGGER batches_no_overwrite BEFORE INSERT ON batches"
    f" WHEN NEW.seq <= (SELECT max(seq) FROM batches) BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
]

# Version 2: the chain binds meaning (names, session headers) and batches may carry
# an HMAC. Batches before ``chain_meta.first_bound_batch`` keep the version-1 hash
# (columns only), so a migrated log verifies with the same head as before.
_V2 = [
    "ALTER TABLE batches ADD COLUMN mac BLOB",
    "CREATE TABLE chain_meta (first_bound_batch INTEGER NOT NULL)",
    "INSERT INTO chain_meta SELECT coalesce(max(seq), 0) + 1 FROM batches",
    *_append_only_triggers("chain_meta"),
    f"CREATE TRIGGER chain_meta_single BEFORE INSERT ON chain_meta"
    f" WHEN (SELECT count(*) FROM chain_meta) > 0 BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
]

MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2}
"""Statements that bring a row log from version ``n - 1`` to ``n`` (up to :data:`ROWS_SCHEMA`)."""

_ROW_TABLE = ("TABLE events ", "ON events ")
_SHARED = [statement for statement in _V1 if not any(part in statement for part in _ROW_TABLE)]

# The columnar layout (versions 3 and 4: the same tables): the shared tables, one row per committed batch per
# stream holding its events as one blob (``_batch_codec``), and an id index of id keys (``_columnar_ids``; a hit
# is confirmed by decoding the blob holding its position).
_COLUMNAR = [
    *_SHARED,
    *_V2,
    """CREATE TABLE blobs (
        seq INTEGER PRIMARY KEY,
        stream INTEGER NOT NULL,
        first_position INTEGER NOT NULL,
        last_position INTEGER NOT NULL,
        first_version INTEGER NOT NULL,
        last_version INTEGER NOT NULL,
        min_ts_event INTEGER NOT NULL,
        max_ts_event INTEGER NOT NULL,
        count INTEGER NOT NULL,
        kinds TEXT NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX blobs_first ON blobs (first_position)",
    "CREATE INDEX blobs_stream ON blobs (stream, first_position)",
    "CREATE INDEX blobs_span ON blobs (last_position, first_position)",
    "CREATE TABLE ids (key INTEGER PRIMARY KEY, position INTEGER NOT NULL)",
    f"CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    # Sealing retires live blobs once a segment holding their positions is stored: the one
    # removal let through. verify() still rehashes every commit from whatever holds it.
    f"""CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs WHEN NOT EXISTS (
        SELECT 1 FROM blobs s WHERE s.stream = OLD.stream AND s.seq != OLD.seq AND s.count > OLD.count
        AND s.first_position <= OLD.first_position AND s.last_position >= OLD.last_position
    ) BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    *_append_only_triggers("ids"),
]

COLUMNAR_STATEMENTS: list[str] = _COLUMNAR
"""Statements that create an empty columnar log (version :data:`COLUMNAR_SCHEMA`) in an empty file."""

APPEND_ONLY_MESSAGE = _APPEND_ONLY
