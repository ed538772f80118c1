"""``virtuoso import``: JSON output, progress lines, one-line errors, re-runs."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json

BTC_0808 = "hftbacktest/examples/spot/btcusdt_20240808.gz"


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """The first 1,500 lines of the real BTCUSDT 0808 capture (holding its REST snapshot)."""
    with gzip.open(require_data(BTC_0808), "rb") as f:
        lines = [next(f) for _ in range(1500)]
    path = tmp_path / "btcusdt_20240808.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    return path


def test_json_reports_the_session_and_counts(tmp_path: Path, capture: Path) -> None:
    db = tmp_path / "log.sqlite"

    report = cli_json("import", "binance-capture", capture, "--db", db, "--session-name", "btc morning")

    assert set(report) >= {"session", "counts", "files"}
    assert report["name"] == "btc morning"
    assert sum(report["counts"].values()) == 1500
    assert set(report["counts"]) == {"Trade", "BookDelta", "BookSnapshot", "Quote"}
    (file,) = report["files"]
    assert (file["path"], file["status"], file["counts"]) == (str(capture), "imported", report["counts"])
    (session,) = cli_json("sessions", "list", "--db", db)
    assert (session["id"], session["name"], session["source"]) == (report["session"], "btc morning", "binance-capture")
    assert (session["symbols"], session["status"]) == (["BTC/USDT"], "closed")

    again = cli_json("import", "binance-capture", capture, "--db", db, "--session-name", "btc morning")

    assert again["session"] == report["session"]
    assert (again["files"][0]["status"], again["counts"]) == ("skipped", {})


def test_sessions_show_lists_the_imported_files(tmp_path: Path, capture: Path) -> None:
    db = tmp_path / "log.sqlite"
    report = cli_json("import", "binance-capture", capture, "--db", db)

    shown = cli_json("sessions", "show", "--db", db, report["session"])
    table = cli("sessions", "show", "--db", db, report["session"])

    (file,) = shown["files"]
    assert file["path"] == str(capture)
    assert file["sha256"] == report["files"][0]["sha256"]
    assert (file["format"], file["counts"]) == ("binance-capture", report["counts"])
    assert file["bytes"] == capture.stat().st_size
    assert "imported files" in table.stdout
    assert f"{capture} " in table.stdout
    assert f" {file['sha256'][:16]} " in table.stdout


def test_plain_output_and_progress_lines(tmp_path: Path, capture: Path) -> None:
    result = cli("import", "binance-capture", capture, "--db", tmp_path / "log.sqlite")

    assert result.exit_code == 0, result.output
    assert "imported 1,500 events; session " in result.stdout
    assert str(capture) in result.stdout
    assert f"{capture}: 100% of" in result.stderr


def test_a_malformed_line_is_one_red_line_and_exit_1(tmp_path: Path, capture: Path) -> None:
    broken = tmp_path / "broken.gz"
    lines = gzip.decompress(capture.read_bytes()).splitlines(keepends=True)
    broken.write_bytes(gzip.compress(b"".join([*lines[:40], b"1723161254116723068 not json\n", *lines[40:]])))
    db = tmp_path / "log.sqlite"

    proc = subprocess.run(
        [sys.executable, "-m", "virtuoso", "import", "binance-capture", str(capture), str(broken), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]]
    assert errors[0].startswith(f"error: {broken}:41: ")
    assert "Traceback" not in proc.stderr
    (session,) = cli_json("sessions", "list", "--db", db)
    assert session["events"] == 1500 + 3, "the first file (and the session's own events) only"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "x.gz"], "unknown format 'nope'"),
        (["binance-capture", "missing.gz"], "missing.gz: no such file"),
        (["ccxt-json", "CAPTURE"], "pass --exchange"),
    ],
)
def test_bad_arguments_are_one_line_and_create_nothing(
    tmp_path: Path, capture: Path, args: list[str], message: str
) -> None:
    args = [str(capture) if a == "CAPTURE" else str(tmp_path / a) if a.endswith(".gz") else a for a in args]

    result = cli("import", *args, "--db", tmp_path / "log.sqlite")

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert message in line
    assert result.stdout == ""
    assert not (tmp_path / "log.sqlite").exists()
