"""Ranking configurations, and the results table (keys, resumption, identity, Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from virtuoso.backtest import METRIC_KEYS
from virtuoso.errors import UsageError
from virtuoso.sweep import ResultsTable, TaskOutcome, rank
from virtuoso.sweep._tasks import Part, Status


def outcome(
    config: str, value: float | None, *, part: Part = "all", session: str = "s1", ok: bool = True
) -> TaskOutcome:
    metrics: dict[str, Any] = {"total_return": value, "max_drawdown": value, "trades": 3} if ok else {}
    status: Status = "ok" if ok else "failed"
    error = "" if ok else "Boom: x"
    return TaskOutcome(session, part, config, {"fast": config}, None, None, status, error, metrics=metrics)


def test_configurations_rank_by_their_mean_over_sessions_best_first_without_values_last() -> None:
    outcomes = [
        outcome("a", 0.1), outcome("a", 0.3, session="s2"),
        outcome("b", 0.5), outcome("b", None, session="s2"),
        outcome("c", None), outcome("d", 0.0, ok=False),
    ]  # fmt: skip
    ranked = rank(outcomes, "total_return")
    assert [(r.config_hash, r.value, r.sessions, r.failed) for r in ranked] == [
        ("b", 0.5, 1, 0), ("a", pytest.approx(0.2), 2, 0), ("c", None, 0, 0), ("d", None, 0, 1),
    ]  # fmt: skip


def test_drawdown_ranks_lowest_first() -> None:
    ranked = rank([outcome("a", 0.3), outcome("b", 0.1)], "max_drawdown")
    assert [r.config_hash for r in ranked] == ["b", "a"]


def test_with_a_split_the_rank_is_in_sample_and_the_out_of_sample_value_sits_beside_it() -> None:
    outcomes = [outcome("a", 0.1, part="train"), outcome("a", -0.4, part="test"),
                outcome("b", 0.2, part="train"), outcome("b", 0.3, part="test")]  # fmt: skip
    ranked = rank(outcomes, "total_return")
    assert [(r.config_hash, r.value, r.test_value) for r in ranked] == [("b", 0.2, 0.3), ("a", 0.1, -0.4)]


def test_the_table_keeps_outcomes_by_key_and_says_which_are_done(tmp_path: Path) -> None:
    table = ResultsTable(tmp_path / "out", {"strategy": "x"})
    table.record(outcome("b", 0.5))
    table.record(outcome("a", None, ok=False))
    assert table.done() == {("s1", "all", "a"), ("s1", "all", "b")}
    assert table.done(failed=False) == {("s1", "all", "b")}
    table.record(outcome("a", 0.25))  # a retried task replaces its failure
    table.close()
    again = ResultsTable(tmp_path / "out", {"strategy": "x"})
    assert [(o.config_hash, o.status, o.metrics["total_return"]) for o in again.outcomes()] == [
        ("a", "ok", 0.25), ("b", "ok", 0.5),
    ]  # fmt: skip
    again.close()


def test_a_directory_of_another_sweep_is_refused_naming_what_differs(tmp_path: Path) -> None:
    ResultsTable(tmp_path, {"seed": 0, "strategy": "x"}).close()
    with pytest.raises(UsageError, match=r"holds another sweep's results \(seed differs\): use another --out"):
        ResultsTable(tmp_path, {"seed": 1, "strategy": "x"})


def test_parquet_has_one_row_per_task_sorted_by_key_with_every_metric(tmp_path: Path) -> None:
    table = ResultsTable(tmp_path, {})
    for item in (outcome("b", 0.5, session="s2"), outcome("a", None, ok=False), outcome("b", 0.1)):
        table.record(item)
    path = table.write_parquet()
    table.close()
    frame = pd.read_parquet(path)
    assert list(frame[["session", "config_hash"]].itertuples(index=False, name=None)) == [
        ("s1", "a"), ("s1", "b"), ("s2", "b"),
    ]  # fmt: skip
    assert list(frame.columns[-len(METRIC_KEYS) :]) == list(METRIC_KEYS)
    assert frame["param:fast"].tolist() == ["a", "b", "b"]
    assert frame["error"].tolist() == ["Boom: x", "", ""]
    assert pd.isna(frame.loc[0, "total_return"])
    assert frame.loc[1, "total_return"] == 0.1
    assert str(frame["trades"].dtype) == "Int64"
