"""The tamper table: raw edits of a real log, each caught by ``verify()``.

Each case edits a copy of one log with the stdlib ``sqlite3`` module, as anyone
holding the file could (triggers dropped first: they stop accidents, not people).
Without a key, every case must fail ``verify()`` or change the head; with the
key the log was written with, every case must fail ``verify()``, except a
consistent truncation of the tail, which only a head kept elsewhere reveals
(``verify(expect_head=...)``). docs/store.md holds the same table.

The log (batch = one append):

=====  =========  ==============================================
batch  positions  content
=====  =========  ==============================================
1      1          SessionStarted of session A
2      2..7       6 trades of A, stream BTC
3      8..13      6 trades of A, streams BTC and ETH alternating
4      14         SessionStarted of session B
5      15..20     6 trades of B, stream ETH
6      21..26     6 trades of A, stream BTC
7      27         SessionEnded of A
8      28         SessionEnded of B
=====  =========  ==============================================
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.store import VerifyReport, open_sqlite_store
from virtuoso.store._chain import GENESIS, batch_hash
from virtuoso.store._rows import Catalog, context_for, started_sessions

KEY = b"a key of at least sixteen bytes!"
BTC = "test:BTC/USDT:trades"
ETH = "test:ETH/USDT:trades"
LAST = 28
HEADERS = "SELECT seq, id, name, source, symbols, channels, manifest, config_hash, started_ns FROM sessions"
ROWS = (
    "SELECT position, id, stream, version, kind, ts_event, ts_recv, session, causation, payload"
    " FROM events WHERE position BETWEEN ? AND ? ORDER BY position"
)


def _trades(session: str, ids: EventIdFactory, streams: list[str], start: int) -> list[Event]:
    return [
        Event(ids(start + n), stream, start + n, start + n + 7, session, Trade(100.0 + start + n, 0.5, "buy", str(n)))
        for n, stream in enumerate(streams)
    ]


async def _build(path: Path, layout: str = "rows") -> None:
    """The tamper table's log (also the columnar table's, in that layout): 8 batches, two sessions, two streams."""
    store = await open_sqlite_store(path, key=KEY, layout=layout)  # type: ignore[arg-type]
    try:
        a = await store.begin_session("alpha", "tests", started_ns=1_000, config={"exchange": "binance", "limit": 5})
        ids_a = EventIdFactory(a.id)
        await store.append(_trades(a.id, ids_a, [BTC] * 6, 2_000))
        await store.append(_trades(a.id, ids_a, [BTC, ETH] * 3, 3_000))
        b = await store.begin_session("beta", "tests", started_ns=4_000, symbols=["ETH/USDT"])
        await store.append(_trades(b.id, EventIdFactory(b.id), [ETH] * 6, 5_000))
        await store.append(_trades(a.id, ids_a, [BTC] * 6, 6_000))
        await store.end_session(a.id, ended_ns=7_000)
        await store.end_session(b.id, ended_ns=8_000, reason="done")
    finally:
        await store.close()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The untouched log and its head."""
    path = tmp_path_factory.mktemp("tamper") / "events.sqlite"
    asyncio.run(_build(path))
    report = asyncio.run(_verify(path, KEY))
    assert (report.ok, report.events, report.batches) == (True, LAST, 8), report
    return path, report.head


async def _verify(path: Path, key: bytes | None, expect_head: str | None = None) -> VerifyReport:
    store = await open_sqlite_store(path, readonly=True, key=key)
    try:
        return await store.verify(expect_head=expect_head)
    finally:
        await store.close()


# -- helpers an attacker would write ---------------------------------------------------


def _drop_triggers(con: sqlite3.Connection) -> None:
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")


def _rehash(con: sqlite3.Connection) -> None:
    """Recompute every batch hash from the rows and catalog as they now are (no key: MACs stay)."""
    catalog = Catalog()
    for seq, name in con.execute("SELECT seq, name FROM streams"):
        catalog.add_stream(seq, name)
    for seq, type_name, schema in con.execute("SELECT seq, type, schema FROM kinds"):
        catalog.add_kind(seq, type_name, schema)
    for seq, session_id in con.execute("SELECT seq, id FROM sessions"):
        catalog.add_session(seq, session_id)
    headers = {row[0]: row for row in con.execute(HEADERS)}
    (first_bound,) = con.execute("SELECT first_bound_batch FROM chain_meta").fetchone()
    head = GENESIS
    for seq, first, last in con.execute(
        "SELECT seq, first_position, last_position FROM batches ORDER BY seq"
    ).fetchall():
        columns = [list(c) for c in zip(*con.execute(ROWS, (first, last)).fetchall(), strict=True)]
        used = (set(columns[2]), set(columns[4]), set(columns[7]))
        started = started_sessions(columns[4], columns[7], used, catalog)
        context = context_for(used, catalog, [headers[n] for n in started]) if seq >= first_bound else b""
        head = batch_hash(head, columns, context)
        con.execute("UPDATE batches SET hash = ? WHERE seq = ?", (head, seq))


def _one(con: sqlite3.Connection, sql: str, *params: object) -> object:
    return con.execute(sql, params).fetchone()[0]


def _stream(con: sqlite3.Connection, name: str) -> int:
    return int(_one(con, "SELECT seq FROM streams WHERE name = ?", name))  # type: ignore[call-overload]


def _session_seq(con: sqlite3.Connection, name: str) -> int:
    return int(_one(con, "SELECT seq FROM sessions WHERE name = ?", name))  # type: ignore[call-overload]


def _set_price(con: sqlite3.Connection, position: int, price: str) -> None:
    payload = bytes(_one(con, "SELECT payload FROM events WHERE position = ?", position))  # type: ignore[call-overload]
    head, _, rest = payload.partition(b",")
    con.execute(
        "UPDATE events SET payload = ? WHERE position = ?", (b'{"price":' + price.encode() + b"," + rest, position)
    )
    assert head.startswith(b'{"price":')


def _truncate_after(con: sqlite3.Connection, batch: int) -> None:
    """Remove every batch after ``batch`` and fix every counter: a consistent, shorter log."""
    (last,) = con.execute("SELECT last_position FROM batches WHERE seq = ?", (batch,)).fetchone()
    con.execute("DELETE FROM events WHERE position > ?", (last,))
    con.execute("DELETE FROM batches WHERE seq > ?", (batch,))
    con.execute("UPDATE streams SET version = (SELECT count(*) FROM events e WHERE e.stream = streams.seq)")
    con.execute("DELETE FROM session_streams")
    con.execute(
        "INSERT INTO session_streams SELECT session, stream, count(*), min(ts_event), max(ts_event),"
        " min(position), max(position) FROM events GROUP BY session, stream"
    )
    con.execute("DELETE FROM streams WHERE version = 0")
    con.execute(
        "UPDATE sessions SET status = 'open', ended_ns = NULL, end_reason = ''"
        " WHERE NOT EXISTS (SELECT 1 FROM events e JOIN kinds k ON k.seq = e.kind"
        " WHERE k.type = 'SessionEnded' AND e.session = sessions.seq)"
    )


def _insert_trade_at_end(con: sqlite3.Connection) -> None:
    btc = _stream(con, BTC)
    version = int(_one(con, "SELECT version FROM streams WHERE seq = ?", btc)) + 1  # type: ignore[call-overload]
    kind = _one(con, "SELECT kind FROM events WHERE position = 2")
    session = _session_seq(con, "alpha")
    con.execute(
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            LAST + 1,
            "forged",
            btc,
            version,
            kind,
            9_000,
            9_001,
            session,
            None,
            b'{"price":1.0,"amount":9.0,"side":"buy","trade_id":"x"}',
        ),
    )
    con.execute("UPDATE streams SET version = ? WHERE seq = ?", (version, btc))
    con.execute("UPDATE session_streams SET events = events + 1 WHERE session = ? AND stream = ?", (session, btc))


def _insert_trade_with_batch(con: sqlite3.Connection) -> None:
    _insert_trade_at_end(con)
    (seq,) = con.execute("SELECT max(seq) + 1 FROM batches").fetchone()
    con.execute("INSERT INTO batches VALUES (?,?,?,?,NULL)", (seq, LAST + 1, LAST + 1, bytes(32)))
    _rehash(con)


def _swap_session_ids(con: sqlite3.Connection) -> None:
    a, b = (str(_one(con, "SELECT id FROM sessions WHERE name = ?", n)) for n in ("alpha", "beta"))
    con.execute("UPDATE sessions SET id = 'tmp' WHERE id = ?", (a,))
    con.execute("UPDATE sessions SET id = ? WHERE id = ?", (a, b))
    con.execute("UPDATE sessions SET id = ? WHERE id = 'tmp'", (b,))


def _swap_payloads(con: sqlite3.Connection, p: int, q: int) -> None:
    x, y = (_one(con, "SELECT payload FROM events WHERE position = ?", n) for n in (p, q))
    con.execute("UPDATE events SET payload = ? WHERE position = ?", (y, p))
    con.execute("UPDATE events SET payload = ? WHERE position = ?", (x, q))


def _swap_batch_hashes(con: sqlite3.Connection) -> None:
    x, y = (_one(con, "SELECT hash FROM batches WHERE seq = ?", n) for n in (2, 3))
    con.execute("UPDATE batches SET hash = ? WHERE seq = 2", (y,))
    con.execute("UPDATE batches SET hash = ? WHERE seq = 3", (x,))


def _edit_manifest(con: sqlite3.Connection, old: str, new: str) -> None:
    con.execute("UPDATE sessions SET manifest = replace(manifest, ?, ?) WHERE name = 'alpha'", (old, new))
    assert con.total_changes


def _rename_stream(con: sqlite3.Connection) -> None:
    con.execute("UPDATE streams SET name = 'test:XRP/USDT:trades' WHERE name = ?", (BTC,))


def _insert_or_replace_event(con: sqlite3.Connection) -> None:
    row = list(con.execute("SELECT * FROM events WHERE position = 5").fetchone())
    row[9] = row[9].replace(b'"side":"buy"', b'"side":"sell"')
    con.execute("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", row)


Edit = Callable[[sqlite3.Connection], object]

CASES: dict[str, Edit] = {
    "price digit changed (payload still valid)": lambda c: _set_price(c, 5, "104.5"),
    "payload byte flipped (invalid JSON)": lambda c: c.execute(
        "UPDATE events SET payload = substr(payload, 2) WHERE position = 9"
    ),
    "ts_event changed": lambda c: c.execute("UPDATE events SET ts_event = ts_event + 1 WHERE position = 10"),
    "ts_recv changed": lambda c: c.execute("UPDATE events SET ts_recv = ts_recv - 1 WHERE position = 16"),
    "event id changed": lambda c: c.execute("UPDATE events SET id = 'other' WHERE position = 3"),
    "event moved to another stream": lambda c: c.execute(
        "UPDATE events SET stream = (SELECT seq FROM streams WHERE name = ?), version = 99 WHERE position = 4", (ETH,)
    ),
    "event kind changed": lambda c: c.execute(
        "UPDATE events SET kind = (SELECT kind FROM events WHERE position = 1) WHERE position = 6"
    ),
    "event moved to another session": lambda c: c.execute(
        "UPDATE events SET session = (SELECT seq FROM sessions WHERE name = 'beta') WHERE position = 22"
    ),
    "causation added": lambda c: c.execute("UPDATE events SET causation = 2 WHERE position = 7"),
    "middle row deleted": lambda c: c.execute("DELETE FROM events WHERE position = 11"),
    "last row deleted": lambda c: c.execute("DELETE FROM events WHERE position = ?", (LAST,)),
    "middle batch deleted (rows and batch)": lambda c: (
        c.execute("DELETE FROM events WHERE position BETWEEN 8 AND 13"),
        c.execute("DELETE FROM batches WHERE seq = 3"),
    ),
    "two payloads swapped within a batch": lambda c: _swap_payloads(c, 3, 4),
    "two payloads swapped across batches": lambda c: _swap_payloads(c, 5, 22),
    "two batch hashes swapped": _swap_batch_hashes,
    "batch hash bytes changed": lambda c: c.execute("UPDATE batches SET hash = zeroblob(32) WHERE seq = 5"),
    "trade inserted after the last batch": _insert_trade_at_end,
    "trade inserted with a re-hashed batch": _insert_trade_with_batch,
    "re-hashed rewrite of the middle": lambda c: (_set_price(c, 9, "1.0"), _rehash(c)),
    "re-hashed rewrite of the tail": lambda c: (_set_price(c, 26, "1.0"), _rehash(c)),
    "stream renamed": _rename_stream,
    "stream renamed and re-hashed": lambda c: (_rename_stream(c), _rehash(c)),
    "kind renamed in the catalog": lambda c: c.execute("UPDATE kinds SET type = 'Note' WHERE type = 'Trade'"),
    "kind schema changed in the catalog": lambda c: c.execute(
        "UPDATE kinds SET schema = schema + 1 WHERE type = 'Trade'"
    ),
    "two sessions' ids swapped": _swap_session_ids,
    "manifest config edited": lambda c: _edit_manifest(c, '"limit":5', '"limit":6'),
    "manifest version field edited": lambda c: _edit_manifest(c, '"python":"', '"python":"9'),
    "session name edited": lambda c: c.execute("UPDATE sessions SET name = 'gamma' WHERE name = 'alpha'"),
    "session source edited": lambda c: c.execute("UPDATE sessions SET source = 'binance' WHERE name = 'beta'"),
    "session symbols edited": lambda c: c.execute("UPDATE sessions SET symbols = '[\"BTC/USDT\"]' WHERE name = 'beta'"),
    "session status edited": lambda c: c.execute("UPDATE sessions SET status = 'crashed' WHERE name = 'beta'"),
    "session end reason edited": lambda c: c.execute("UPDATE sessions SET end_reason = 'fine' WHERE name = 'beta'"),
    "session end time edited": lambda c: c.execute("UPDATE sessions SET ended_ns = 7500 WHERE name = 'alpha'"),
    "session start time edited": lambda c: c.execute("UPDATE sessions SET started_ns = 900 WHERE name = 'alpha'"),
    "stream counter edited": lambda c: c.execute("UPDATE streams SET version = version + 1 WHERE name = ?", (ETH,)),
    "chain format record edited": lambda c: c.execute("UPDATE chain_meta SET first_bound_batch = 4"),
    "INSERT OR REPLACE of an event": _insert_or_replace_event,
    "tail truncated consistently (counters fixed)": lambda c: _truncate_after(c, 6),
}
TRUNCATION = "tail truncated consistently (counters fixed)"
KEEPS_TRIGGERS = {"INSERT OR REPLACE of an event"}


def _tampered(original: Path, tmp_path: Path, case: str) -> Path:
    copy = tmp_path / "events.sqlite"
    shutil.copyfile(original, copy)
    with closing(sqlite3.connect(copy)) as con:
        if case not in KEEPS_TRIGGERS:
            _drop_triggers(con)
        CASES[case](con)
        con.commit()
    return copy


def test_the_table_has_every_kind_of_edit_the_issue_names() -> None:
    assert len(CASES) >= 27


@pytest.mark.parametrize("case", list(CASES))
def test_each_edit_fails_verify_or_changes_the_head(original: tuple[Path, str], tmp_path: Path, case: str) -> None:
    path, head = original
    report = asyncio.run(_verify(_tampered(path, tmp_path, case), None))
    assert not report.ok or report.head != head, f"{case}: verify says intact with the same head"


@pytest.mark.parametrize("case", list(CASES))
def test_with_the_key_each_edit_fails_verify(original: tuple[Path, str], tmp_path: Path, case: str) -> None:
    path, head = original
    tampered = _tampered(path, tmp_path, case)
    report = asyncio.run(_verify(tampered, KEY))
    if case == TRUNCATION:
        # Every remaining batch is genuine: only the head kept elsewhere shows what is gone.
        assert report.ok
        assert report.head != head
        report = asyncio.run(_verify(tampered, KEY, expect_head=head))
    assert not report.ok, f"{case}: verify with the key says intact"
    assert KEY.decode() not in report.problem


def test_the_untouched_copy_verifies_with_and_without_the_key(original: tuple[Path, str], tmp_path: Path) -> None:
    path, head = original
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)
    for key in (None, KEY):
        report = asyncio.run(_verify(copy, key, expect_head=head))
        assert (report.ok, report.head, report.keyed) == (True, head, key is not None)
    wrong = asyncio.run(_verify(copy, b"another key, also long enough"))
    assert not wrong.ok
    assert "MAC" in wrong.problem
    assert KEY not in copy.read_bytes()


def test_docs_store_md_lists_every_case() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "store.md").read_text()
    missing = [case for case in CASES if f"| {case} |" not in table]
    assert not missing, f"docs/store.md's tamper table lacks {missing}"
