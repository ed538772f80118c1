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


_NEWEST = 2**63 - 1

# The largest version of a stream whose position is at most ?2, by binary search along the
# (stream, version) index: versions grow with positions, but the index holds no positions.
_VERSION_AT = """WITH RECURSIVE probe(lo, hi) AS (
    SELECT 0, (SELECT version FROM streams WHERE seq = ?1)
    UNION ALL
    SELECT
        iif((SELECT position FROM events WHERE stream = ?1 AND version = (lo + hi + 1) / 2) <= ?2,
            (lo + hi + 1) / 2, lo),
        iif((SELECT position FROM events WHERE stream = ?1 AND version = (lo + hi + 1) / 2) <= ?2,
            hi, (lo + hi + 1) / 2 - 1)
    FROM probe WHERE lo < hi
)
SELECT min(lo) FROM probe WHERE lo = hi"""


@dataclass(slots=True)
class PagedQuery:
    """A keyset-paged read: the SQL takes the last key, ``params``, then the chunk size.

    ``seek`` is ``(stream, position, offset)`` for a one-stream read that starts
    mid-stream: the first key is the version at that position plus ``offset``.
    """

    sql: str
    key: int
    start: int
    params: list[Any]
    seek: tuple[int, int, int] | None = None


def build_query(flt: EventFilter, catalog: Catalog, *, newest_first: bool = False) -> PagedQuery | None:
    """The paged query for ``flt`` (newest first if asked), or None if nothing can match."""
    streams = None if flt.streams is None else [catalog.stream_ids[s] for s in flt.streams if s in catalog.stream_ids]
    kinds = None if flt.types is None else [seq for seq, (name, _) in catalog.kind_names.items() if name in flt.types]
    if streams == [] or kinds == [] or (flt.session is not None and flt.session not in catalog.session_ids):
        return None
    beyond, order, first = ("<", "DESC", _NEWEST) if newest_first else (">", "ASC", 0)
    if streams is not None and len(streams) == 1:
        # One stream: page along its (stream, version) index; versions follow positions.
        where = [f"version {beyond} ?", f"stream = {streams[0]:d}", "position > ?"]
        seek = _seek(flt, streams[0], newest_first=newest_first)
        query = PagedQuery(f"ORDER BY version {order}", 3, first, [flt.after_position], seek)
    else:
        # "+stream" keeps SQLite on the position order instead of the index plus a sort.
        where = [f"position {beyond} ?", "position > ?"]
        if streams is not None:
            where.append(f"+stream IN ({','.join(map(str, streams))})")
        query = PagedQuery(f"ORDER BY position {order}", 0, first or flt.after_position, [flt.after_position])
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


def _seek(flt: EventFilter, stream: int, *, newest_first: bool) -> tuple[int, int, int] | None:
    """Where a one-stream read starts when its bound on positions is mid-stream."""
    if newest_first:
        return None if flt.until_position is None else (stream, flt.until_position, 1)
    return (stream, flt.after_position, 0) if flt.after_position > 0 else None


async def read_pages(
    db: aiosqlite.Connection, path: Path, query: PagedQuery, chunk_size: int
) -> AsyncIterator[list[Row]]:
    """Rows matching ``query`` in chunks of at most ``chunk_size``."""
    after = query.start
    if query.seek is not None:
        stream, position, offset = query.seek
        with translated(path):
            ((version,),) = await db.execute_fetchall(_VERSION_AT, (stream, position))
        after = int(version or 0) + offset
    while True:
        with translated(path):
            rows: list[Row] = list(await db.execute_fetchall(query.sql, (after, *query.params, chunk_size)))  # type: ignore[arg-type]
        if rows:
            yield rows
        if len(rows) < chunk_size:
            return
        after = rows[-1][query.key]
