"""``virtuoso bench``: run the benchmark suites and report each case against its target ratio.

The suites live in ``benchmarks/`` of a source checkout and run under pytest with
pytest-benchmark, in a subprocess of this interpreter. Every benchmark that
records a ratio in its ``extra_info`` (see ``benchmarks/harness.py``) becomes one
row: our events/s, the raw baseline's events/s in the same run, their ratio and
the target ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from virtuoso.cli._app import err_console, fail, out_console, print_json

BENCH_DIR_ENV = "VIRTUOSO_BENCH_DIR"
QUICK_ENV = "VIRTUOSO_BENCH_QUICK"
_TIMEOUT_S = 3600


@dataclass(frozen=True)
class BenchRow:
    """One benchmark case's outcome; the fields are the keys of ``--json`` output."""

    name: str
    events_per_s: float
    baseline_per_s: float
    ratio: float
    target: float
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return asdict(self)


def rows_from_report(report: Mapping[str, Any]) -> list[BenchRow]:
    """The ratio cases of a pytest-benchmark JSON report, in report order.

    Benchmarks without a ``ratio`` and ``target`` in their ``extra_info`` are not
    ratio cases and are left out. ``ok`` is recomputed from the ratio and target.
    """
    rows = []
    for bench in report.get("benchmarks", []):
        info = bench.get("extra_info") or {}
        if "ratio" not in info or "target" not in info:
            continue
        ratio = float(info["ratio"])
        target = float(info["target"])
        rows.append(
            BenchRow(
                name=str(info.get("case") or bench["name"]),
                events_per_s=float(info["events_per_s"]),
                baseline_per_s=float(info["baseline_per_s"]),
                ratio=ratio,
                target=target,
                ok=ratio >= target,
            )
        )
    return rows


def rows_table(rows: Sequence[BenchRow]) -> Table:
    """The rich table ``virtuoso bench`` prints."""
    table = Table(title="virtuoso benchmarks: ours against a raw baseline, same run")
    table.add_column("case", no_wrap=True)
    table.add_column("events/s", justify="right")
    table.add_column("baseline events/s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")
    table.add_column("result")
    for row in rows:
        verdict = "[green]pass[/green]" if row.ok else "[red]FAIL[/red]"
        table.add_row(
            row.name,
            f"{row.events_per_s:,.0f}",
            f"{row.baseline_per_s:,.0f}",
            f"{row.ratio:.2f}x",
            f">= {row.target:.2f}x",
            verdict,
        )
    return table


def find_benchmarks_dir() -> Path | None:
    """``benchmarks/`` of the checkout this package runs from (``VIRTUOSO_BENCH_DIR`` overrides)."""
    override = os.environ.get(BENCH_DIR_ENV)
    candidates = [Path(override)] if override else [Path(__file__).resolve().parents[2] / "benchmarks"]
    for candidate in candidates:
        if (candidate / "harness.py").is_file():
            return candidate
    return None


def run_suites(directory: Path, report: Path, *, quick: bool, select: str | None) -> int:
    """Run pytest on ``directory`` writing ``report``; pytest's own output goes to stderr. Returns its exit code."""
    env = dict(os.environ)
    env.pop(QUICK_ENV, None)
    if quick:
        env[QUICK_ENV] = "1"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(directory),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={report}",
        "--benchmark-columns=min,median,max,rounds",
        f"--timeout={_TIMEOUT_S}",
    ]
    if select:
        command += ["-k", select]
    completed = subprocess.run(command, cwd=directory.parent, env=env, stdout=_stderr_fd(), check=False)
    return completed.returncode


def _stderr_fd() -> int | None:
    # Keeps stdout clean for --json; falls back to inheriting when stderr has no descriptor.
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _load_report(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def bench(
    quick: bool = typer.Option(False, "--quick", help="Smoke size: 50,000 events and one round per case."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of the rows instead of a table."),
    select: str | None = typer.Option(None, "-k", "--select", help="Only cases matching this pytest -k expression."),
    report_only: bool = typer.Option(
        False,
        "--report-only",
        help="Exit 0 when cases are below target (still 1 if the run itself fails): for smoke runs,"
        " whose short rounds are too noisy to judge.",
    ),
) -> None:
    """Run the benchmark suites and report our throughput against raw baselines; exit 1 below a target."""
    directory = find_benchmarks_dir()
    if directory is None:
        raise fail("benchmarks/ not found: `virtuoso bench` runs from a source checkout (or set VIRTUOSO_BENCH_DIR)")
    with tempfile.TemporaryDirectory(prefix="virtuoso-bench-") as tmp:
        report_path = Path(tmp) / "benchmark.json"
        code = run_suites(directory, report_path, quick=quick, select=select)
        report = _load_report(report_path)
    rows = rows_from_report(report) if report is not None else []
    if as_json:
        print_json([row.as_dict() for row in rows])
    elif rows:
        out_console.print(rows_table(rows))
    if code != 0:
        raise fail(f"the benchmark run failed (pytest exit code {code}); its output is above")
    if not rows:
        raise fail("the benchmark run reported no ratio cases")
    below = [row.name for row in rows if not row.ok]
    if below and report_only:
        err_console.print(f"below target (not judged, --report-only): {', '.join(below)}")
    elif below:
        raise fail(f"below target: {', '.join(below)}")
