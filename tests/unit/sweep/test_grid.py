"""Grid files: values, ranges, constraints and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.errors import ConfigError
from virtuoso.sweep import Grid, load_grid

GRID = """
[sweep]
strategy = "virtuoso.strategies:MovingAverageCross"
constraints = ["fast < slow", "slow <= 3 * fast"]

[grid]
timeframe = "1s"
fast = [2, 3, 3]
slow = {from = 4, to = 9, step = 2}
"""


def test_a_grid_file_lists_the_points_meeting_every_constraint(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    grid = load_grid(path)
    assert grid.params == {"timeframe": ("1s",), "fast": (2, 3), "slow": (4, 6, 8)}
    assert grid.varying == ("fast", "slow")
    assert [(p["fast"], p["slow"]) for p in grid.points()] == [(2, 4), (2, 6), (3, 4), (3, 6), (3, 8)]
    assert grid.settings == {"strategy": "virtuoso.strategies:MovingAverageCross"}


def test_ranges_include_both_ends_and_float_steps_do_not_drift() -> None:
    grid = Grid.from_mapping({"grid": {"x": {"from": 0.1, "to": 0.5, "step": 0.1}, "n": {"from": 1, "to": 3}}})
    assert grid.params["x"] == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert grid.params["n"] == (1, 2, 3)


def test_constraints_support_arithmetic_boolean_logic_and_chains() -> None:
    document = {"grid": {"a": [1, 2, 3], "b": [1, 2, 3]}, "sweep": {"constraints": ["1 <= a < b and not b % 2 == 1"]}}
    assert [(p["a"], p["b"]) for p in Grid.from_mapping(document).points()] == [(1, 2)]
    either = {"grid": {"a": [1, 2], "b": [1, 2]}, "sweep": {"constraints": "a == b or -a + b * 1.0 / 1 > 0"}}
    assert [(p["a"], p["b"]) for p in Grid.from_mapping(either).points()] == [(1, 1), (1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"grid": {"a": [1]}, "sweep": {"constraints": ["a < b"]}}, "unknown parameter 'b' (known: a)"),
        ({"grid": {"a": [1]}, "sweep": {"constraints": ["__import__('os')"]}}, "Call is not allowed"),
        ({"grid": {"a": [1]}, "sweep": {"constraints": ["a.real > 0"]}}, "Attribute is not allowed"),
        ({"grid": {"a": [1]}, "sweep": {"constraints": ["a <"]}}, "not an expression"),
        ({"grid": {"a": [1]}, "sweep": {"constraints": [3]}}, "must be a list of strings"),
        ({"grid": {"a": {"from": 3, "to": 1}}}, "grid.a: need step > 0 and from <= to"),
        ({"grid": {"a": {"from": 1}}}, "grid.a: a range is {from = A, to = B, step = S}"),
        ({"grid": {"a": {"from": 0, "to": 1e9, "step": 1}}}, "too many"),
        ({"grid": {"a": []}}, "grid.a: no values"),
        ({"grid": {"a": [[1]]}}, "is not a number, a string or a boolean"),
        ({"grid": {"a": [1]}, "sweep": {"strategi": "x"}}, "[sweep] has no key 'strategi'"),
        ({"grid": {"a": [1]}, "params": {}}, "unknown table 'params'"),
        ({"grid": 3}, "[grid] must be a table"),
    ],
)
def test_bad_grids_are_one_line_errors_naming_the_file_and_key(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Grid.from_mapping(document, source="g.toml")
    assert str(raised.value).startswith("g.toml: ")
    assert message in str(raised.value)


def test_a_constraint_comparing_text_with_a_number_names_the_point() -> None:
    grid = Grid.from_mapping({"grid": {"a": ["x"]}, "sweep": {"constraints": ["a < 2"]}}, source="g.toml")
    with pytest.raises(ConfigError, match=r"g.toml: constraint 'a < 2': .* at \{'a': 'x'\}"):
        list(grid.points())


def test_missing_and_invalid_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such grid file"):
        load_grid(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load_grid(bad)


def test_the_example_grid_file_in_replays_loads() -> None:
    from virtuoso.backtest import StrategySpec, VenueConfig

    grid = load_grid(Path(__file__).parents[3] / "replays" / "sweep-ma-cross.toml")
    points = list(grid.points())
    assert len(points) == 11
    assert all(p["fast"] < p["slow"] <= 6 * p["fast"] for p in points)
    assert all(StrategySpec.named(grid.settings["strategy"], p).config.hash() for p in points)
    assert VenueConfig.from_mapping(grid.venue or {}).taker_fee_bps == 10.0
