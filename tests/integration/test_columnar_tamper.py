"""The tamper table of the columnar layout: raw edits of a real columnar log, each caught by ``verify()``.

The log is the row tamper table's (tests/integration/test_store_tamper.py) written
in the columnar layout with a key: 8 batches, two sessions, two trade streams, one
batch mixing both streams (so it is two blobs). Ending the sessions sealed their
runs of blobs: session A's BTC trades (positions 2..26, three commits) and each
session's lifecycle events are segments, the ETH trades live blobs (9..13, 15..20). Each case edits a copy with the
stdlib ``sqlite3`` module, triggers dropped first (they stop accidents, not people),
and the copy must fail ``verify()`` with and without the key. The untouched log
verifies with the head the row layout gives the same appends.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.test_store_tamper import KEY, _build
from virtuoso.errors import AppendOnlyError, UsageError
from virtuoso.events import Event, Trade
from virtuoso.store import VerifyReport, open_sqlite_store
from virtuoso.store._batch_codec import decode_batch, encode_batch
from virtuoso.store._columnar_ids import id_keys
from virtuoso.store._schema import COLUMNAR_SCHEMA


async def _verify(path: Path, key: bytes | None) -> VerifyReport:
    store = await open_sqlite_store(path, readonly=True, key=key)
    try:
        return await store.verify()
    finally:
        await store.close()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The untouched columnar log and its head, checked against the row layout's."""
    folder = tmp_path_factory.mktemp("columnar-tamper")
    heads = []
    for layout in ("rows", "columnar"):
        path = folder / f"{layout}.sqlite"
        asyncio.run(_build(path, layout))
        report = asyncio.run(_verify(path, KEY))
        assert report.ok, report.problem
        heads.append(report.head)
    assert heads[0] == heads[1]
    return folder / "columnar.sqlite", heads[1]


def _blob(db: sqlite3.Connection, first_position: int) -> tuple[int, bytes]:
    seq, data = db.execute("SELECT seq, data FROM blobs WHERE first_position = ?", (first_position,)).fetchone()
    return int(seq), bytes(data)


def _flip_byte(db: sqlite3.Connection) -> None:
    seq, data = _blob(db, 2)
    middle = len(data) // 2
    db.execute(
        "UPDATE blobs SET data = ? WHERE seq = ?", (data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :], seq)
    )


def _reencoded_price(db: sqlite3.Connection) -> None:
    seq, data = _blob(db, 2)
    events = decode_batch(data)
    changed = Trade(999.0, 0.5, "buy", "2")
    events[2] = Event(events[2].id, events[2].stream, events[2].ts_event, events[2].ts_recv, events[2].session, changed,
                      None, events[2].version, events[2].position)  # fmt: skip
    db.execute("UPDATE blobs SET data = ? WHERE seq = ?", (encode_batch(events), seq))


def _swap_blobs(db: sqlite3.Connection) -> None:
    first, one = _blob(db, 2)
    second, other = _blob(db, 15)
    db.execute("UPDATE blobs SET data = ? WHERE seq = ?", (other, first))
    db.execute("UPDATE blobs SET data = ? WHERE seq = ?", (one, second))


def _insert_behind(db: sqlite3.Connection) -> None:
    _, data = _blob(db, 15)
    last = decode_batch(data)[-1]
    late = Event("late-id", last.stream, last.ts_event + 1, last.ts_event + 1, last.session,
                 Trade(1.0, 1.0, "buy", "late"), None, last.version + 1, 29)  # fmt: skip
    stream = db.execute("SELECT stream, kinds FROM blobs WHERE first_position = 15").fetchone()
    db.execute(
        "INSERT INTO blobs VALUES (NULL,?,?,?,?,?,?,?,?,?,?)",
        (
            stream[0],
            29,
            29,
            late.version,
            late.version,
            late.ts_event,
            late.ts_event,
            1,
            stream[1],
            encode_batch([late]),
        ),
    )
    db.execute("INSERT INTO ids VALUES (?, ?)", (id_keys(["late-id"], COLUMNAR_SCHEMA)[0], 29))


CASES: dict[str, Callable[[sqlite3.Connection], object]] = {
    "blob byte flipped": _flip_byte,
    "blob re-encoded with another price": _reencoded_price,
    "blob deleted": lambda db: db.execute("DELETE FROM blobs WHERE first_position = 15"),
    "segment deleted": lambda db: db.execute("DELETE FROM blobs WHERE first_position = 2"),
    "blob stored twice": lambda db: db.execute(
        "INSERT INTO blobs SELECT NULL, stream, first_position, last_position, first_version, last_version,"
        " min_ts_event, max_ts_event, count, kinds, data FROM blobs WHERE first_position = 9"
    ),
    "two blobs' data swapped": _swap_blobs,
    "blob index row's time range edited": lambda db: db.execute(
        "UPDATE blobs SET min_ts_event = min_ts_event + 1 WHERE first_position = 2"
    ),
    "blob index row's kinds edited": lambda db: db.execute("UPDATE blobs SET kinds = '1' WHERE first_position = 2"),
    "blob moved to the other stream": lambda db: db.execute(
        "UPDATE blobs SET stream = (SELECT max(stream) FROM blobs) WHERE first_position = 2"
    ),
    "id index position edited": lambda db: db.execute("UPDATE ids SET position = position + 1 WHERE position = 4"),
    "id index entry deleted": lambda db: db.execute("DELETE FROM ids WHERE position = 4"),
    "id index entry added": lambda db: db.execute("INSERT INTO ids VALUES (12345, 4)"),
    "blob and id inserted after the last batch": _insert_behind,
    "stream counter edited": lambda db: db.execute("UPDATE streams SET version = version + 1 WHERE seq = 2"),
    "session status edited": lambda db: db.execute("UPDATE sessions SET status = 'open' WHERE seq = 1"),
    "session name edited": lambda db: db.execute("UPDATE sessions SET name = 'other' WHERE seq = 1"),
    "kind renamed in the catalog": lambda db: db.execute("UPDATE kinds SET type = 'Quote' WHERE type = 'Trade'"),
    "batch hash changed": lambda db: db.execute("UPDATE batches SET hash = zeroblob(32) WHERE seq = 3"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("key", [None, KEY], ids=["no key", "key"])
def test_every_edit_fails_verify(original: tuple[Path, str], tmp_path: Path, case: str, key: bytes | None) -> None:
    path = tmp_path / "copy.sqlite"
    shutil.copy(original[0], path)
    with closing(sqlite3.connect(path)) as db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        CASES[case](db)
        db.commit()
    report = asyncio.run(_verify(path, key))
    assert not report.ok, case
    assert report.problem


def test_the_untouched_log_verifies_with_the_row_layouts_head(original: tuple[Path, str]) -> None:
    for key in (None, KEY):
        report = asyncio.run(_verify(original[0], key))
        assert (report.ok, report.head, report.events, report.batches) == (True, original[1], 28, 8)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE blobs SET data = x'00' WHERE first_position = 2",
        "DELETE FROM blobs WHERE first_position = 2",
        "UPDATE ids SET position = 1",
        "DELETE FROM ids",
        "UPDATE batches SET hash = zeroblob(32)",
        "DELETE FROM batches",
    ],
)
def test_triggers_refuse_changes(original: tuple[Path, str], tmp_path: Path, statement: str) -> None:
    path = tmp_path / "copy.sqlite"
    shutil.copy(original[0], path)
    with closing(sqlite3.connect(path)) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(statement)


def test_a_row_log_keeps_its_layout(original: tuple[Path, str], tmp_path: Path) -> None:
    rows = original[0].with_name("rows.sqlite")
    with pytest.raises(UsageError, match="a rows log; layout='columnar' applies to new logs only"):
        asyncio.run(open_sqlite_store(rows, layout="columnar"))
    with pytest.raises(UsageError, match="a columnar log"):
        asyncio.run(open_sqlite_store(original[0], layout="rows", readonly=True))


def test_append_only_error_through_the_store(original: tuple[Path, str], tmp_path: Path) -> None:
    path = tmp_path / "copy.sqlite"
    shutil.copy(original[0], path)

    async def run() -> None:
        store = await open_sqlite_store(path, key=KEY)
        try:
            assert type(store._backend).__name__ == "ColumnarBackend"
            with pytest.raises(AppendOnlyError):
                await store._backend._transaction(  # type: ignore[attr-defined]
                    lambda db: db.execute("DELETE FROM blobs")
                )
            assert (await store.verify()).ok
        finally:
            await store.close()

    asyncio.run(run())


def test_a_read_only_open_leaves_no_trace(original: tuple[Path, str], tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "events.sqlite"
    shutil.copy(original[0], path)
    before = sorted(p.name for p in folder.iterdir())
    content = path.read_bytes()

    async def read() -> tuple[int, bool]:
        store = await open_sqlite_store(path, readonly=True)
        try:
            return len([e async for e in store.read()]), (await store.verify()).ok
        finally:
            await store.close()

    assert asyncio.run(read()) == (28, True)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert path.read_bytes() == content
