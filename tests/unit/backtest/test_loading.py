"""Finding strategies by reference, and the spec a run manifest records."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.backtest import Strategy, StrategySpec, load_strategy
from virtuoso.errors import ConfigError, UsageError
from virtuoso.strategies import ConfluenceThreshold, MovingAverageCross

USER_STRATEGY = """
from virtuoso.backtest import Strategy, StrategyConfig

class Params(StrategyConfig, frozen=True, kw_only=True):
    threshold: float = 1.5

class Mine(Strategy):
    Config = Params
"""


def test_the_samples_load_by_module_reference() -> None:
    assert load_strategy("virtuoso.strategies:MovingAverageCross") is MovingAverageCross
    assert load_strategy("virtuoso.strategies:ConfluenceThreshold") is ConfluenceThreshold


def test_a_file_reference_imports_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(USER_STRATEGY)
    cls = load_strategy(f"{path}:Mine")
    assert issubclass(cls, Strategy)
    assert cls.__name__ == "Mine"
    spec = StrategySpec.named(f"{path}:Mine", {"threshold": "2.5"})
    assert spec.build().config.threshold == 2.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-colon", "expected MODULE:CLASS"),
        ("virtuoso.strategies:", "expected MODULE:CLASS"),
        ("virtuoso.nope:Thing", "cannot import virtuoso.nope"),
        ("virtuoso.strategies:Nope", "has no attribute 'Nope'"),
        ("virtuoso.events:Trade", "Trade is not a subclass"),
        ("missing.py:Thing", "no such file missing.py"),
        ("os:system", "system is not a subclass"),
    ],
)
def test_bad_references_fail_in_one_line(ref: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        load_strategy(ref)
    assert "\n" not in str(caught.value)
    assert repr(ref) in str(caught.value)


def test_a_file_that_fails_to_import_names_the_file_and_the_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match=r"broken.py failed to import: RuntimeError: boom"):
        load_strategy(f"{path}:Thing")


def test_parameters_are_checked_and_converted() -> None:
    spec = StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": "3", "slow": 7, "amount": "0.5"})
    assert (spec.config.fast, spec.config.slow, spec.config.amount) == (3, 7, 0.5)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"unknown parameter 'fsat' \(known: amount, fast, slow, symbol, timeframe\)"):
        StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fsat": 3})
    with pytest.raises(ConfigError, match="need 0 < fast < slow"):
        StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": 9, "slow": 3})
    with pytest.raises(ConfigError, match="Expected `int`"):
        StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": "many"})


def test_the_manifest_records_reference_class_parameters_and_source(tmp_path: Path) -> None:
    spec = StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": 4})
    recorded = spec.as_config()
    assert recorded["ref"] == "virtuoso.strategies:MovingAverageCross"
    assert recorded["config"]["fast"] == 4
    assert recorded["hash"] == spec.config.hash()
    assert len(recorded["source_hash"]) == 64
    other = StrategySpec.named("virtuoso.strategies:MovingAverageCross", {"fast": 5}).as_config()
    assert other["hash"] != recorded["hash"]
    path = tmp_path / "mine.py"
    path.write_text(USER_STRATEGY)
    before = StrategySpec.named(f"{path}:Mine").as_config()["source_hash"]
    path.write_text(USER_STRATEGY + "\n# edited\n")
    after = StrategySpec.named(f"{path}:Mine").as_config()["source_hash"]
    assert before != after  # editing a strategy makes a new run, not a stale cached one
