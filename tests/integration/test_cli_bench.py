"""``virtuoso bench``: turning pytest-benchmark reports into rows, and one real tiny run.

The end-to-end test runs the real command on the append case shrunk to a few
thousand events (``VIRTUOSO_BENCH_EVENTS``), so it takes seconds; it checks the
shape of the output and that the exit code agrees with the rows, never a speed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from virtuoso.cli._bench import BenchRow, find_benchmarks_dir, rows_from_report, rows_table

REPO = Path(__file__).resolve().parents[2]
ROW_KEYS = {"name", "events_per_s", "baseline_per_s", "ratio", "target", "ok"}
CLI = [sys.executable, "-c", "from virtuoso.cli import main; main()"]


def _benchmark(name: str, extra_info: dict[str, Any]) -> dict[str, Any]:
    # The parts of a pytest-benchmark JSON entry the command reads.
    return {"name": name, "fullname": f"benchmarks/test_x.py::{name}", "stats": {"min": 1.0}, "extra_info": extra_info}


def _ratio_info(case: str, ours: float, baseline: float, target: float) -> dict[str, Any]:
    ratio = ours / baseline
    return {
        "case": case,
        "events": 1000,
        "rounds": 1,
        "events_per_s": ours,
        "baseline_per_s": baseline,
        "ratio": ratio,
        "target": target,
        "ok": True,  # deliberately stale for the failing case: the command recomputes it
    }


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUOSO_BENCH")}
    full_env.update(env)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=full_env, cwd=REPO, timeout=120, check=False
    )


def test_rows_from_report_keeps_ratio_cases_in_order_and_recomputes_ok() -> None:
    report = {
        "benchmarks": [
            _benchmark("test_fast", _ratio_info("fast case", 900.0, 1000.0, 0.8)),
            _benchmark("test_plain", {}),
            _benchmark("test_slow", _ratio_info("slow case", 500.0, 1000.0, 0.8)),
            _benchmark("test_unnamed", {k: v for k, v in _ratio_info("", 800.0, 1000.0, 0.8).items() if k != "case"}),
        ]
    }
    rows = rows_from_report(report)
    assert [row.name for row in rows] == ["fast case", "slow case", "test_unnamed"]
    assert [row.ok for row in rows] == [True, False, True]
    assert rows[1].ratio == 0.5
    assert rows[1].events_per_s == 500.0
    assert rows[1].baseline_per_s == 1000.0
    assert rows[1].target == 0.8
    assert set(rows[0].as_dict()) == ROW_KEYS


def test_rows_from_an_empty_report_is_empty() -> None:
    assert rows_from_report({"benchmarks": []}) == []
    assert rows_from_report({}) == []


def test_table_shows_each_case_with_its_verdict() -> None:
    rows = [
        BenchRow("store.writer append", 190_000.0, 240_000.0, 0.7917, 0.8, False),
        BenchRow("store.read_chunks", 600_000.0, 700_000.0, 0.8571, 0.7, True),
    ]
    console = Console(record=True, width=160, color_system=None)
    console.print(rows_table(rows))
    text = console.export_text()
    append_line = next(line for line in text.splitlines() if "store.writer append" in line)
    read_line = next(line for line in text.splitlines() if "store.read_chunks" in line)
    assert "190,000" in append_line
    assert "240,000" in append_line
    assert "0.79x" in append_line
    assert ">= 0.80x" in append_line
    assert "FAIL" in append_line
    assert "pass" in read_line
    assert "FAIL" not in read_line


def test_benchmarks_dir_is_found_in_this_checkout() -> None:
    assert find_benchmarks_dir() == REPO / "benchmarks"


def test_missing_benchmarks_dir_is_one_error_line(tmp_path: Path) -> None:
    result = _cli("bench", "--quick", VIRTUOSO_BENCH_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().startswith("error: benchmarks/ not found")
    assert len(result.stderr.strip().splitlines()) == 1


def test_tiny_quick_run_prints_json_rows_and_exits_by_their_verdict(tmp_path: Path) -> None:
    result = _cli(
        "bench",
        "--quick",
        "--json",
        "-k",
        "append",
        VIRTUOSO_BENCH_EVENTS="2000",
        PYTEST_ADDOPTS=f"--basetemp={tmp_path / 'inner'}",  # the inner run's files stay under ours
    )
    rows = json.loads(result.stdout)
    assert len(rows) == 1, result.stderr
    (row,) = rows
    assert set(row) == ROW_KEYS
    assert row["name"] == "store.writer append vs floor"
    assert row["target"] == 1.0
    assert row["events_per_s"] > 0
    assert row["baseline_per_s"] > 0
    assert abs(row["ratio"] - row["events_per_s"] / row["baseline_per_s"]) < 1e-3
    assert row["ok"] == (row["ratio"] >= row["target"])
    assert result.returncode == (0 if row["ok"] else 1), result.stderr
    assert "2 passed" not in result.stderr  # -k kept the read case out
    assert "1 passed" in result.stderr


def test_report_only_prints_the_verdict_but_exits_zero(tmp_path: Path) -> None:
    result = _cli(
        "bench",
        "--quick",
        "--json",
        "--report-only",
        "-k",
        "append",
        VIRTUOSO_BENCH_EVENTS="2000",
        PYTEST_ADDOPTS=f"--basetemp={tmp_path / 'inner'}",
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert ("not judged, --report-only" in result.stderr) == (not row["ok"])
    assert "error:" not in result.stderr


def test_report_only_still_fails_when_the_run_cannot_happen(tmp_path: Path) -> None:
    result = _cli("bench", "--quick", "--report-only", VIRTUOSO_BENCH_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: benchmarks/ not found")


def test_check_fails_naming_a_case_far_below_its_accepted_ratio_and_save_keeps_the_run(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"cases": {"store.writer append vs floor": {"ratio": 1000.0}, "gone": {"ratio": 1.0}}})
    )
    saved = tmp_path / "runs"
    result = _cli(
        "bench", "--quick", "--report-only", "--check", "--baseline", str(baseline), "--save", str(saved),
        "-k", "append", VIRTUOSO_BENCH_EVENTS="2000", PYTEST_ADDOPTS=f"--basetemp={tmp_path / 'inner'}",
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: throughput regression: store.writer append vs floor:")
    assert "below the accepted 1000.00x" in last
    [run_file] = saved.glob("bench-*.json")
    assert json.loads(run_file.read_text())["rows"][0]["name"] == "store.writer append vs floor"
    baseline.write_text(json.dumps({"cases": {"store.writer append vs floor": {"ratio": 0.001}}}))
    passing = _cli(
        "bench", "--quick", "--report-only", "--check", "--baseline", str(baseline),
        "-k", "append", VIRTUOSO_BENCH_EVENTS="2000", PYTEST_ADDOPTS=f"--basetemp={tmp_path / 'inner2'}",
    )  # fmt: skip
    assert passing.returncode == 0, passing.stderr


def test_check_names_a_missing_or_broken_baseline_and_accept_refuses_quick_runs(tmp_path: Path) -> None:
    env = {"VIRTUOSO_BENCH_EVENTS": "2000", "PYTEST_ADDOPTS": f"--basetemp={tmp_path / 'inner'}"}
    missing = _cli("bench", "--quick", "--check", "--baseline", str(tmp_path / "none.json"), "-k", "append", **env)
    assert missing.returncode == 1
    assert "none.json: no such baseline file" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    result = _cli("bench", "--quick", "--check", "--baseline", str(broken), "-k", "append", **env)
    assert "broken.json: not a baseline file" in result.stderr
    accept = _cli("bench", "--quick", "--accept", "--baseline", str(broken), "-k", "append", **env)
    assert accept.returncode == 1
    assert "--accept takes a full-size run" in accept.stderr
    assert broken.read_text() == "{}"


def test_the_ratio_plot_draws_saved_runs_against_the_baseline(tmp_path: Path) -> None:
    from benchmarks.plot_ratios import load_runs, main, relative_ratios

    runs = tmp_path / "runs"
    runs.mkdir()
    for stamp, ratio in (("2026-01-01T00-00-00Z", 0.8), ("2026-01-02T00-00-00Z", 0.6)):
        row = {"name": "store.read_chunks", "ratio": ratio}
        (runs / f"bench-{stamp}.json").write_text(json.dumps({"measured": stamp, "rows": [row]}))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"cases": {"store.read_chunks": {"ratio": 0.8}}}))
    assert relative_ratios(load_runs(runs), {"store.read_chunks": 0.8}) == {
        "store.read_chunks": [1.0, pytest.approx(0.75)]
    }
    out = tmp_path / "ratios.png"
    main([str(runs), "--out", str(out), "--baseline", str(baseline)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_committed_baseline_names_every_ratio_case() -> None:
    accepted = json.loads((REPO / "benchmarks" / "baseline.json").read_text())["cases"]
    names = set()
    for path in (REPO / "benchmarks").glob("test_*.py"):
        names |= set(re.findall(r'RatioCase\(\s*"([^"]+)"', path.read_text()))
    assert names
    assert names <= set(accepted), sorted(names - set(accepted))
