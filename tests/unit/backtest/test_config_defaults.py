"""What ``BacktestConfig`` derives itself, so that Python callers and the CLI run the same backtest."""

from __future__ import annotations

from virtuoso.backtest import BacktestConfig, StrategySpec
from virtuoso.replay import ReplaySelection, analyzers_named

CONFLUENCE = "virtuoso.strategies:ConfluenceThreshold"
SELECTION = ReplaySelection(sessions=("s1",), order="exchange-time")


def test_analyzers_left_out_are_the_ones_the_strategy_asks_for() -> None:
    spec = StrategySpec.named(CONFLUENCE, {"timeframes": "1s,5s"})

    config = BacktestConfig(SELECTION, spec)

    asked = analyzers_named(spec.cls.analyzers_for(spec.config))
    assert config.analyzers == tuple(asked)
    assert config.analyzers  # the confluence strategy reads indicators: never silently none
    assert config.manifest_config()["analyzers"] == [a.as_config() for a in asked]


def test_analyzers_given_are_kept_even_when_none() -> None:
    spec = StrategySpec.named(CONFLUENCE)
    assert BacktestConfig(SELECTION, spec, analyzers=()).analyzers == ()


def test_a_list_parameter_takes_the_comma_form_demo_prints() -> None:
    spec = StrategySpec.named(CONFLUENCE, {"timeframes": "1s, 5s"})
    assert spec.config.timeframes == ("1s", "5s")  # type: ignore[attr-defined]
