"""Integrity of the row layout's SQLite log: append-only triggers and what verify() detects.

Every tampering here goes through the stdlib ``sqlite3`` module on the file, as a
user or another tool would; the store is then reopened and asked to verify.

The log built by :func:`_build_log` has a fixed layout (batch = one append):

==========  ==========  ======================================
batch       positions   content
==========  ==========  ======================================
1           1           SessionStarted
2           2..11       10 trades, alternating streams A and B
3           12..21      10 trades, alternating streams A and B
4           22..31      10 trades, alternating streams A and B
5           32          SessionEnded
==========  ==========  ======================================
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from virtuoso.errors import AppendOnlyError
from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.store import EventFilter, SQLiteEventStore, VerifyReport, open_sqlite_store

STREAM_A = "test:BTC/USDT:trades"
STREAM_B = "test:ETH/USDT:trades"
APPEND_ONLY = "virtuoso: the event log is append-only"
TAMPERED = 15  # a trade of stream B in batch 3
BATCH_3_FIRST = 12
LAST = 32


def _trades(session: str, ids: EventIdFactory, start: int) -> list[Event]:
    return [
        Event(
            ids(1_000 + n),
            STREAM_A if n % 2 == 0 else STREAM_B,
            1_000 + n,
            1_500 + n,
            session,
            Trade(58_000.0 + n, 0.25, "buy" if n % 3 else "sell", str(n)),
        )
        for n in range(start, start + 10)
    ]


async def _build_log(path: Path) -> str:
    store = await open_sqlite_store(path, layout="rows")  # its raw edits are of the events table
    try:
        info = await store.begin_session("integrity", "tests", started_ns=1_000)
        ids = EventIdFactory(info.id)
        for start in (0, 10, 20):
            await store.append(_trades(info.id, ids, start))
        await store.end_session(info.id, ended_ns=2_000)
    finally:
        await store.close()
    return info.id


@contextmanager
def _raw(path: Path, *, drop_triggers: bool = False) -> Iterator[sqlite3.Connection]:
    """A stdlib connection on the log; commits on success."""
    with closing(sqlite3.connect(path)) as con:
        if drop_triggers:
            for table in ("events", "batches"):
                con.execute(f"DROP TRIGGER {table}_no_update")
                con.execute(f"DROP TRIGGER {table}_no_delete")
            con.execute("DROP TRIGGER batches_no_overwrite")
        yield con
        con.commit()


async def _verify(path: Path) -> VerifyReport:
    store = await open_sqlite_store(path)
    try:
        return await store.verify()
    finally:
        await store.close()


def _assert_broken(report: VerifyReport, position: int | None, *words: str) -> None:
    assert not report.ok
    assert report.first_bad_position == position, report
    assert report.problem
    assert "\n" not in report.problem
    for word in words:
        assert word in report.problem, report.problem


def _stream_seq(con: sqlite3.Connection, name: str) -> int:
    ((seq,),) = con.execute("SELECT seq FROM streams WHERE name = ?", (name,)).fetchall()
    return int(seq)


@pytest_asyncio.fixture
async def log(db_path: Path) -> Path:
    await _build_log(db_path)
    return db_path


# -- the untouched log -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_untouched_log_verifies_with_a_stable_head(log: Path) -> None:
    first = await _verify(log)
    second = await _verify(log)
    assert first.ok, first.problem
    assert (first.events, first.batches) == (LAST, 5)
    assert first.first_bad_position is None
    assert first.problem == ""
    assert len(first.head) == 64
    assert first.head != "0" * 64
    assert second == first


@pytest.mark.asyncio
async def test_head_moves_with_each_append_and_read_only_verify_agrees(log: Path) -> None:
    before = await _verify(log)
    store = await open_sqlite_store(log)
    try:
        info = await store.begin_session("more", "tests", started_ns=5_000)
        after_append = await store.verify()
    finally:
        await store.close()
    assert after_append.ok
    assert after_append.head != before.head
    assert after_append.batches == before.batches + 1
    readonly = await open_sqlite_store(log, readonly=True)
    try:
        assert await readonly.verify() == after_append
        assert (await readonly.session(info.id)).status == "open"
    finally:
        await readonly.close()


@pytest.mark.asyncio
async def test_empty_log_verifies_with_the_genesis_head(db_path: Path) -> None:
    report = await _verify(db_path)
    assert report.ok
    assert (report.events, report.batches, report.head) == (0, 0, "0" * 64)


# -- the append-only triggers --------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET ts_event = ts_event + 1 WHERE position = 15",
        "UPDATE events SET payload = payload",
        "DELETE FROM events WHERE position = 32",
        "DELETE FROM events",
        "UPDATE batches SET hash = zeroblob(32) WHERE seq = 2",
        "DELETE FROM batches WHERE seq = 5",
    ],
)
@pytest.mark.asyncio
async def test_triggers_refuse_update_and_delete(log: Path, statement: str) -> None:
    before = await _verify(log)
    with _raw(log) as con, pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
        con.execute(statement)
    after = await _verify(log)
    assert after.ok
    assert after == before


@pytest.mark.asyncio
async def test_triggers_refuse_insert_or_replace_over_a_stored_batch(log: Path) -> None:
    with _raw(log) as con:
        row = list(con.execute("SELECT * FROM batches WHERE seq = 2").fetchone())
        row[3] = bytes(32)
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
            con.execute(f"INSERT OR REPLACE INTO batches VALUES ({','.join('?' * len(row))})", row)


@pytest.mark.asyncio
async def test_verify_catches_an_event_rewritten_with_insert_or_replace(log: Path) -> None:
    # The triggers do not refuse this (see the schema); the chain catches it.
    with _raw(log) as con:
        row = list(con.execute("SELECT * FROM events WHERE position = ?", (TAMPERED,)).fetchone())
        row[5] += 1
        con.execute("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", row)
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3", "hash")


@pytest.mark.asyncio
async def test_store_translates_the_trigger_into_append_only_error(log: Path) -> None:
    # The store's own error mapping, applied to a refused statement on the same file.
    from virtuoso.store._sqlite_io import translated

    with _raw(log) as con, pytest.raises(AppendOnlyError, match=APPEND_ONLY) as caught, translated(log):
        con.execute("DELETE FROM events WHERE position = 1")
    assert str(log) in str(caught.value)


# -- nothing in the API updates ----------------------------------------------------------


def test_the_store_api_has_no_way_to_change_or_delete_events() -> None:
    public = {name for name in dir(SQLiteEventStore) if not name.startswith("_")}
    verbs = {"update", "delete", "remove", "replace", "set", "truncate", "rewrite", "purge", "drop", "edit"}
    mutating = {name for name in public if verbs & set(name.split("_"))}
    assert mutating == set()
    assert {"append", "begin_session", "end_session"} <= public


@pytest.mark.asyncio
async def test_reappending_an_id_with_new_content_changes_nothing(log: Path) -> None:
    store = await open_sqlite_store(log)
    try:
        original = [e async for e in store.read(EventFilter(after_position=TAMPERED - 1, until_position=TAMPERED))]
        (event,) = original
        forged = Event(
            event.id, event.stream, event.ts_event + 7, event.ts_recv, event.session, Trade(1.0, 1.0, "buy", "x")
        )
        result = await store.append([forged])
        assert (result.written, result.duplicates) == (0, 1)
        again = [e async for e in store.read(EventFilter(after_position=TAMPERED - 1, until_position=TAMPERED))]
        assert again == original
        assert (await store.verify()).ok
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_preset_position_and_version_cannot_overwrite(log: Path) -> None:
    store = await open_sqlite_store(log)
    try:
        info = (await store.sessions())[0]
        ids = EventIdFactory("overwrite-attempt")
        trade = Trade(2.0, 2.0, "sell", "y")
        squatter = Event(ids(3_000), STREAM_B, 3_000, 3_000, info.id, trade, version=3, position=TAMPERED)
        result = await store.append([squatter])
        assert (result.first_position, result.last_position) == (LAST + 1, LAST + 1)
        stored = [e async for e in store.read(EventFilter(after_position=LAST))]
        assert [(e.position, e.version) for e in stored] == [(LAST + 1, 16)]
        (fifteen,) = [e async for e in store.read(EventFilter(after_position=TAMPERED - 1, until_position=TAMPERED))]
        assert fifteen.id != squatter.id
        assert (await store.verify()).ok
    finally:
        await store.close()


# -- what verify() detects ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_changed_payload_that_still_decodes_is_reported_at_its_batch(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        (payload,) = con.execute("SELECT payload FROM events WHERE position = ?", (TAMPERED,)).fetchone()
        assert b"58013.0" in payload
        con.execute("UPDATE events SET payload = ? WHERE position = ?", (payload.replace(b"58013", b"58113"), TAMPERED))

    store = await open_sqlite_store(log)
    try:
        changed = [e async for e in store.read(EventFilter(after_position=TAMPERED - 1, until_position=TAMPERED))]
        assert isinstance(changed[0].payload, Trade)
        assert changed[0].payload.price == 58113.0  # the change is real and readable
        report = await store.verify()
    finally:
        await store.close()
    _assert_broken(report, BATCH_3_FIRST, "batch 3", "12..21", "hash")
    assert report.batches == 2  # the batches before the bad one were checked


@pytest.mark.asyncio
async def test_bit_flip_that_breaks_the_payload_is_reported_at_its_position(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        (payload,) = con.execute("SELECT payload FROM events WHERE position = ?", (TAMPERED,)).fetchone()
        flipped = bytes([payload[0] ^ 0x01]) + payload[1:]
        con.execute("UPDATE events SET payload = ? WHERE position = ?", (flipped, TAMPERED))
    _assert_broken(await _verify(log), TAMPERED, "Trade", f"position {TAMPERED}")


@pytest.mark.parametrize(("deleted", "first_missing"), [(1, LAST), (5, LAST - 4), (15, LAST - 14)])
@pytest.mark.asyncio
async def test_truncated_tail_is_reported_at_the_first_missing_position(
    log: Path, deleted: int, first_missing: int
) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("DELETE FROM events WHERE position > ?", (LAST - deleted,))
    _assert_broken(await _verify(log), first_missing, "missing", str(first_missing))


@pytest.mark.parametrize("position", [1, 2, TAMPERED, 21, 22])
@pytest.mark.asyncio
async def test_row_deleted_in_the_middle_is_reported_at_its_position(log: Path, position: int) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("DELETE FROM events WHERE position = ?", (position,))
    _assert_broken(await _verify(log), position, "missing", str(position))


@pytest.mark.asyncio
async def test_changed_ts_event_is_reported_at_its_batch(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("UPDATE events SET ts_event = ts_event - 1 WHERE position = ?", (TAMPERED,))
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3", "hash")


@pytest.mark.asyncio
async def test_changed_ts_recv_is_reported_at_its_batch(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("UPDATE events SET ts_recv = 0 WHERE position = ?", (TAMPERED,))
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3", "hash")


@pytest.mark.asyncio
async def test_event_moved_to_another_known_stream_is_reported_at_its_batch(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        stream_a = _stream_seq(con, STREAM_A)
        # Version 100 keeps the (stream, version) index happy: only the stream changes meaningfully.
        con.execute("UPDATE events SET stream = ?, version = 100 WHERE position = ?", (stream_a, TAMPERED))
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3", "hash")


@pytest.mark.asyncio
async def test_event_moved_to_another_stream_without_touching_the_version(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("DROP INDEX events_stream_version")
        con.execute("UPDATE events SET stream = ? WHERE position = ?", (_stream_seq(con, STREAM_A), TAMPERED))
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3", "hash")


@pytest.mark.parametrize("column", ["stream", "kind", "session"])
@pytest.mark.asyncio
async def test_row_pointing_at_an_unknown_catalog_number_is_reported_at_its_position(log: Path, column: str) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute(f"UPDATE events SET {column} = 99 WHERE position = ?", (TAMPERED,))
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position in (TAMPERED, BATCH_3_FIRST), report


@pytest.mark.parametrize("column", ["stream", "kind", "session"])
@pytest.mark.asyncio
async def test_row_pointing_at_an_unknown_catalog_number_is_detected(log: Path, column: str) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute(f"UPDATE events SET {column} = 99 WHERE position = ?", (TAMPERED,))
    report = await _verify(log)
    assert not report.ok
    assert "99" in report.problem
    assert "\n" not in report.problem


@pytest.mark.asyncio
async def test_rogue_row_after_the_last_batch_is_reported(log: Path) -> None:
    with _raw(log) as con:  # inserts pass the triggers: only the chain can tell
        row = list(con.execute("SELECT * FROM events WHERE position = ?", (TAMPERED,)).fetchone())
        row[0], row[1], row[3] = LAST + 1, "rogue-event-id", 1_000
        con.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", row)
    _assert_broken(await _verify(log), LAST + 1, "no committed batch")


@pytest.mark.asyncio
async def test_rogue_row_far_beyond_the_last_batch_is_reported(log: Path) -> None:
    with _raw(log) as con:
        row = list(con.execute("SELECT * FROM events WHERE position = ?", (TAMPERED,)).fetchone())
        row[0], row[1], row[3] = 10_000, "rogue-event-id", 1_000
        con.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", row)
    _assert_broken(await _verify(log), LAST + 1, "no committed batch")


@pytest.mark.asyncio
async def test_edited_stream_version_counter_is_reported(log: Path) -> None:
    with _raw(log) as con:  # the streams table is bookkeeping, not protected by triggers
        con.execute("UPDATE streams SET version = version + 3 WHERE name = ?", (STREAM_B,))
    _assert_broken(await _verify(log), None, STREAM_B, "version 18")


@pytest.mark.asyncio
async def test_edited_session_stream_count_is_reported(log: Path) -> None:
    with _raw(log) as con:
        con.execute("UPDATE session_streams SET events = events - 1 WHERE stream = ?", (_stream_seq(con, STREAM_A),))
    _assert_broken(await _verify(log), None, STREAM_A, "records 14")


@pytest.mark.asyncio
async def test_rewritten_batch_hash_is_reported(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("UPDATE batches SET hash = zeroblob(32) WHERE seq = 4")
    report = await _verify(log)
    _assert_broken(report, 22, "batch 4", "hash")
    assert report.batches == 3


@pytest.mark.asyncio
async def test_batch_boundaries_edited_are_reported(log: Path) -> None:
    with _raw(log, drop_triggers=True) as con:
        con.execute("UPDATE batches SET first_position = 13 WHERE seq = 3")
    _assert_broken(await _verify(log), BATCH_3_FIRST, "batch 3")
