"""Imports that cannot silently go wrong: identity from content, no relabelling, no empty success, safe creation.

Slices of the real captures (hftbacktest spot and USD-M BTCUSDT, same base name)
written to tmp_path; the CLI in-process, and two real processes for the race.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json
from virtuoso.store import open_sqlite_store
from virtuoso.store._sqlite_io import check_identity, migrate

SPOT_0808 = "hftbacktest/examples/spot/btcusdt_20240808.gz"
SPOT_0809 = "hftbacktest/examples/spot/btcusdt_20240809.gz"
USDM_0808 = "hftbacktest/examples/usdm/btcusdt_20240808.gz"


def _slice(source: str, folder: Path, lines: int = 1200, *, start: int = 0) -> Path:
    """The first ``lines`` lines of a real capture, under its own base name in ``folder``."""
    with gzip.open(require_data(source), "rb") as f:
        text = f.read().split(b"\n")[start : start + lines]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(source).name
    path.write_bytes(gzip.compress(b"\n".join(text) + b"\n"))
    return path


def _one_error_line(result: object) -> str:
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    lines = result.stderr.splitlines()  # type: ignore[attr-defined]
    (line,) = [text for text in lines if text.startswith("error: ")]
    assert line == lines[-1], "progress lines may come before, nothing after"
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    return line


# -- identity comes from content -------------------------------------------------------


def test_two_markets_files_of_one_name_are_two_sessions(tmp_path: Path) -> None:
    spot = _slice(SPOT_0808, tmp_path / "spot")
    usdm = _slice(USDM_0808, tmp_path / "usdm")
    db = tmp_path / "log.sqlite"

    first = cli_json("import", "binance-capture", spot, "--db", db)
    second = cli_json("import", "binance-capture", usdm, "--db", db)

    assert first["session"] != second["session"]
    assert second["files"][0]["status"] == "imported"
    sessions = {s["id"]: s for s in cli_json("sessions", "list", "--db", db)}
    assert sessions[first["session"]]["symbols"] == ["BTC/USDT"]
    assert sessions[second["session"]]["symbols"] == ["BTC/USDT:USDT"]


def test_a_renamed_copy_is_the_same_import_and_a_changed_file_is_not(tmp_path: Path) -> None:
    original = _slice(SPOT_0808, tmp_path / "a")
    renamed = tmp_path / "b" / "whatever.gz"
    renamed.parent.mkdir()
    renamed.write_bytes(original.read_bytes())
    other = _slice(SPOT_0808, tmp_path / "c", lines=1100)
    db = tmp_path / "log.sqlite"

    first = cli_json("import", "binance-capture", original, "--db", db)
    again = cli_json("import", "binance-capture", renamed, "--db", db)
    changed = cli_json("import", "binance-capture", other, "--db", db)

    assert again["session"] == first["session"]
    assert again["files"][0]["status"] == "skipped"
    assert changed["session"] != first["session"]


def test_a_capture_is_continued_from_its_first_file_or_by_name(tmp_path: Path) -> None:
    part1 = _slice(SPOT_0808, tmp_path / "one", lines=1500)
    part2 = _slice(SPOT_0808, tmp_path / "two", lines=1500, start=1500)
    db = tmp_path / "log.sqlite"

    started = cli_json("import", "binance-capture", part1, "--db", db)
    continued = cli_json("import", "binance-capture", part1, part2, "--db", db)
    named_1 = cli_json("import", "binance-capture", part1, "--db", db, "--session-name", "btc")
    named_2 = cli_json("import", "binance-capture", part2, "--db", db, "--session-name", "btc")

    assert continued["session"] == started["session"]
    assert [f["status"] for f in continued["files"]] == ["skipped", "imported"]
    assert named_2["session"] == named_1["session"] != started["session"]
    assert named_2["files"][0]["status"] == "imported"


def test_one_session_name_on_two_markets_is_two_sessions(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    spot = cli_json("import", "binance-capture", _slice(SPOT_0808, tmp_path / "s"), "--db", db, "--session-name", "x")
    usdm = cli_json("import", "binance-capture", _slice(USDM_0808, tmp_path / "u"), "--db", db, "--session-name", "x")

    assert spot["session"] != usdm["session"]


# -- overrides that contradict the file ------------------------------------------------------


def test_a_symbol_the_file_contradicts_is_refused_unless_forced(tmp_path: Path) -> None:
    spot = _slice(SPOT_0808, tmp_path)
    db = tmp_path / "log.sqlite"

    line = _one_error_line(cli("import", "binance-capture", spot, "--db", db, "--symbol", "ETH/USDT"))

    expected = "the file holds BTC/USDT, not ETH/USDT: pass --force to import it as ETH/USDT anyway (--symbol)"
    assert line == f"error: {spot}: {expected}"
    assert not db.exists()
    assert cli_json("import", "binance-capture", spot, "--db", db, "--symbol", "BTC/USDT")["counts"]
    forced = cli_json(
        "import", "binance-capture", spot, "--db", tmp_path / "f.sqlite", "--symbol", "ETH/USDT", "--force"
    )
    (session,) = cli_json("sessions", "list", "--db", tmp_path / "f.sqlite")
    assert session["id"] == forced["session"]
    assert session["symbols"] == ["ETH/USDT"]


def test_an_exchange_the_file_contradicts_is_refused(tmp_path: Path) -> None:
    usdm = _slice(USDM_0808, tmp_path)

    line = _one_error_line(
        cli("import", "binance-capture", usdm, "--db", tmp_path / "l.sqlite", "--exchange", "binance")
    )

    assert "the file is a usdm capture (binanceusdm), not binance" in line
    assert "--force" in line


@pytest.mark.parametrize(
    ("fmt", "name", "content", "options"),
    [
        ("binance-vision", "BTCUSDT-trades-2020-08-31.csv", "1,61000.5,0.5,1,1598850897967,true,true\n",
         ["--symbol", "ETH/USDT"]),
        ("ccxt-json", "trades.json",
         '[{"id": "1", "timestamp": 1598850897967, "symbol": "BTC/USDT", "side": "buy", "price": 1.5, "amount": 2}]',
         ["--symbol", "ETH/USDT", "--exchange", "binance"]),
    ],
)  # fmt: skip
def test_other_formats_refuse_a_contradicting_symbol(
    tmp_path: Path, fmt: str, name: str, content: str, options: list[str]
) -> None:
    path = tmp_path / name
    path.write_text(content)

    line = _one_error_line(cli("import", fmt, path, "--db", tmp_path / "l.sqlite", *options))

    assert "the file holds BTC/USDT, not ETH/USDT" in line
    assert cli_json("import", fmt, path, "--db", tmp_path / "l.sqlite", *options, "--force")["counts"] == {"Trade": 1}


# -- empty or broken files are not success ------------------------------------------------


def _broken_files(folder: Path) -> dict[str, Path]:
    with gzip.open(require_data(SPOT_0808)) as real:
        good = gzip.compress(b"".join(real.readlines()[:300]))
    files = {
        "empty gzip": gzip.compress(b""),
        "empty file": b"",
        "blank lines": b"\n\n  \n",
        "truncated gzip": good[: len(good) // 2],
        "fake gzip": b"\x1f\x8b" + bytes(range(256)) * 4,
        "not a capture": b"hello, this is a letter\nnot market data\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for what, content in files.items():
        path = folder / f"{what.replace(' ', '_')}.gz"
        path.write_bytes(content)
        paths[what] = path
    return paths


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("empty gzip", "the file is empty: nothing to import"),
        ("empty file", "the file is empty: nothing to import"),
        ("blank lines", "the file is empty: nothing to import"),
        ("truncated gzip", "cannot read it"),
        ("fake gzip", "cannot read it"),
        ("not a capture", ":1: not a capture line"),
    ],
)
def test_a_broken_or_empty_only_file_leaves_nothing(tmp_path: Path, what: str, message: str) -> None:
    path = _broken_files(tmp_path / "files")[what]
    db = tmp_path / "log.sqlite"

    line = _one_error_line(cli("import", "binance-capture", path, "--db", db))

    assert line.startswith(f"error: {path}")
    assert message in line
    assert not db.exists(), "nothing is created for a file refused before the import"


def test_a_broken_second_file_keeps_the_first_and_the_session_says_it_failed(tmp_path: Path) -> None:
    good = _slice(SPOT_0808, tmp_path / "good", lines=300)
    broken = _broken_files(tmp_path / "files")["truncated gzip"]
    db = tmp_path / "log.sqlite"
    cli_json("import", "binance-capture", good, "--db", db)

    line = _one_error_line(cli("import", "binance-capture", good, broken, "--db", db))

    assert "cannot read it" in line
    (session,) = cli_json("sessions", "list", "--db", db)
    assert session["status"] == "closed"
    assert session["events"] == 300 + 3  # the good file, its FileImported, SessionStarted and SessionEnded


def test_a_file_of_streams_not_imported_is_not_success(tmp_path: Path) -> None:
    path = tmp_path / "btcusdt_20240808.gz"
    lines = [f'{1723161254116723068 + i} {{"stream":"btcusdt@markPrice","data":{{"p":"1"}}}}' for i in range(5)]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    db = tmp_path / "log.sqlite"

    line = _one_error_line(cli("import", "binance-capture", path, "--db", db))

    assert line == f"error: {path}: no events in it (5 lines of streams not imported)"
    (session,) = cli_json("sessions", "list", "--db", db)
    shown = cli_json("sessions", "show", "--db", db, session["id"])
    assert shown["status"] != "open"
    assert shown["end_reason"].startswith(f"import failed: {path}: no events in it")


# -- two creators of one new log ------------------------------------------------------------


def test_a_migration_done_meanwhile_by_another_connection_is_not_run_twice(tmp_path: Path) -> None:
    db_path = tmp_path / "new.sqlite"

    async def race() -> None:
        late = await aiosqlite.connect(db_path, isolation_level=None)
        try:
            assert await check_identity(late, db_path) == 0  # it saw an empty file...
            store = await open_sqlite_store(db_path)  # ...then another creator made the log
            await store.close()
            await migrate(late, db_path, 0)  # must not CREATE TABLE again
        finally:
            await late.close()
        store = await open_sqlite_store(db_path)
        try:
            assert (await store.verify()).ok
        finally:
            await store.close()

    asyncio.run(race())


def test_two_imports_into_a_new_log_at_once(tmp_path: Path) -> None:
    spot = _slice(SPOT_0808, tmp_path / "spot", lines=400)
    usdm = _slice(USDM_0808, tmp_path / "usdm", lines=400)
    db = tmp_path / "conc.sqlite"
    command = [sys.executable, "-m", "virtuoso", "import", "binance-capture", "--db", str(db), "--json"]

    procs = [subprocess.Popen([*command, str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in (spot, usdm)]
    outcomes = [p.communicate(timeout=120) for p in procs]

    for proc, (_, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err.decode()
    assert len(cli_json("sessions", "list", "--db", db)) == 2


def test_a_line_cut_inside_its_stream_name_is_not_skipped_as_another_stream(tmp_path: Path) -> None:
    path = _slice(SPOT_0808, tmp_path, lines=300)
    text = gzip.decompress(path.read_bytes()).rstrip(b"\n")
    path.write_bytes(gzip.compress(text + b'\n1723161257421333564 {"stream":"btcusdt@bookTicke'))

    line = _one_error_line(cli("import", "binance-capture", path, "--db", tmp_path / "log.sqlite"))

    assert line.startswith(f"error: {path}:301: ")
    assert "truncated" in line
