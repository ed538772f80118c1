"""Sweeps on the local executors over the demo log: identical tables in one and in two processes, resumption,
failures recorded, walk-forward splits, and a worker dying mid-task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration._sweep import demo_log, file_hash, grid_file, strategies_file, sweep, sweep_config
from virtuoso.sweep import LocalExecutor, SerialExecutor, TaskOutcome, run_sweep


class Interrupted(Exception):
    """Stands for a Ctrl-C in the middle of a sweep."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweep")


@pytest.fixture(scope="module")
def demo(folder: Path) -> Path:
    return demo_log(folder)


@pytest.fixture(scope="module")
def reference(folder: Path, demo: Path) -> pd.DataFrame:
    """The serial sweep of the small grid: the table the other executors must give."""
    report, frame = sweep(sweep_config(demo, grid_file(folder)), folder / "serial")
    assert (report.tasks, report.ran, report.failed) == (5, 5, 0)
    return frame


def test_two_processes_give_the_serial_table_and_never_write_to_the_log(
    tmp_path: Path, demo: Path, reference: pd.DataFrame
) -> None:
    before = file_hash(demo)
    report, frame = sweep(sweep_config(demo, grid_file(tmp_path)), tmp_path / "out", LocalExecutor(2))
    pd.testing.assert_frame_equal(frame, reference)
    assert file_hash(demo) == before
    assert (frame["status"] == "ok").all()
    assert frame["trades"].min() > 0
    assert Path(report.files["heatmap"]).stat().st_size > 0


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path: Path, demo: Path, reference: pd.DataFrame) -> None:
    config = sweep_config(demo, grid_file(tmp_path))

    def stop_after_two(outcome: TaskOutcome, done: int, total: int) -> None:
        if done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_sweep(config, SerialExecutor(), tmp_path / "out", on_progress=stop_after_two)
    report, frame = sweep(config, tmp_path / "out")
    assert (report.skipped, report.ran) == (2, 3)
    pd.testing.assert_frame_equal(frame, reference)
    again, _ = sweep(config, tmp_path / "out")
    assert (again.skipped, again.ran) == (5, 0)


def test_a_failing_configuration_records_its_error_and_the_sweep_goes_on(tmp_path: Path, demo: Path) -> None:
    grid = grid_file(tmp_path, "[grid]\ntimeframe = '1s'\nfast = 2\nslow = [4, 6]\nexplode = [false, true]\n")
    config = sweep_config(demo, grid, f"{strategies_file(tmp_path)}:Fails")
    report, frame = sweep(config, tmp_path / "out")
    assert (report.tasks, report.failed) == (4, 2)
    failed = frame[frame["status"] == "failed"]
    assert failed["param:explode"].tolist() == [True, True]
    assert failed["error"].str.contains("ZeroDivisionError: no edge").all()
    assert failed["total_return"].isna().all()
    assert [r.failed for r in report.ranking] == [0, 0, 1, 1]
    skipped, _ = sweep(config, tmp_path / "out")
    assert (skipped.ran, skipped.failed) == (0, 2)
    with SerialExecutor() as executor:
        retried = run_sweep(config, executor, tmp_path / "out", retry_failed=True)
    assert (retried.ran, retried.failed) == (2, 2)


def test_a_walk_forward_split_runs_each_configuration_in_and_out_of_sample(tmp_path: Path, demo: Path) -> None:
    report, frame = sweep(sweep_config(demo, grid_file(tmp_path), split=(70, 30)), tmp_path / "out")
    assert report.tasks == 10
    train, test = frame[frame["part"] == "train"], frame[frame["part"] == "test"]
    assert len(train) == len(test) == 5
    assert train["end_ns"].tolist() == test["start_ns"].tolist()
    first, cut, end = train["start_ns"].iloc[0], train["end_ns"].iloc[0], test["end_ns"].iloc[0]
    assert (cut - first) / (end - first) == pytest.approx(0.7, abs=1e-6)
    assert (train["events_in"].to_numpy() > test["events_in"].to_numpy()).all()
    assert all(r.value is not None and r.test_value is not None for r in report.ranking)
    values = [r.value for r in report.ranking]
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]


def test_a_worker_dying_mid_task_is_replaced_and_the_sweep_completes(tmp_path: Path, demo: Path) -> None:
    grid = grid_file(tmp_path, f"[grid]\ntimeframe = '1s'\nfast = 2\nslow = [4, 6, 8]\nmarker = '{tmp_path / 'm'}'\n")
    config = sweep_config(demo, grid, f"{strategies_file(tmp_path)}:DiesOnce")
    report, frame = sweep(config, tmp_path / "pool", LocalExecutor(2))
    assert (tmp_path / "m").exists()  # a worker did die
    assert (report.ran, report.failed) == (3, 0)
    _, serial = sweep(config, tmp_path / "serial")  # the marker exists now: nothing dies
    pd.testing.assert_frame_equal(frame, serial)
