"""Paged reads from the SQLite events table: keyset paging, never OFFSET.

Fetching the next chunk while the previous one is decoded, or having SQLite
render a chunk as one JSON document, were both measured and gave no steady
gain: the reader thread needs the GIL for every row it builds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from virtuoso.store._chain import Row
from virtuoso.store._models import EventFilter
from virtuoso.store._rows import Catalog
from virtuoso.store._sqlite_io import translated

_COLUMNS = "position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"


@dataclass(slots=True)
class PagedQuery:
    """A keyset-paged read: the SQL takes the last key, ``params``, then the chunk size."""

    sql: str
    key: int
    start: int
    params: list[Any]


def build_query(flt: EventFilter, catalog: Catalog) -> PagedQuery | None:
    """The paged query for ``flt``, or None if nothing can match."""
    streams = None if flt.streams is None else [catalog.stream_ids[s] for s in flt.streams if s in catalog.stream_ids]
    kinds = None if flt.types is None else [seq for seq, (name, _) in catalog.kind_names.items() if name in flt.types]
    if streams == [] or kinds == [] or (flt.session is not None and flt.session not in catalog.session_ids):
        return None
    if streams is not None and len(streams) == 1:
        # One stream: page along its (stream, version) index; versions follow positions.
        where = ["version > ?", f"stream = {streams[0]:d}", "position > ?"]
        query = PagedQuery("ORDER BY version", 3, 0, [flt.after_position])
    else:
        # "+stream" keeps SQLite on the position order instead of the index plus a sort.
        where = ["position > ?"]
        if streams is not None:
            where.append(f"+stream IN ({','.join(map(str, streams))})")
        query = PagedQuery("ORDER BY position", 0, flt.after_position, [])
    if flt.session is not None:
        where.append(f"session = {catalog.session_ids[flt.session]:d}")
    if kinds is not None:
        where.append(f"kind IN ({','.join(map(str, kinds))})")
    for column, op, value in (
        ("ts_event", ">=", flt.start_ns),
        ("ts_event", "<", flt.end_ns),
        ("position", "<=", flt.until_position),
    ):
        if value is not None:
            where.append(f"{column} {op} ?")
            query.params.append(value)
    query.sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} {query.sql} LIMIT ?"
    return query


async def read_pages(
    db: aiosqlite.Connection, path: Path, query: PagedQuery, chunk_size: int
) -> AsyncIterator[list[Row]]:
    """Rows matching ``query`` in chunks of at most ``chunk_size``."""
    after = query.start
    while True:
        with translated(path):
            rows: list[Row] = list(await db.execute_fetchall(query.sql, (after, *query.params, chunk_size)))  # type: ignore[arg-type]
        if rows:
            yield rows
        if len(rows) < chunk_size:
            return
        after = rows[-1][query.key]
