"""The Dask executor against a loopback ``LocalCluster`` of two worker processes: the serial table again,
and a worker dying mid-task does not stop the sweep (Dask reschedules its task)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.integration._sweep import demo_log, grid_file, strategies_file, sweep, sweep_config
from virtuoso.errors import UsageError
from virtuoso.sweep import DaskExecutor

distributed = pytest.importorskip("distributed")

LOOPBACK_ANY_PORT = "127.0.0.1:0"
"""The scheduler's HTTP server (health and metrics routes; there is no dashboard without bokeh) on a free
loopback port: with ``dashboard_address=None`` it still tries 8787 and warns when another cluster holds it."""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=LOOPBACK_ANY_PORT
    )
    with cluster, distributed.Client(cluster, timeout=30) as connected:
        yield connected


@pytest.mark.timeout(120)
def test_a_local_cluster_gives_the_serial_table(tmp_path: Path, client: Any) -> None:
    config = sweep_config(demo_log(tmp_path), grid_file(tmp_path))
    _, serial = sweep(config, tmp_path / "serial")
    report, frame = sweep(config, tmp_path / "dask", DaskExecutor(client=client))
    assert (report.ran, report.failed) == (5, 0)
    pd.testing.assert_frame_equal(frame, serial)
    assert client.status == "running"  # an executor given a client leaves it open


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_sweep_is_replaced_and_the_sweep_completes(tmp_path: Path, client: Any) -> None:
    marker = tmp_path / "died"
    grid = grid_file(tmp_path, f"[grid]\ntimeframe = '1s'\nfast = 2\nslow = [4, 6, 8, 10]\nmarker = '{marker}'\n")
    config = sweep_config(demo_log(tmp_path), grid, f"{strategies_file(tmp_path)}:DiesOnce")
    report, frame = sweep(config, tmp_path / "dask", DaskExecutor(client=client))
    assert marker.exists()  # one worker process did die, in the middle of a task
    assert (report.ran, report.failed) == (4, 0)
    _, serial = sweep(config, tmp_path / "serial")
    pd.testing.assert_frame_equal(frame, serial)
    client.wait_for_workers(2, timeout=30)  # the nanny restarted it


def test_an_unreachable_scheduler_is_a_one_line_error() -> None:
    with pytest.raises(UsageError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        DaskExecutor("tcp://127.0.0.1:1", timeout_s=1.0)


@pytest.mark.timeout(120)
def test_sessions_shipped_as_parquet_give_the_same_table(tmp_path: Path, client: Any) -> None:
    config = sweep_config(demo_log(tmp_path), grid_file(tmp_path))
    _, serial = sweep(config, tmp_path / "serial")
    report, frame = sweep(config, tmp_path / "shipped", DaskExecutor(client=client, ship=True))
    assert (report.ran, report.failed) == (5, 0)
    pd.testing.assert_frame_equal(frame, serial)  # digests too: the log holds this one session
