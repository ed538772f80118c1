"""``virtuoso book`` and ``virtuoso book checkpoint`` on a synthetic recorded session."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json
from virtuoso.book import SYNTHETIC_START_NS, book_at, synthetic_book_events
from virtuoso.cli._book import number
from virtuoso.cli._times import parse_time
from virtuoso.store import open_sqlite_store

SPOT = "binance:BTC/USDT:book"
FUTURES = "binanceusdm:BTC/USDT:USDT:book"
AT_MS = 1_723_161_300_000  # 2024-08-08T23:55:00Z, 45 s into the synthetic deltas


async def _record(path: Path) -> str:
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session("books", "test", started_ns=SYNTHETIC_START_NS - 1)
        for seed, stream in enumerate((SPOT, FUTURES)):
            await store.append(list(synthetic_book_events(info.id, stream, 6_000, seed=seed, levels=30)))
        await store.end_session(info.id, ended_ns=SYNTHETIC_START_NS + 10**11)
        return info.id
    finally:
        await store.close()


async def _expected(path: Path, session: str, stream: str, at_ns: int, depth: int) -> dict[str, object]:
    store = await open_sqlite_store(path, readonly=True)
    try:
        state = await book_at(store, session, stream, at_ns, depth=depth, use_checkpoints=False)
        return state.as_dict()
    finally:
        await store.close()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("book-cli") / "books.sqlite"
    return path, asyncio.run(_record(path))


@pytest.fixture
def recorded(original: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A copy of the recorded log for one test (some tests write checkpoints into it)."""
    path, session = original
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    return copy, session


def test_book_json_by_iso_time_and_by_epoch_ms_agree_with_a_full_replay(recorded: tuple[Path, str]) -> None:
    path, session = recorded
    by_iso = cli_json("book", "--db", path, "--session", session[:6], "--symbol", "BTC/USDT",
                      "--at", "2024-08-08T23:55:00Z", "--depth", "5")  # fmt: skip
    by_ms = cli_json("book", "--db", path, "--session", session, "--symbol", "BTC/USDT", "--at", str(AT_MS),
                     "--depth", "5")  # fmt: skip

    assert by_iso == by_ms == asyncio.run(_expected(path, session, SPOT, AT_MS * 1_000_000, 5))
    assert by_iso["symbol"] == "BTC/USDT"
    assert by_iso["in_sync"] is True
    assert isinstance(by_iso["sequence"], int)
    assert by_iso["ts_event"] <= AT_MS * 1_000_000
    assert len(by_iso["bids"]) == len(by_iso["asks"]) == 5
    assert by_iso["bids"][0][0] > by_iso["bids"][1][0]
    assert by_iso["asks"][0][0] < by_iso["asks"][1][0]
    assert by_iso["bids"][0][0] < by_iso["asks"][0][0]


def test_checkpoint_then_book_gives_the_same_answer_and_rerunning_writes_nothing(recorded: tuple[Path, str]) -> None:
    path, session = recorded
    before = cli_json("book", "--db", path, "--session", session, "--symbol", "BTC/USDT:USDT", "--at", str(AT_MS))

    first = cli("book", "checkpoint", "--db", path, "--session", session, "--every", "1000")
    again = cli_json("book", "checkpoint", "--db", path, "--session", session, "--every", "1000")

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"{SPOT}.checkpoints: 6 checkpoints over 6001 book events (6 new, 0 already there), 0 gaps",
        f"{FUTURES}.checkpoints: 6 checkpoints over 6001 book events (6 new, 0 already there), 0 gaps",
    ]
    assert [(r["stream"], r["written"], r["duplicates"]) for r in again] == [
        (f"{SPOT}.checkpoints", 0, 6),
        (f"{FUTURES}.checkpoints", 0, 6),
    ]
    after = cli_json("book", "--db", path, "--session", session, "--symbol", "BTC/USDT:USDT", "--at", str(AT_MS))
    assert after == before
    assert after["stream"] == FUTURES
    assert len(after["bids"]) == 10


def test_checkpoint_of_one_symbol(recorded: tuple[Path, str]) -> None:
    path, session = recorded
    (report,) = cli_json("book", "checkpoint", "--db", path, "--session", session, "--symbol", "BTC/USDT")
    assert report["stream"] == f"{SPOT}.checkpoints"
    assert report["written"] == 3  # every 2,000 events by default


def test_book_text_shows_the_header_and_both_sides(recorded: tuple[Path, str]) -> None:
    path, session = recorded
    result = cli("book", "--db", path, "--session", session, "--symbol", "BTC/USDT", "--at", str(AT_MS),
                 "--depth", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    data = cli_json("book", "--db", path, "--session", session, "--symbol", "BTC/USDT", "--at", str(AT_MS),
                    "--depth", "3")  # fmt: skip
    assert lines[0].split() == ["stream", SPOT]
    assert lines[2].split()[:2] == ["at", "2024-08-08T23:55:00.000Z"]
    assert lines[4].split() == ["update", "id", str(data["sequence"])]
    assert lines[5].split() == ["in", "sync", "yes"]
    assert lines[6].split() == ["bid", "size", "bid", "ask", "ask", "size"]
    rows = [line.split() for line in lines[7:]]
    pairs = zip(data["bids"], data["asks"], strict=True)
    assert rows == [[number(b[1]), number(b[0]), number(a[0]), number(a[1])] for b, a in pairs]


def test_before_the_snapshot_the_book_is_not_served(recorded: tuple[Path, str]) -> None:
    path, session = recorded
    text = cli("book", "--db", path, "--session", session, "--symbol", "BTC/USDT", "--at", "2024-08-08T23:00:00")
    data = cli_json("book", "--db", path, "--session", session, "--symbol", "BTC/USDT", "--at", "2024-08-08T23:00:00")

    assert text.exit_code == 0
    assert "in sync     no: no snapshot yet" in text.stdout
    assert "bid size" not in text.stdout
    assert (data["in_sync"], data["sequence"], data["bids"], data["asks"]) == (False, None, [], [])


AT = "1723161300000"  # epoch ms


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--symbol", "BTC/USDT"], 2, "missing option --session, --at"),
        (["--session", "ffff", "--symbol", "BTC/USDT", "--at", AT], 1, "no session with id 'ffff'"),
        (["--session", "SESSION", "--symbol", "ETH/USDT", "--at", AT], 1, "no book stream for symbol 'ETH/USDT'"),
        (["--session", "SESSION", "--symbol", "BTCUSDT", "--at", AT], 1, "2 book streams for symbol 'BTCUSDT'"),
        (
            ["--session", "SESSION", "--symbol", "BTC/USDT", "--at", "noon"],
            2,
            "--at 'noon' is not a time; accepted: an ISO 8601 time",
        ),
    ],
)
def test_errors(recorded: tuple[Path, str], args: list[str], code: int, message: str) -> None:
    path, session = recorded
    result = cli("book", "--db", path, *[session if a == "SESSION" else a for a in args])
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split())


def test_a_missing_log_is_not_created(tmp_path: Path) -> None:
    result = cli("book", "--db", tmp_path / "none.sqlite", "--session", "abcd", "--symbol", "BTC/USDT", "--at", AT)
    assert result.exit_code == 1
    assert "no such file" in result.stderr
    assert not (tmp_path / "none.sqlite").exists()


def test_parse_time() -> None:
    assert parse_time("1723161300000") == 1_723_161_300_000_000_000
    assert parse_time("2024-08-08T23:55:00Z") == parse_time("2024-08-08T23:55:00") == 1_723_161_300_000_000_000
    assert parse_time("2024-08-09T01:55:00+02:00") == 1_723_161_300_000_000_000
    assert parse_time("2024-08-08T23:55:00.123456789Z") == 1_723_161_300_123_456_789
    assert parse_time("2024-08-08T23:55:00.5") == 1_723_161_300_500_000_000
    assert json.dumps(parse_time(" 0 ")) == "0"
