"""The columnar id index when ids collide: with a hash of 3 bits, every lookup follows probe chains.

The index keys ids by 48-bit hashes or time-ordered keys, so collisions never
happen in a test by chance; here the key function is made tiny, and the log must still skip exactly
the stored ids (even with other content), store every other one, and verify.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.store import AppendResult, EventFilter, MemoryEventStore, _columnar_ids, open_sqlite_store

STREAMS = ("x:BTC/USDT:trades", "x:ETH/USDT:trades")


def _tiny_keys(ids: Sequence[str], schema: int) -> list[int]:
    return [hashlib.blake2b(event_id.encode(), digest_size=1).digest()[0] % 8 for event_id in ids]


def _event(n: int, price: float = 100.0) -> Event:
    return Event(f"id-{n}", STREAMS[n % 2], n, n + 1, "s-ids", Trade(price + n, 0.5, "buy", str(n)))


BATCHES = [
    [_event(n) for n in range(0, 12)],
    [_event(n) for n in range(8, 20)],  # 4 stored ids, retried
    [_event(5, price=7.0), _event(20), _event(20), _event(21)],  # a stored id with other content; one id twice
    [_event(n) for n in range(0, 22)],  # everything stored already
    [_event(n) for n in range(22, 40)],
]


@pytest.mark.asyncio
@pytest.mark.parametrize("json_inserts", [True, False], ids=["one JSON statement", "executemany (SQLite < 3.38)"])
async def test_colliding_ids_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_inserts: bool
) -> None:
    monkeypatch.setattr(_columnar_ids, "id_keys", _tiny_keys)
    monkeypatch.setattr(_columnar_ids, "_JSON_INSERTS", json_inserts)
    memory = MemoryEventStore()
    columnar = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        results = []
        for store in (memory, columnar):
            await store.begin_session("ids", "tests", started_ns=0, session_id="s-ids")
            results.append([await store.append(batch) for batch in BATCHES])
            atomic = await store.append_atomic([[_event(40), _event(3)], [_event(41), _event(40)]])
            results[-1].append(atomic)
        assert results[0] == results[1]
        assert results[1][2] == AppendResult(2, 2, 22, 23)
        assert [e async for e in columnar.read()] == [e async for e in memory.read()]
        assert (await columnar.read_chunks(EventFilter(), 5).__anext__())[-1].id == "id-3"
        report, model = await columnar.verify(), await memory.verify()
        assert report.ok, report.problem
        assert report.head == model.head
    finally:
        await memory.close()
        await columnar.close()


# -- how ids become keys -----------------------------------------------------------------------

HEX = "0123456789abcdef"
_NEAR_HEX = st.text(alphabet=HEX + "ABCDEF g\u00e9\ud800", min_size=30, max_size=34)
_FACTORY_ID = st.text(alphabet=HEX, min_size=32, max_size=32)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_FACTORY_ID, _NEAR_HEX, st.text(max_size=40)), min_size=1, max_size=30))
def test_batch_keys_are_the_keys_of_each_id(ids: list[str]) -> None:
    """However a batch mixes ids, its keys are each id's own: a lookup of one id finds what a batch stored."""
    assert _columnar_ids.id_keys(ids, 4) == [_columnar_ids.id_keys([event_id], 4)[0] for event_id in ids]
    for event_id, key in zip(ids, _columnar_ids.id_keys(ids, 4), strict=True):
        made_by_a_factory = len(event_id) == 32 and all(c in HEX for c in event_id)
        assert (key >= 2**62) == made_by_a_factory
        assert made_by_a_factory or key == _columnar_ids.id_key(event_id)
        assert 0 <= key < 2**63  # a SQLite rowid
    assert _columnar_ids.id_keys(ids, 3) == [_columnar_ids.id_key(event_id) for event_id in ids]


def test_a_factory_makes_keys_in_time_order() -> None:
    made = EventIdFactory("s-keys:x:BTC/USDT:trades")
    times = [1_700_000_000_000_000_000 + n * 2_000_000 for n in range(1_000)]
    keys = _columnar_ids.id_keys([made(t) for t in times], 4)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    same_millisecond = _columnar_ids.id_keys([made(times[0]) for _ in range(1_000)], 4)
    assert len(set(same_millisecond)) == 1_000  # told apart by their counters


def _ordered_id(ts_ns: int, namespace: int, counter: int) -> str:
    return f"{ts_ns:016x}{namespace:08x}{counter:08x}"


@pytest.mark.asyncio
async def test_factory_ids_meeting_on_one_key_are_told_apart(tmp_path: Path) -> None:
    """Two producers' ids of one millisecond whose namespace hash plus counter agree share a key: both are
    stored, both are found again, and the log verifies."""
    t = 1_700_000_000_000_000_000
    a, b = _ordered_id(t, 0x10, 5), _ordered_id(t + 1, 0x11, 4)
    assert _columnar_ids.id_keys([a], 4) == _columnar_ids.id_keys([b], 4)
    store = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        await store.begin_session("ids", "tests", started_ns=0, session_id="s-ids")
        trade = Trade(100.0, 0.5, "buy", "1")
        first = await store.append([Event(a, STREAMS[0], t, t, "s-ids", trade)])
        second = await store.append(
            [Event(b, STREAMS[1], t, t, "s-ids", trade), Event(a, STREAMS[0], t, t, "s-ids", trade)]
        )
        again = await store.append([Event(b, STREAMS[1], t, t, "s-ids", trade)])
        assert (first.written, second.written, second.duplicates, again.written) == (1, 1, 1, 0)
        assert [e.id async for e in store.read()][1:] == [a, b]  # after the session's start
        assert (await store.verify()).ok
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_version_3_log_keeps_hashed_keys(tmp_path: Path) -> None:
    """A columnar log made before ordered keys (version 3) goes on keying every id by its hash."""
    path = tmp_path / "v3.sqlite"
    store = await open_sqlite_store(path, layout="columnar")
    await store.close()
    with closing(sqlite3.connect(path)) as con:  # a new log holds no id yet: it is a version-3 log but for the number
        con.execute("PRAGMA user_version = 3")
        con.commit()
    made = EventIdFactory("s-v3")
    events = [Event(made(n), STREAMS[0], n, n, "s-v3", Trade(100.0, 0.5, "buy", str(n))) for n in range(1, 50)]
    store = await open_sqlite_store(path)
    try:
        await store.begin_session("v3", "tests", started_ns=0, session_id="s-v3")
        assert (await store.append(events)).written == len(events)
        assert (await store.append(events[10:20])).written == 0
        assert (await store.verify()).ok
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (3,)
        keys = [key for (key,) in con.execute("SELECT key FROM ids")]
    assert max(keys) < 2**48
    assert set(_columnar_ids.id_keys([e.id for e in events], 3)) <= set(keys)


# -- the keys are inserted while the caller encodes ------------------------------------------------


def _keyed_ids(count: int) -> list[str]:
    made = EventIdFactory("s-keys")
    return [made(1_700_000_000_000_000_000 + n) for n in range(count)]


async def _ids_table(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("CREATE TABLE ids (key INTEGER PRIMARY KEY, position INTEGER NOT NULL)")
    return db


@pytest.mark.asyncio
@pytest.mark.parametrize("json_inserts", [True, False], ids=["one JSON statement", "executemany (SQLite < 3.38)"])
@pytest.mark.parametrize("shuffled", [False, True], ids=["in key order", "out of key order"])
async def test_keys_are_kept_and_the_work_done_meanwhile_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_inserts: bool, shuffled: bool
) -> None:
    monkeypatch.setattr(_columnar_ids, "_JSON_INSERTS", json_inserts)
    ids = _keyed_ids(300)
    if shuffled:  # sorted by key before the insert: the positions follow their ids
        ids = ids[150:] + ids[:150]
    db = await _ids_table(tmp_path / "k.sqlite")
    try:
        await db.execute("BEGIN")
        result = await _columnar_ids.insert_keys(db, ids, range(1, 301), 4, lambda: "encoded")
        await db.execute("COMMIT")
        assert result == "encoded"
        stored = await db.execute_fetchall("SELECT key, position FROM ids ORDER BY position")
        assert stored == list(zip(_columnar_ids.id_keys(ids, 4), range(1, 301), strict=True))
    finally:
        await db.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("taken", [False, True], ids=["free keys", "a key taken"])
async def test_work_failing_meanwhile_leaves_no_key_and_its_error_is_raised(tmp_path: Path, taken: bool) -> None:
    ids = _keyed_ids(300)
    db = await _ids_table(tmp_path / "k.sqlite")
    try:
        await db.execute("BEGIN")
        if taken:  # the insert fails too; the caller's own error is the one raised
            await db.execute("INSERT INTO ids VALUES (?, 0)", (_columnar_ids.id_keys(ids[-1:], 4)[0],))

        def encode() -> str:
            raise ValueError("cannot encode the batch")

        with pytest.raises(ValueError, match="cannot encode"):
            await _columnar_ids.insert_keys(db, ids, range(1, 301), 4, encode)
        assert await db.execute_fetchall("SELECT count(*) FROM ids") == [(1 if taken else 0,)]
        assert db.in_transaction  # the caller's transaction goes on, as it was before the call
        again = ids[:-1] if taken else ids
        assert await _columnar_ids.insert_keys(db, again, range(1, len(again) + 1), 4, lambda: "again") == "again"
        await db.execute("COMMIT")
    finally:
        await db.close()
