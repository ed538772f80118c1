"""``virtuoso sweep`` on the demo log: the JSON summary, the ranking table, resumption, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json
from tests.integration._sweep import GRID, MA_CROSS, demo_log, grid_file


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_log(tmp_path_factory.mktemp("sweep-cli"))


def test_a_sweep_prints_its_ranking_as_json_and_resumes(tmp_path: Path, demo: Path) -> None:
    grid = grid_file(tmp_path, f'[sweep]\nstrategy = "{MA_CROSS}"\nmetric = "fees"\n{GRID.split("[sweep]")[1]}')
    args = ("sweep", "--db", demo, "--grid", grid, "--workers", "1", "--out", tmp_path / "out", "--top", "3")
    first = cli_json(*args, "--split", "70:30")
    assert (first["tasks"], first["ran"], first["skipped"], first["failed"]) == (10, 10, 0, 0)
    assert (first["metric"], first["split"]) == ("fees", [70, 30])
    assert len(first["ranking"]) == 3
    fees = [entry["value"] for entry in first["ranking"]]
    assert fees == sorted(fees)  # fees rank lowest first
    assert set(first["files"]) == {"results", "parquet", "heatmap"}
    assert all(Path(path).is_file() for path in first["files"].values())
    again = cli_json(*args, "--split", "70:30")
    assert (again["ran"], again["skipped"], again["ranking"]) == (0, 10, first["ranking"])
    other = cli(*args)
    assert other.exit_code == 1
    assert "holds another sweep's results (split differs): use another --out" in other.stderr


def test_the_text_report_ranks_by_the_metric_with_the_varying_parameters(tmp_path: Path, demo: Path) -> None:
    result = cli("sweep", "--db", demo, "--grid", grid_file(tmp_path), "--strategy", MA_CROSS, "--workers", "1",
                 "--out", tmp_path / "out", "--metric", "sharpe")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "best by sharpe" in result.stdout
    assert "fast=2 slow=4" in result.stdout
    assert "timeframe" not in result.stdout  # fixed parameters are not repeated on every row
    assert "tasks 5: 5 ran, 0 already done, 0 failed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        ((), "name a strategy", 2),
        (("--strategy", MA_CROSS, "--executor", "spark"), "--executor must be one of local, dask", 2),
        (("--strategy", MA_CROSS, "--executor", "dask"), "--executor dask needs --scheduler", 2),
        (("--strategy", MA_CROSS, "--scheduler", "tcp://127.0.0.1:1"), "are for --executor dask", 2),
        (("--strategy", MA_CROSS, "--ship"), "--scheduler and --ship are for --executor dask", 2),
        (("--strategy", MA_CROSS, "--ship", "--worker-db", "/x.sqlite"), "it takes no --worker-db", 2),
        (("--strategy", MA_CROSS, "--metric", "luck"), "unknown metric 'luck'", 1),
        (("--strategy", MA_CROSS, "--split", "70"), "--split takes TRAIN:TEST", 1),
        (("--strategy", MA_CROSS, "--sessions", "ffff0000"), "ffff0000", 1),
        (("--strategy", "virtuoso.strategies:Nope"), "has no attribute 'Nope'", 1),
        (("--strategy", MA_CROSS, "--workers", "0"), "--workers must be at least 1", 1),
    ],
)
def test_bad_input_is_a_one_line_error(
    tmp_path: Path, demo: Path, args: tuple[str, ...], message: str, code: int
) -> None:
    result = cli("sweep", "--db", demo, "--grid", grid_file(tmp_path), "--out", tmp_path / "out", *args)
    assert result.exit_code == code, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_a_grid_point_the_strategy_refuses_asks_for_a_constraint(tmp_path: Path, demo: Path) -> None:
    grid = grid_file(tmp_path, "[grid]\nfast = [2, 6]\nslow = [4, 6]\n")
    result = cli("sweep", "--db", demo, "--grid", grid, "--strategy", MA_CROSS, "--out", tmp_path / "out")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert f"{grid}: grid point {{'fast': 6, 'slow': 4}}: strategy " in line
    assert "need 0 < fast < slow, not fast=6, slow=4" in line
    assert "exclude such points with [sweep] constraints" in line
