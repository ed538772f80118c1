"""The id index of the columnar layout: 48-bit id hashes to positions, a hit confirmed by decoding.

A row is ``(key, position)`` in a rowid table, the key being the first 6 bytes of
BLAKE2b of the id: about 17 bytes an event on disk, where an index of the id text
would take ~45. Two ids may share a key; the later one then takes the next free key
(linear probing), and every lookup follows the probe chain, confirming each hit by
reading the id stored at the hit's position. With 48 bits a log of a billion events
sees such a collision for about one id in 300,000, so the chain is almost always one
key long.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

import aiosqlite

KEY_BYTES = 6
_CHUNK = 500

IdsAt = Callable[[aiosqlite.Connection, Sequence[int]], Awaitable[Mapping[int, str]]]
"""Reads the ids stored at some positions: ``{position: id}``."""


class KeyTaken(Exception):
    """Internal: an id's key is already in the index (a stored id, or a hash collision)."""


def id_key(event_id: str) -> int:
    """The index key of an event id."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=KEY_BYTES).digest()
    return int.from_bytes(digest, "big")


async def insert_keys(db: aiosqlite.Connection, ids: Sequence[str], positions: Sequence[int]) -> None:
    """Index ``ids`` at ``positions`` by their own keys; ``KeyTaken`` (nothing kept) if any key is in use."""
    await db.execute("SAVEPOINT ids")
    try:
        await db.executemany("INSERT INTO ids VALUES (?,?)", zip(map(id_key, ids), positions, strict=True))
    except sqlite3.IntegrityError as exc:
        await db.execute("ROLLBACK TO ids")
        await db.execute("RELEASE ids")
        raise KeyTaken from exc
    await db.execute("RELEASE ids")


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


async def locate(db: aiosqlite.Connection, ids: Iterable[str], ids_at: IdsAt) -> tuple[dict[str, int], dict[str, int]]:
    """``({stored id: its position}, {other id: the first free key of its probe chain})``."""
    pending = {event_id: id_key(event_id) for event_id in dict.fromkeys(ids)}
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


async def first_unindexed(db: aiosqlite.Connection, ids: Sequence[str], positions: Sequence[int]) -> int | None:
    """The first of ``positions`` whose id the index does not lead to (following probe chains), or None."""
    expected = dict(zip(ids, positions, strict=True))
    pending = {event_id: id_key(event_id) for event_id in ids}
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
