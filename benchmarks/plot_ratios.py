"""Plot each case's ratio across saved benchmark runs (``virtuoso bench --save DIR``).

    .venv/bin/python benchmarks/plot_ratios.py out/bench-runs --out out/ratios.png

One line per case, x = the runs in the order they were measured, y = the ratio
divided by the case's accepted ratio in ``benchmarks/baseline.json`` (1.0 = as
accepted; the dashed line at 0.85 is where ``virtuoso bench --check`` fails).
Cases without an accepted ratio are plotted against their first run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BASELINE = Path(__file__).with_name("baseline.json")
FLOOR = 0.85


def load_runs(folder: Path) -> list[dict[str, Any]]:
    """The saved runs in ``folder``, oldest first (their file names carry the UTC time)."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("bench-*.json"))]


def relative_ratios(runs: list[dict[str, Any]], accepted: dict[str, float]) -> dict[str, list[float | None]]:
    """Per case, its ratio in each run relative to its accepted ratio (``None`` where a run lacks it)."""
    names = sorted({row["name"] for run in runs for row in run["rows"]})
    series: dict[str, list[float | None]] = {}
    for name in names:
        values = [next((row["ratio"] for row in run["rows"] if row["name"] == name), None) for run in runs]
        reference = accepted.get(name) or next(v for v in values if v is not None)
        series[name] = [None if v is None else v / reference for v in values]
    return series


def plot(series: dict[str, list[float | None]], labels: list[str], out: Path) -> Path:
    """Draw the lines into ``out`` (PNG)."""
    figure = Figure(figsize=(11, 6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, values in series.items():
        axes.plot(range(len(values)), [float("nan") if v is None else v for v in values], marker="o", label=name)
    axes.axhline(FLOOR, linestyle="--", color="red", linewidth=1)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("ratio / accepted ratio")
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(out, metadata={"Software": None})
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: a folder of saved runs in, a PNG out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("ratios.png"))
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    args = parser.parse_args(argv)
    runs = load_runs(args.folder)
    if not runs:
        parser.error(f"{args.folder}: no bench-*.json runs (save some with `virtuoso bench --save DIR`)")
    accepted = {k: v["ratio"] for k, v in json.loads(args.baseline.read_text())["cases"].items()}
    print(plot(relative_ratios(runs, accepted), [run["measured"] for run in runs], args.out))


if __name__ == "__main__":
    main()
