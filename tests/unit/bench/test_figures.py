"""Pipeline figures: saved and loaded as they were, compared on floor units with the tolerance and noise rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.bench import NOISE_SHARE, PipelineFigures, StageFigure, compare, load_analyzers
from virtuoso.bench._figures import stage_figures, stage_units
from virtuoso.errors import UsageError


def _figures(units: dict[str, float], *, session: str = "s", config_hash: str = "h") -> PipelineFigures:
    total = sum(units.values())
    stages = tuple(StageFigure(name, round(u * 1000), 0.0, 0.0, u, 1) for name, u in units.items())
    return PipelineFigures(
        session, 10, 0, 3, round(total * 1000), 1000, round(total * 1000), 1000, 1.0, 1.0, 1 / total, 1,
        stages, config_hash=config_hash,
    )  # fmt: skip


def test_save_and_load_give_the_same_figures(tmp_path: Path) -> None:
    figures = _figures({"analyzer:x": 3.0, "read+decode": 1.0})
    figures.save(tmp_path / "deep" / "run.json")
    assert PipelineFigures.load(tmp_path / "deep" / "run.json") == figures


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "no such saved benchmark"), ("{", "not a saved pipeline benchmark"), ('{"stages": []}', "not a saved")],
)
def test_loading_something_else_is_one_error_naming_the_file(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "run.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError, match=message) as caught:
        PipelineFigures.load(path)
    assert str(caught.value).endswith(f"({path})")


def test_a_stage_slower_beyond_the_tolerance_fails_and_a_small_one_does_not() -> None:
    before = _figures({"analyzer:x": 3.0, "bus": 0.1, "read+decode": 1.0})
    # bus doubles, but by less than NOISE_SHARE of the whole: not judged slower
    after = _figures({"analyzer:x": 3.0, "bus": 0.2, "read+decode": 1.0})
    assert NOISE_SHARE * 4.1 > 0.1
    assert compare(before, after).slower == ()
    slower = compare(before, _figures({"analyzer:x": 3.6, "bus": 0.1, "read+decode": 1.0}))
    assert [row.name for row in slower.slower] == ["total", "analyzer:x"]
    assert compare(before, _figures({"analyzer:x": 3.6, "bus": 0.1, "read+decode": 1.0}), 0.25).slower == ()


def test_stages_new_or_gone_are_listed_not_judged() -> None:
    rows = compare(_figures({"a": 1.0, "gone": 1.0}), _figures({"a": 1.0, "new": 5.0})).rows
    by_name = {row.name: row for row in rows}
    assert (by_name["gone"].after, by_name["gone"].slower) == (None, False)
    assert (by_name["new"].before, by_name["new"].slower) == (None, False)


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(UsageError, match="tolerance"):
        compare(_figures({"a": 1.0}), _figures({"a": 1.0}), -0.1)


def test_stage_figures_are_shares_of_the_round_largest_first_other_last() -> None:
    stages = stage_figures({"other": 500, "a": 100, "b": 400}, {"a": 2, "b": 4}, 10, {"a": 1.0, "b": 4.0})
    assert [s.name for s in stages] == ["b", "a", "other"]
    assert [round(s.share, 2) for s in stages] == [0.4, 0.1, 0.5]
    assert stages[0].ns_per_event == 40.0
    assert stage_units([{"a": 1.0}, {"a": 5.0}, {"a": 2.0, "b": 1.0}]) == {"a": 2.0, "b": 0.0}


def test_an_analyzers_python_file_names_its_pipeline(tmp_path: Path) -> None:
    good = tmp_path / "mine.py"
    good.write_text('PIPELINE = "rsi"\n')
    assert [spec.name for spec in load_analyzers(str(good))] == ["bars", "rsi"]
    unknown = tmp_path / "unknown.py"
    unknown.write_text('PIPELINE = "nope"\n')
    with pytest.raises(UsageError, match=r"unknown analyzer 'nope'.*\(.*unknown\.py\)$"):
        load_analyzers(str(unknown))
