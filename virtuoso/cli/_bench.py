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
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from virtuoso.cli._app import err_console, fail, print_json
from virtuoso.cli._pipeline_bench import pipeline_command
from virtuoso.cli._tables import print_table

BENCH_DIR_ENV = "VIRTUOSO_BENCH_DIR"
QUICK_ENV = "VIRTUOSO_BENCH_QUICK"
TOLERANCE = 0.15
"""How far below its accepted ratio a case may fall before ``--check`` fails it."""
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


def accepted_ratios(path: Path) -> dict[str, float]:
    """The accepted ratio of each case in a baseline file (``{"cases": {name: {"ratio": r, ...}}}``)."""
    try:
        data = json.loads(path.read_text())
        return {name: float(case["ratio"]) for name, case in data["cases"].items()}
    except FileNotFoundError:
        raise fail(f"{path}: no such baseline file (record one with `virtuoso bench --accept`)") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise fail(f"{path}: not a baseline file ({type(exc).__name__}: {exc})") from None


def regressions(rows: Sequence[BenchRow], accepted: Mapping[str, float], tolerance: float = TOLERANCE) -> list[str]:
    """One line per case whose ratio fell more than ``tolerance`` below its accepted ratio.

    >>> row = BenchRow("store.read_chunks", 5e5, 7e5, 0.62, 0.7, False)
    >>> regressions([row], {"store.read_chunks": 0.80})
    ['store.read_chunks: 0.62x is more than 15% below the accepted 0.80x (floor 0.68x)']
    >>> regressions([row], {"store.read_chunks": 0.70}), regressions([row], {})
    ([], [])
    """
    found = []
    for row in rows:
        if row.name in accepted:
            floor = accepted[row.name] * (1 - tolerance)
            if row.ratio < floor:
                found.append(
                    f"{row.name}: {row.ratio:.2f}x is more than {tolerance:.0%} below the accepted"
                    f" {accepted[row.name]:.2f}x (floor {floor:.2f}x)"
                )
    return found


def baseline_document(
    rows: Sequence[BenchRow], *, measured: str, note: str, earlier: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``--accept`` writes: each case's ratio (and throughput, for reading) with when it was measured and
    how; the cases of ``earlier`` this run did not measure (``-k``) are kept as they were.

    >>> old = {"cases": {"a": {"ratio": 1.0, "measured": "then"}, "b": {"ratio": 2.0, "measured": "then"}}}
    >>> new = baseline_document([BenchRow("a", 10.0, 8.0, 1.25, 1.0, True)], measured="now", note="", earlier=old)
    >>> new["cases"]["a"]["ratio"], new["cases"]["a"]["measured"], new["cases"]["b"]["measured"]
    (1.25, 'now', 'then')
    """
    cases = dict((earlier or {}).get("cases", {}))
    for row in rows:
        cases[row.name] = {
            "ratio": round(row.ratio, 4),
            "events_per_s": round(row.events_per_s),
            "target": row.target,
            "measured": measured,
            "note": note,
        }
    return {"tolerance": TOLERANCE, "cases": dict(sorted(cases.items()))}


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


bench_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="Run the benchmark suites against raw baselines; `bench pipeline` measures your own pipeline.",
)


@bench_app.callback()
def bench(
    ctx: typer.Context,
    *,
    quick: Annotated[bool, typer.Option("--quick", help="Smoke size: 50,000 events and one round per case.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of the rows instead of a table.")] = False,
    select: Annotated[
        str | None, typer.Option("-k", "--select", help="Only cases matching this pytest -k expression.")
    ] = None,
    report_only: Annotated[
        bool,
        typer.Option(
            "--report-only",
            help="Exit 0 when cases are below target (still 1 if the run itself fails): for smoke runs,"
            " whose short rounds are too noisy to judge.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help=f"Also fail when a case is more than {TOLERANCE:.0%} below its accepted ratio."),
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="The accepted ratios (default: benchmarks/baseline.json).")
    ] = None,
    accept: Annotated[bool, typer.Option("--accept", help="Write this run's ratios as the accepted ones.")] = False,
    save: Annotated[
        Path | None, typer.Option("--save", help="Also save this run's rows as JSON in this folder.")
    ] = None,
) -> None:
    """Run the benchmark suites and report our throughput against raw baselines; exit 1 below a target."""
    if ctx.invoked_subcommand is not None:
        return  # `virtuoso bench pipeline ...`: the suites' options do not apply
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
        print_table(rows_table(rows))
    if code != 0:
        raise fail(f"the benchmark run failed (pytest exit code {code}); its output is above")
    if not rows:
        raise fail("the benchmark run reported no ratio cases")
    baseline_path = baseline or directory / "baseline.json"
    _record(rows, quick=quick, save=save, accept=baseline_path if accept else None)
    if check:
        _check(rows, accepted_ratios(baseline_path))
    below = [row.name for row in rows if not row.ok]
    if below and report_only:
        err_console.print(f"below target (not judged, --report-only): {', '.join(below)}")
    elif below:
        raise fail(f"below target: {', '.join(below)}")


bench_app.command("pipeline")(pipeline_command)


def _record(rows: Sequence[BenchRow], *, quick: bool, save: Path | None, accept: Path | None) -> None:
    # The benchmarks' own bookkeeping: dating a saved run is what the wall clock is for here.
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        document = {"measured": stamp, "quick": quick, "rows": [row.as_dict() for row in rows]}
        (save / f"bench-{stamp}.json").write_text(json.dumps(document, indent=2) + "\n")
    if accept is not None:
        if quick:
            raise fail("--accept takes a full-size run: --quick rounds are too noisy to become the reference")
        note = f"virtuoso bench, full size, load {os.getloadavg()[0]:.1f} at the end"
        earlier = json.loads(accept.read_text()) if accept.is_file() else None
        document = baseline_document(rows, measured=stamp, note=note, earlier=earlier)
        accept.write_text(json.dumps(document, indent=2) + "\n")
        err_console.print(f"accepted ratios written to {accept}")


def _check(rows: Sequence[BenchRow], accepted: Mapping[str, float]) -> None:
    found = regressions(rows, accepted)
    new = [row.name for row in rows if row.name not in accepted]
    if new:
        err_console.print(f"not in the baseline (not judged): {', '.join(new)}")
    if found:
        raise fail("throughput regression: " + "; ".join(found))
