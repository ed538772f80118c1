"""BacktestResult: summary, Parquet files, and the PNG + HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.unit.backtest._ledger import BTC, ETH, MINUTE, T0, Ledger, round_trip
from virtuoso.backtest._frames import ledger_frames
from virtuoso.backtest._metrics import METRIC_KEYS, compute_metrics
from virtuoso.backtest._report import render_chart
from virtuoso.backtest._result import FRAME_NAMES, BacktestResult
from virtuoso.errors import UsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONFIG = {"strategy": "sma-cross", "fast": 5, "slow": 20, "note": "<script>alert(1)</script>"}


def result(ledger: Ledger | None = None, **overrides: object) -> BacktestResult:
    events = (ledger or round_trip()).events
    arguments: dict[str, object] = {
        "run": "3f2a9c", "digest": "d1g3st", "events_in": 1234, "initial_cash": 1000.0,
        "interval_ns": MINUTE, "config": CONFIG,
    }  # fmt: skip
    return BacktestResult.from_events(events, **{**arguments, **overrides})  # type: ignore[arg-type]


def test_from_events_holds_the_frames_and_their_metrics() -> None:
    r = result()
    frames = ledger_frames(round_trip().events)
    pd.testing.assert_frame_equal(r.orders, frames.orders)
    pd.testing.assert_frame_equal(r.equity, frames.equity)
    assert r.metrics == compute_metrics(frames, initial_cash=1000.0, interval_ns=MINUTE)
    assert (r.run, r.digest, r.events_in, r.initial_cash, r.config, r.cached) == (
        "3f2a9c", "d1g3st", 1234, 1000.0, CONFIG, False,
    )  # fmt: skip


def test_summary_is_json_ready() -> None:
    summary = result(cached=True).summary()
    assert list(summary) == ["run", "digest", "events_in", "cached", "annualization", "metrics"]
    assert summary["annualization"] == "too short"  # three minutes of marks
    assert (summary["run"], summary["events_in"], summary["cached"]) == ("3f2a9c", 1234, True)
    assert list(summary["metrics"]) == list(METRIC_KEYS)
    assert summary["metrics"]["trades"] == 1
    assert summary["metrics"]["profit_factor"] is None
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_summary_turns_numpy_and_non_finite_values_into_json_values() -> None:
    r = result()
    odd = BacktestResult(**{**r.__dict__, "metrics": {"trades": np.int64(3), "sharpe": np.float64(np.inf), "x": 0.5}})
    assert odd.summary()["metrics"] == {"trades": 3, "sharpe": None, "x": 0.5}
    assert type(odd.summary()["metrics"]["trades"]) is int


@pytest.mark.parametrize("ledger", [round_trip(), Ledger()], ids=["round-trip", "empty"])
def test_parquet_files_round_trip(tmp_path: Path, ledger: Ledger) -> None:
    r = result(ledger)
    paths = r.to_parquet(tmp_path / "out" / "run")
    assert [p.name for p in paths] == [f"{n}.parquet" for n in FRAME_NAMES] + ["metrics.json"]
    for name in FRAME_NAMES:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "run" / f"{name}.parquet"), getattr(r, name))
    equity = pd.read_parquet(paths[2])
    assert str(equity.index.dtype) == "datetime64[ns, UTC]"
    assert str(pd.read_parquet(paths[1])["ts"].dtype) == "datetime64[ns, UTC]"
    document = json.loads(paths[-1].read_text())
    assert document == {**r.summary(), "initial_cash": 1000.0, "config": CONFIG}
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(p.name for p in paths)  # no temporary left


def test_parquet_rewrites_a_previous_result(tmp_path: Path) -> None:
    result(Ledger()).to_parquet(tmp_path)
    result().to_parquet(tmp_path)
    assert len(pd.read_parquet(tmp_path / "fills.parquet")) == 2


def test_unwritable_directory_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match=f"cannot create the results directory {blocker / 'run'}"):
        result().to_parquet(blocker / "run")


def test_unwritable_file_is_a_usage_error_naming_it_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    (tmp_path / "equity.parquet").mkdir()
    with pytest.raises(UsageError, match=f"cannot write {tmp_path / 'equity.parquet'}"):
        result().to_parquet(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["equity.parquet", "fills.parquet", "orders.parquet"]


def test_report_writes_a_png_and_a_self_contained_interactive_page(tmp_path: Path) -> None:
    r = result()
    page_path = r.report(tmp_path / "report")
    assert page_path == tmp_path / "report" / "report.html"
    png = (tmp_path / "report" / "chart.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000
    page = page_path.read_text()
    assert all(f"<th>{key}" in page for key in METRIC_KEYS)
    assert "<td>0.98%</td>" in page  # total_return 0.979 %
    assert "<td>50.00%</td>" in page  # exposure
    assert "<td>1,009.79</td>" in page  # final equity
    assert "too short to annualize" in page
    assert "3f2a9c" in page
    assert "d1g3st" in page
    assert "sma-cross" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="http' not in page  # plotly.js is inside the page, not fetched from a CDN
    assert "Plotly.newPlot" in page
    assert page.count('class="plotly-graph-div"') == 4  # prices, equity, PnL distribution, period returns
    trips = page.split('id="trips"')[1].split("</table>")[0]
    assert trips.count("<tr>") == 1 + len(r.round_trips)  # the heading row and one per round trip


def test_the_same_result_draws_the_same_png_and_html_bytes(tmp_path: Path) -> None:
    r = result()
    r.report(tmp_path / "a")
    r.report(tmp_path / "b")
    first = (tmp_path / "a" / "chart.png").read_bytes()
    assert first == (tmp_path / "b" / "chart.png").read_bytes()
    assert (tmp_path / "a" / "report.html").read_bytes() == (tmp_path / "b" / "report.html").read_bytes()
    assert b"Software" not in first  # no matplotlib version stamped in the file
    assert render_chart(result(cached=True)) == first


def test_report_of_an_empty_run_and_of_several_symbols(tmp_path: Path) -> None:
    assert result(Ledger()).report(tmp_path / "empty").exists()
    ledger = Ledger()
    for i in range(5):
        ledger.mark(T0 + i * MINUTE, 1000.0 + i, 900.0, {BTC: 100.0 + i, ETH: 10.0 - i}, {BTC: 1.0, ETH: 0.0})
    ledger.fill(T0 + MINUTE, "o1", "sell", 9.0, 1.0, symbol=ETH)
    with_fill = result(ledger)
    without = BacktestResult(**{**with_fill.__dict__, "fills": with_fill.fills[:0]})
    assert render_chart(with_fill).startswith(PNG_SIGNATURE)
    assert render_chart(with_fill) != render_chart(without)  # the fill's marker is drawn
