"""``virtuoso export``: files per type, a JSON summary, runs, progress lines, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.integration._cli import cli, cli_json

DEMO_SESSION = "b1a9f365"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.sqlite"
    assert cli("demo", "--db", path, "--log-only", "--hours", "0.05").exit_code == 0  # 3 minutes of market
    return path


def test_text_output_lists_the_files_and_progress_is_plain_lines(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"

    result = cli("export", "--db", demo, "--session", DEMO_SESSION, "--out", out)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["export: 100%, 480 rows"]
    assert re.search(rf"^Trade +297  {re.escape(str(out))}/Trade.parquet$", result.stdout, re.MULTILINE)
    assert result.stdout.splitlines()[-1].startswith(f"exported 480 rows of session {DEMO_SESSION}")
    assert sorted(p.name for p in out.iterdir()) == [
        "BookDelta.parquet", "BookSnapshot.parquet", "SessionEnded.parquet", "SessionStarted.parquet", "Trade.parquet"
    ]  # fmt: skip
    trades = pd.read_parquet(out / "Trade.parquet")
    assert len(trades) == 297
    assert str(trades["time_event"].dtype) == "datetime64[ns, UTC]"


def test_json_names_the_files_and_rows_per_type_and_prints_no_progress(demo: Path, tmp_path: Path) -> None:
    result = cli("export", "--db", demo, "--session", DEMO_SESSION, "--out", tmp_path / "csv", "--format", "csv",
                 "--types", "BookSnapshot, Trade", "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    refused = cli("export", "--db", demo, "--session", DEMO_SESSION, "--out", tmp_path / "csv", "--format", "csv")
    summary = cli_json("export", "--db", demo, "--session", DEMO_SESSION, "--out", tmp_path / "csv", "--format",
                       "csv", "--types", "BookSnapshot,Trade", "--force")  # fmt: skip
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "error: it holds 2 .csv file(s) an export would replace (BookSnapshot.csv, Trade.csv): "
        f"choose a new folder, or pass --force (--out {tmp_path / 'csv'})"
    ]
    assert summary["files"] == {
        "BookSnapshot": str(tmp_path / "csv" / "BookSnapshot.csv"),
        "Trade": str(tmp_path / "csv" / "Trade.csv"),
    }
    assert summary["rows"] == {"BookSnapshot": 1, "Trade": 297}
    assert (summary["format"], summary["session"][:8]) == ("csv", DEMO_SESSION)
    assert len(pd.read_csv(tmp_path / "csv" / "Trade.csv")) == 297


def test_a_run_is_exported_by_its_id(demo: Path, tmp_path: Path) -> None:
    run_id = cli_json("replay", "--db", demo, "--session", DEMO_SESSION)["run"]
    [run] = [s for s in cli_json("sessions", "list", "--db", demo) if s["id"] == run_id]

    summary = cli_json("export", "--db", demo, "--run", run_id[:8], "--out", tmp_path / "run")

    assert summary["session"] == run_id
    assert sum(summary["rows"].values()) == run["events"]


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("--session", DEMO_SESSION, "--types", "Trades"), "error: unknown event type 'Trades' (known: Bar, ", 1),
        (("--session", DEMO_SESSION, "--types", "Gap"), "has no events of type Gap: nothing to export", 1),
        (("--run", DEMO_SESSION), "is a 'synthetic' session, not a run (use --session)", 1),
        (("--session", "ffff"), "error: no session with id 'ffff'", 1),
        (("--session", DEMO_SESSION, "--format", "xlsx"), "error: --format must be one of parquet, csv, not 'xlsx'", 2),
        ((), "error: name exactly one of --session ID or --run ID", 2),
        (("--session", DEMO_SESSION, "--run", DEMO_SESSION), "error: name exactly one of --session ID or --run ID", 2),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    demo: Path, tmp_path: Path, args: tuple[str, ...], message: str, code: int
) -> None:
    result = cli("export", "--db", demo, "--out", tmp_path / "out", *args)

    assert result.exit_code == code
    [line] = result.stderr.splitlines()
    assert message in line
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_cannot_be_made_is_one_line(demo: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = cli("export", "--db", demo, "--session", DEMO_SESSION, "--out", tmp_path / "file" / "out")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path}/file/out: the output folder cannot be created")


def test_a_missing_log_is_not_created(tmp_path: Path) -> None:
    result = cli("export", "--db", tmp_path / "nope.sqlite", "--session", DEMO_SESSION, "--out", tmp_path / "out")

    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no such file (--db {tmp_path}/nope.sqlite)"
    assert sorted(tmp_path.iterdir()) == []
