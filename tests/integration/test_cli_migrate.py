"""``virtuoso migrate``: a real capture's row log rewritten into the columnar layout, proven, and its misuse."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import new_row_log, require_data
from tests.integration._cli import cli, cli_json
from virtuoso.store import open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/ethusdt_20240809.gz"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def row_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A row-layout log of one real capture (46,126 events), made by the importer."""
    path = new_row_log(tmp_path_factory.mktemp("migrate") / "rows.sqlite")
    result = cli("import", "binance-capture", require_data(CAPTURE), "--db", path)
    assert result.exit_code == 0, result.output
    return path


def test_a_capture_log_is_migrated_with_the_same_head_and_replay_digests(row_log: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.sqlite"
    shutil.copy(row_log, source)
    before = _digest(source)
    copy = tmp_path / "columnar.sqlite"
    (tmp_path / ".columnar.sqlite.partial").write_bytes(b"half a copy, left by a migration killed before")

    report = cli_json("migrate", "--db", source, "--to", copy)

    assert report["ok"] is True
    assert report["events"] > 46_126  # the capture's events and the session's lifecycle events
    verified = cli_json("sessions", "verify", "--db", copy)
    assert (verified["ok"], verified["head"]) == (True, report["head"])
    assert cli_json("sessions", "verify", "--db", source)["head"] == report["head"]
    [replayed] = report["replays"]
    assert replayed["source"] == replayed["copy"]
    assert len(replayed["source"]) == 64  # a digest, not an error both sides shared
    assert report["bytes_copy"] * 4 < report["bytes_source"]
    assert _digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["columnar.sqlite", "rows.sqlite"]  # nothing beside either


def test_text_output_names_what_was_proven(row_log: Path, tmp_path: Path) -> None:
    result = cli("migrate", "--db", row_log, "--to", tmp_path / "c.sqlite", "--skip-replays")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["migrated", "events", "head", "bytes", "replays"]
    assert lines[-1].endswith("not run (--skip-replays)")


async def _leave_a_session_open(row_log: Path, path: Path) -> None:
    """A copy of ``row_log`` with a session this (running) process opened and has not ended."""
    shutil.copy(row_log, path)
    store = await open_sqlite_store(path)
    try:
        await store.begin_session("live", "tests", started_ns=1, session_id="s-live")
    finally:
        await store.close()


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not an event log, just bytes" * 100)
    return path


def _damaged(row_log: Path, path: Path) -> Path:
    shutil.copy(row_log, path)
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("UPDATE events SET ts_recv = ts_recv + 1 WHERE position = 40")
        db.commit()
    return path


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("the copy exists", 1, r"c\.sqlite exists: migrate writes a new log and never overwrites a file \(--to "),
        ("no source", 1, r"no such file \(--db .*missing\.sqlite\)"),
        ("not a log", 1, r"garbage\.sqlite: damaged or not a SQLite database"),
        ("a damaged source", 1, r"does not verify .*not migrated"),
        ("already columnar", 1, r"already a columnar log: nothing to migrate \(.*columnar\.sqlite\)"),
        ("being recorded", 1, r"session s-live is being recorded \(by .*:\d+:.*\); migrate a log once nothing writes"),
    ],
)
def test_misuse_is_one_line_and_leaves_no_copy(
    row_log: Path, tmp_path: Path, case: str, code: int, message: str
) -> None:
    copy = tmp_path / "c.sqlite"
    source = {
        "the copy exists": row_log,
        "no source": tmp_path / "missing.sqlite",
        "not a log": _garbage(tmp_path / "garbage.sqlite"),
        "a damaged source": _damaged(row_log, tmp_path / "damaged.sqlite"),
        "already columnar": tmp_path / "columnar.sqlite",
        "being recorded": tmp_path / "live.sqlite",
    }[case]
    if case == "being recorded":
        asyncio.run(_leave_a_session_open(row_log, source))
    if case == "the copy exists":
        copy.write_bytes(b"precious")
    if case == "already columnar":
        assert cli("migrate", "--db", row_log, "--to", source, "--skip-replays").exit_code == 0
    kept = {p.name: _digest(p) for p in tmp_path.iterdir()}

    result = cli("migrate", "--db", source, "--to", copy)

    assert result.exit_code == code, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert re.search(message, line), line
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == kept  # nothing written, nothing left beside
