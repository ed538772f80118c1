"""``virtuoso sessions list|show|verify`` against real SQLite event logs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import new_row_log
from tests.integration._cli import cli, cli_json
from virtuoso.events import Event, EventIdFactory, Quote, Trade
from virtuoso.store import open_sqlite_store

START = 1_723_161_255_000_000_000
SECOND = 1_000_000_000
HOUR = 3600 * SECOND
TRADES = "binance:BTC/USDT:trades"
QUOTES = "csv:ETH/USDT:quotes"


async def _record(path: Path) -> tuple[str, str]:
    """Two closed sessions: five trades at START+1..5 s, then three quotes an hour later."""
    store = await open_sqlite_store(path)
    try:
        first = await store.begin_session(
            "morning",
            "binance",
            started_ns=START,
            symbols=("BTC/USDT",),
            channels=("trades",),
            config={"apiKey": "hunter2", "depth": 10},
        )
        ids = EventIdFactory(first.id)
        await store.append(
            [
                Event(
                    ids(START + i * SECOND),
                    TRADES,
                    START + i * SECOND,
                    START + i * SECOND + 7,
                    first.id,
                    Trade(58_000.0 + i, 0.01, "buy", str(i)),
                )
                for i in range(1, 6)
            ]
        )
        await store.end_session(first.id, ended_ns=START + 10 * SECOND, reason="done")
        second = await store.begin_session("evening", "csv", started_ns=START + HOUR, symbols=("ETH/USDT",))
        ids = EventIdFactory(second.id)
        for i in range(1, 4):
            ts = START + HOUR + i * SECOND
            await store.append([Event(ids(ts), QUOTES, ts, ts, second.id, Quote(2500.0, 1.0, 2500.5, 2.0, i))])
        await store.end_session(second.id, ended_ns=START + HOUR + 5 * SECOND)
        return first.id, second.id
    finally:
        await store.close()


@pytest.fixture
def log(db_path: Path) -> tuple[Path, str, str]:
    """An event log with two sessions, and their ids."""
    first, second = asyncio.run(_record(db_path))
    return db_path, first, second


# -- list ------------------------------------------------------------------------


def test_list_json_summarises_every_session(log: tuple[Path, str, str]) -> None:
    path, first, second = log

    morning, evening = cli_json("sessions", "list", "--db", path)

    assert {"id", "name", "source", "symbols", "status", "events", "first_ts_event", "last_ts_event"} <= set(morning)
    assert (morning["id"], morning["name"], morning["source"]) == (first, "morning", "binance")
    assert (morning["symbols"], morning["status"], morning["events"]) == (["BTC/USDT"], "closed", 7)
    assert (morning["first_ts_event"], morning["last_ts_event"]) == (START, START + 10 * SECOND)
    assert (evening["id"], evening["events"], evening["symbols"]) == (second, 5, ["ETH/USDT"])
    assert (evening["first_ts_event"], evening["last_ts_event"]) == (START + HOUR, START + HOUR + 5 * SECOND)


def test_list_table_piped_shows_whole_ids_and_utc_times(log: tuple[Path, str, str]) -> None:
    path, first, second = log

    result = cli("sessions", "list", "--db", path)

    assert result.exit_code == 0, result.output
    morning = next(line for line in result.stdout.splitlines() if "morning" in line)
    assert morning.startswith(f"{first}  ")  # piped: the whole id, for scripts
    assert "binance" in morning
    assert "closed" in morning
    assert " 7 " in morning
    assert "2024-08-08T23:54:15Z" in morning
    assert "2024-08-08T23:54:25Z" in morning
    assert second[:12] in result.stdout
    assert "2024-08-09T00:54:15Z" in result.stdout
    assert result.stderr == ""


# -- show ------------------------------------------------------------------------


def test_show_json_by_prefix_has_manifest_streams_and_span(log: tuple[Path, str, str]) -> None:
    path, first, _ = log

    shown = cli_json("sessions", "show", "--db", path, first[:6])

    assert shown["id"] == first
    assert shown["end_reason"] == "done"
    assert shown["manifest"]["config"] == {"apiKey": "***", "depth": 10}
    assert shown["config_hash"] == shown["manifest"]["config_hash"]
    assert shown["span_ns"] == 10 * SECOND
    assert shown["streams"][TRADES] == {
        "events": 5,
        "first_ts_event": START + SECOND,
        "last_ts_event": START + 5 * SECOND,
        "first_position": 2,
        "last_position": 6,
    }
    assert shown["streams"][f"system:{first}:lifecycle"]["events"] == 2


def test_show_text_lists_streams_and_time_span(log: tuple[Path, str, str]) -> None:
    path, _, second = log

    result = cli("sessions", "show", "--db", path, second)

    assert result.exit_code == 0, result.output
    assert second in result.stdout
    assert "evening" in result.stdout
    assert "2024-08-09T00:54:15.000Z .. 2024-08-09T00:54:20.000Z (5.000 s)" in result.stdout
    quotes = next(line for line in result.stdout.splitlines() if QUOTES in line)
    assert quotes.split()[1:4] == ["3", "9", "11"]


def test_show_unknown_session_is_one_error_line(log: tuple[Path, str, str]) -> None:
    path, _, _ = log

    result = cli("sessions", "show", "--db", path, "ffffffff")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: no session with id 'ffffffff' ({path})"]


# -- verify ----------------------------------------------------------------------


def test_verify_intact_log(log: tuple[Path, str, str]) -> None:
    path, _, _ = log

    text = cli("sessions", "verify", "--db", path)
    report = cli_json("sessions", "verify", "--db", path)

    assert text.exit_code == 0
    assert report["ok"] is True
    assert report["events"] == 12
    assert report["first_bad_position"] is None
    assert len(report["head"]) == 64
    assert report["head"] != "0" * 64
    assert f"{report['events']} events in {report['batches']} batches" in text.stdout
    assert report["head"] in text.stdout


def _tamper(path: Path, position: int) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("DROP TRIGGER events_no_update")
        (payload,) = db.execute("SELECT payload FROM events WHERE position = ?", (position,)).fetchone()
        changed = bytes(payload).replace(b"58002.0", b"58002.5")
        assert changed != bytes(payload)
        db.execute("UPDATE events SET payload = ? WHERE position = ?", (changed, position))
        db.commit()
    finally:
        db.close()


def test_verify_reports_tampering_with_its_position(tmp_path: Path) -> None:
    path = new_row_log(tmp_path / "rows.sqlite")  # edited in its events table
    asyncio.run(_record(path))
    _tamper(path, position=3)

    text = cli("sessions", "verify", "--db", path)
    report = json.loads(cli("sessions", "verify", "--db", path, "--json").stdout)

    # The trades were one batch (positions 2..6): the damage is located to its start.
    assert text.exit_code == 1
    assert "damaged at position 2:" in text.stdout
    assert "does not match its hash" in text.stdout
    assert report["ok"] is False
    assert report["first_bad_position"] == 2
    assert "positions 2..6" in report["problem"]


# -- bad input -------------------------------------------------------------------

COMMANDS = [("sessions", "list"), ("sessions", "verify"), ("sessions", "show", "abcd")]


def _bad_file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.sqlite"
    if kind == "text":
        path.write_text("timestamp,price\n1,58000\n")
    elif kind == "foreign":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE recipes (name TEXT)")
        db.commit()
        db.close()
    elif kind == "empty":
        path.touch()
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[1])
@pytest.mark.parametrize("kind", ["missing", "text", "foreign", "empty"])
def test_bad_db_is_one_error_line_naming_the_file(kind: str, command: tuple[str, ...], tmp_path: Path) -> None:
    path = _bad_file(kind, tmp_path)
    before = sorted(tmp_path.iterdir())
    content = path.read_bytes() if path.exists() else None

    group, name, *rest = command
    result = cli(group, name, "--db", path, *rest)

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0]
    assert result.stdout == ""
    assert sorted(tmp_path.iterdir()) == before, "nothing may be created next to the file"
    assert (path.read_bytes() if path.exists() else None) == content


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = _bad_file("text", tmp_path)

    proc = subprocess.run(
        [sys.executable, "-m", "virtuoso", "sessions", "verify", "--db", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert proc.returncode == 1
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: {path}: ")


# -- crashed sessions ------------------------------------------------------------

_ABANDON = """
import asyncio, sys
from virtuoso.store import open_sqlite_store

async def main():
    store = await open_sqlite_store(sys.argv[1])
    info = await store.begin_session("abandoned", "test", started_ns=int(sys.argv[2]))
    print(info.id)
    await store.close()

asyncio.run(main())
"""


def test_list_recovers_a_dead_process_session_and_says_so(log: tuple[Path, str, str]) -> None:
    path, _, _ = log
    made = subprocess.run(
        [sys.executable, "-c", _ABANDON, str(path), str(START + 2 * HOUR)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    abandoned = made.stdout.strip()

    def virtuoso(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "virtuoso", *args, "--db", str(path), "--json"]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)

    verified = virtuoso("sessions", "verify")
    listed = virtuoso("sessions", "list")
    again = virtuoso("sessions", "list")

    # verify opens read-only, so it must not be the one that recovers the session.
    assert verified.returncode == 0
    assert verified.stderr == ""
    assert listed.returncode == 0
    assert listed.stderr.splitlines() == [f"session {abandoned} was left open by a dead process: marked crashed"]
    statuses = {s["id"]: s["status"] for s in json.loads(listed.stdout)}
    assert statuses[abandoned] == "crashed"
    assert again.stderr == ""
    assert json.loads(again.stdout) == json.loads(listed.stdout)


def test_a_path_with_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    missing = tmp_path / "[x]" / "log.sqlite"
    result = cli("sessions", "list", "--db", missing)
    assert result.exit_code == 1
    assert f"no such file (--db {missing})" in result.stderr
    assert "\\[" not in result.stderr


LOG_KEY = "a log key, long enough to count"


async def _keyed_log(path: Path) -> None:
    store = await open_sqlite_store(path, key=LOG_KEY.encode())
    try:
        info = await store.begin_session("keyed", "tests", started_ns=1)
        await store.append(
            [Event(f"k{n}", "test:K", n, n, info.id, Trade(1.0 + n, 1.0, "buy", str(n))) for n in range(5)]
        )
    finally:
        await store.close()


def test_verify_checks_macs_with_the_key_and_a_head_kept_from_earlier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keyed.sqlite"
    asyncio.run(_keyed_log(path))
    key_file = tmp_path / "key"
    key_file.write_text(LOG_KEY + "\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("another key, just as long as the first\n")
    monkeypatch.delenv("VIRTUOSO_LOG_KEY", raising=False)

    head = cli_json("sessions", "head", "--db", path)
    keyed = cli("sessions", "verify", "--db", path, "--key-file", key_file, "--expect-head", head["head"])
    refused = cli("sessions", "verify", "--db", path, "--key-file", wrong)
    monkeypatch.setenv("VIRTUOSO_LOG_KEY", LOG_KEY)
    from_env = cli_json("sessions", "verify", "--db", path)
    unknown_head = cli("sessions", "verify", "--db", path, "--expect-head", "00" * 32)

    assert (head["position"], head["batches"], len(head["head"])) == (6, 2, 64)
    assert keyed.exit_code == 0, keyed.output
    assert "every batch's MAC checked with the key" in keyed.stdout
    assert refused.exit_code == 1
    assert "batch 1 (positions 1..1) fails its MAC" in refused.stdout
    assert (from_env["ok"], from_env["keyed"], from_env["head"]) == (True, True, head["head"])
    assert unknown_head.exit_code == 1
    assert "does not contain head 0000000000000000" in unknown_head.stdout
    for output in (keyed.output, refused.output, json.dumps(from_env), unknown_head.output):
        assert LOG_KEY not in output
    assert LOG_KEY.encode() not in path.read_bytes()


@pytest.mark.parametrize("content", [None, "short\n"])
def test_a_key_file_that_cannot_serve_is_one_line(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "keyed.sqlite"
    asyncio.run(_keyed_log(path))
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)

    result = cli("sessions", "verify", "--db", path, "--key-file", key_file)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert str(key_file) in line
