"""The id index of the columnar layout: id keys to positions, a hit confirmed by decoding.

A row is ``(key, position)`` in a rowid table. Two ids may share a key; the later
one then takes the next free key (linear probing), and every lookup follows the
probe chain, confirming each hit by reading the id stored at the hit's position.

How an id becomes a key depends on the log's schema version:

- **version 4, ordered keys.** An id made by :class:`~virtuoso.events.EventIdFactory`
  (32 hex digits: 16 of a time, 8 of the namespace's hash, 8 of a counter) keys as
  ``2**62 | (time >> 20 mod 2**38) << 24 | (namespace hash + counter) mod 2**24``: the
  time (in ~1 ms steps, wrapping every ~9 years) leads, so a recording's keys grow
  as it goes and SQLite appends them at the right edge of the table's B-tree
  instead of at random pages (5x faster on 300k ids, measured in docs/store.md).
  Any other id keys by the first 6 bytes of its BLAKE2b hash (below ``2**48``, so
  the two kinds never meet). Keys of one factory within one millisecond differ by
  their counters; two factories meet on a key about once in ``2**24 / n`` when both
  make ``n`` ids in the same millisecond.
- **version 3, hashed keys.** Every id keys by the first 6 bytes of its BLAKE2b
  hash. Logs made before ordered keys keep them: a log never mixes the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import aiosqlite
import msgspec
import numpy as np

from virtuoso.store._batch_columns import hex_words

T = TypeVar("T")

KEY_BYTES = 6
HASHED_KEYS_SCHEMA = 3
"""The columnar schema version whose id index holds hashed keys only."""
_CHUNK = 500
_ORDERED = 1 << 62
_TIME_SHIFT = 20
_TIME_MASK = (1 << 38) - 1
_LOW_BITS = 24
_LOW_MASK = (1 << _LOW_BITS) - 1
_HEX_WIDTH = 32

IdsAt = Callable[[aiosqlite.Connection, Sequence[int]], Awaitable[Mapping[int, str]]]
"""Reads the ids stored at some positions: ``{position: id}``."""


class KeyTaken(Exception):
    """Internal: an id's key is already in the index (a stored id, or a hash collision)."""


def id_key(event_id: str) -> int:
    """The hashed index key of an event id (every id of a version-3 log; ids not made by a factory in version 4)."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=KEY_BYTES).digest()
    return int.from_bytes(digest, "big")


def id_keys(ids: Sequence[str], schema: int) -> list[int]:
    """The index keys of ``ids`` in a columnar log of schema version ``schema``, in order.

    >>> from virtuoso.events import EventIdFactory
    >>> made = EventIdFactory("s:x")
    >>> a, b = id_keys([made(1_700_000_000_000_000_000), made(1_700_000_000_100_000_000)], 4)
    >>> a < b, a >= 2**62, id_keys(["my-id"], 4)[0] < 2**48
    (True, True, True)
    """
    if schema <= HASHED_KEYS_SCHEMA or not ids:
        return list(map(id_key, ids))
    words = hex_words(ids)
    if words is None:  # not all made by a factory: one at a time
        return list(map(_ordered_key, ids))
    time, rest = words[:, 0], words[:, 1]
    high = (time >> np.uint64(_TIME_SHIFT)) & np.uint64(_TIME_MASK)
    low = ((rest >> np.uint64(32)) + (rest & np.uint64(0xFFFFFFFF))) & np.uint64(_LOW_MASK)
    keys: list[int] = (np.uint64(_ORDERED) | (high << np.uint64(_LOW_BITS)) | low).tolist()
    return keys


def _ordered_key(event_id: str) -> int:
    """:func:`id_keys` of one id of a version-4 log, without numpy (ids of mixed lengths)."""
    if len(event_id) != _HEX_WIDTH or not _is_hex(event_id):
        return id_key(event_id)
    time, namespace, counter = int(event_id[:16], 16), int(event_id[16:24], 16), int(event_id[24:], 16)
    return _ORDERED | (((time >> _TIME_SHIFT) & _TIME_MASK) << _LOW_BITS) | ((namespace + counter) & _LOW_MASK)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


async def insert_keys(
    db: aiosqlite.Connection, ids: Sequence[str], positions: Sequence[int], schema: int, meanwhile: Callable[[], T]
) -> T:
    """Index ``ids`` at ``positions`` by their own keys; ``KeyTaken`` (nothing kept) if any key is in use.

    ``meanwhile`` runs on this thread while the connection's thread inserts the keys (SQLite works
    without the GIL for most of it): its result is returned, or its error raised once the insert is undone.
    """
    keys, at = _in_key_order(id_keys(ids, schema), positions)
    await db.execute("SAVEPOINT ids")
    inserting = asyncio.ensure_future(_insert_rows(db, keys, at))
    await asyncio.sleep(0)  # the insert is now queued on the connection's thread
    try:
        result = meanwhile()
    except BaseException:
        await asyncio.wait([inserting])
        if not inserting.cancelled():
            inserting.exception()  # retrieved: the error that matters is this one
        await _undo_keys(db)
        raise
    try:
        await inserting
    except sqlite3.IntegrityError as exc:
        await _undo_keys(db)
        raise KeyTaken from exc
    await db.execute("RELEASE ids")
    return result


async def _undo_keys(db: aiosqlite.Connection) -> None:
    await db.execute("ROLLBACK TO ids")
    await db.execute("RELEASE ids")


def _in_key_order(keys: list[int], positions: Sequence[int]) -> tuple[list[int], Sequence[int]]:
    """The keys sorted, and the positions in their order: inserted so, they touch each page of the index once."""
    key_array = np.fromiter(keys, dtype=np.int64, count=len(keys))
    if len(keys) < 2 or bool((key_array[1:] >= key_array[:-1]).all()):  # a factory's ids usually come in order
        return keys, positions
    order = np.argsort(key_array, kind="stable")
    ordered: list[int] = key_array[order].tolist()
    return ordered, np.asarray(positions, dtype=np.int64)[order].tolist()


_JSON_INSERTS = sqlite3.sqlite_version_info >= (3, 38)
"""Whether SQLite has its JSON functions built in (3.38 and later): then the keys go in as one JSON array."""
_INSERT_KEYS_FROM = "INSERT INTO ids SELECT j.value, ?2 + j.key FROM json_each(?1) AS j"
"""Keys (a JSON array) at the consecutive positions from ?2."""
_INSERT_KEY_PAIRS = (
    "INSERT INTO ids SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') FROM json_each(?1) AS j"
)
"""``[key, position]`` pairs (a JSON array)."""
_ENCODE_JSON = msgspec.json.Encoder().encode


async def _insert_rows(db: aiosqlite.Connection, keys: list[int], positions: Sequence[int]) -> None:
    """Insert the ``(key, position)`` rows in the order given.

    As one statement over a JSON array where SQLite has JSON: it parses the array and inserts
    without a Python call a row (the GIL held to bind each row's two numbers made the other thread
    wait; the statement also costs half the CPU of ``executemany``).
    """
    if not _JSON_INSERTS:
        await db.executemany("INSERT INTO ids VALUES (?,?)", zip(keys, positions, strict=True))
    elif positions[-1] - positions[0] == len(positions) - 1 and _consecutive(positions):
        await db.execute(_INSERT_KEYS_FROM, (_ENCODE_JSON(keys), positions[0]))
    else:
        await db.execute(_INSERT_KEY_PAIRS, (_ENCODE_JSON(list(zip(keys, positions, strict=True))),))


def _consecutive(positions: Sequence[int]) -> bool:
    array = np.asarray(positions, dtype=np.int64)
    return bool((np.diff(array) == 1).all())


async def insert_probed(db: aiosqlite.Connection, slots: Mapping[str, int], positions: Mapping[str, int]) -> None:
    """Index fresh ids at the free keys ``slots`` found for them, moving on where two of them meet."""
    taken: set[int] = set()
    rows = []
    for event_id, first_free in slots.items():
        key = first_free
        while key in taken or await _occupied(db, key):
            key += 1
        taken.add(key)
        rows.append((key, positions[event_id]))
    await db.executemany("INSERT INTO ids VALUES (?,?)", rows)


async def _occupied(db: aiosqlite.Connection, key: int) -> bool:
    return bool(list(await db.execute_fetchall("SELECT 1 FROM ids WHERE key = ?", (key,))))


async def locate(
    db: aiosqlite.Connection, ids: Iterable[str], ids_at: IdsAt, schema: int
) -> tuple[dict[str, int], dict[str, int]]:
    """``({stored id: its position}, {other id: the first free key of its probe chain})``."""
    unique = list(dict.fromkeys(ids))
    pending = dict(zip(unique, id_keys(unique, schema), strict=True))
    stored: dict[str, int] = {}
    free: dict[str, int] = {}
    while pending:
        hits = await _positions(db, pending.values())
        found = await ids_at(db, sorted(set(hits.values())))
        following: dict[str, int] = {}
        for event_id, key in pending.items():
            position = hits.get(key)
            if position is None:
                free[event_id] = key
            elif found.get(position) == event_id:
                stored[event_id] = position
            else:
                following[event_id] = key + 1
        pending = following
    return stored, free


async def _positions(db: aiosqlite.Connection, keys: Iterable[int]) -> dict[int, int]:
    wanted = list(keys)
    hits: dict[int, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.execute_fetchall(f"SELECT key, position FROM ids WHERE key IN ({marks})", chunk)
        hits.update((int(k), int(p)) for k, p in rows)
    return hits


async def first_unindexed(
    db: aiosqlite.Connection, ids: Sequence[str], positions: Sequence[int], schema: int
) -> int | None:
    """The first of ``positions`` whose id the index does not lead to (following probe chains), or None."""
    expected = dict(zip(ids, positions, strict=True))
    pending = dict(zip(ids, id_keys(ids, schema), strict=True))
    for _ in range(64):  # a probe chain longer than this is not one the store wrote
        hits = await _positions(db, pending.values())
        following = {}
        for event_id, key in pending.items():
            position = hits.get(key)
            if position is None:
                return expected[event_id]
            if position != expected[event_id]:
                following[event_id] = key + 1
        if not following:
            return None
        pending = following
    return min(expected[event_id] for event_id in pending)
