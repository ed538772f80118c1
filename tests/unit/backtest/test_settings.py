"""Venue settings and run files: defaults, validation, one-line errors naming the file, the example files."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.backtest import StrategySpec, VenueConfig, load_run_file, load_venue_config
from virtuoso.errors import ConfigError
from virtuoso.replay import analyzers_named

REPLAYS = Path(__file__).parents[3] / "replays"


def test_defaults_and_hash() -> None:
    config = VenueConfig()
    assert (config.initial_cash, config.maker_fee_bps, config.taker_fee_bps, config.fill_model) == (
        10_000.0, 10.0, 10.0, "through",
    )  # fmt: skip
    assert config.mark_interval_ns == 60_000_000_000
    assert config.hash() == VenueConfig().hash() != VenueConfig(taker_fee_bps=5.0).hash()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"taker_fee_bps": -0.5}, "taker_fee_bps must be >= 0"),
        ({"initial_cash": 0}, "initial_cash must be > 0"),
        ({"mark_interval_s": 0}, "mark_interval_s must be > 0"),
        ({"slippage_bps": -1}, "slippage_bps must be >= 0"),
        ({"latency": {"ms": -1}}, "latency must not be negative"),
        ({"fill_model": "magic"}, "fill_model"),
        ({"fees": 1}, "unknown field `fees`"),
        ({"markets": {"BTC/USDT": {"tick": 0.01}}}, "unknown field `tick`"),
    ],
)
def test_bad_settings_fail_naming_the_source(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        VenueConfig.from_mapping(values, source="v.toml")
    assert str(caught.value).startswith("v.toml:")
    assert "\n" not in str(caught.value)


def test_latency_samplers_are_seeded_and_in_range() -> None:
    import random

    from virtuoso.backtest import Latency

    uniform = Latency(kind="uniform", low_ms=2.0, high_ms=4.0)
    draws = [uniform.sampler(random.Random(7))() for _ in range(3)]
    assert draws == [uniform.sampler(random.Random(7))() for _ in range(3)]
    sample = uniform.sampler(random.Random(1))
    assert all(2_000_000 <= sample() <= 4_000_000 for _ in range(200))
    lognormal = Latency(kind="lognormal", median_ms=5.0, sigma=0.5).sampler(random.Random(3))
    values = sorted(lognormal() for _ in range(999))
    assert 4_000_000 < values[499] < 6_000_000  # the median is near median_ms
    assert Latency(ms=2.5).sampler(random.Random(0))() == 2_500_000


def test_venue_files(tmp_path: Path) -> None:
    path = tmp_path / "venue.toml"
    path.write_text("[venue]\ntaker_fee_bps = 4.0\n[venue.markets.'BTC/USDT']\nmin_notional = 5.0\n")
    config = load_venue_config(path)
    assert config.taker_fee_bps == 4.0
    assert config.rules_for("BTC/USDT").min_notional == 5.0
    assert load_venue_config(None) == VenueConfig()
    with pytest.raises(ConfigError, match="no such venue file"):
        load_venue_config(tmp_path / "absent.toml")
    path.write_text("taker_fee_bps = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_venue_config(path)


def test_run_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    cases = {
        "[backtest]\nstratgy = 'x:Y'\n": "unknown key 'stratgy'",
        "[backtset]\n": "unknown table 'backtset'",
        "[backtest]\nseed = 'one'\n": "seed must be a int",
        "[backtest]\nparams = 3\n": r"\[backtest.params\] must be a table",
        "[backtest]\nanalyzers = 3\n": "analyzers must be a string or a list of tables",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError, match=message) as caught:
            load_run_file(path)
        assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize("name", ["backtest-ma-cross.toml", "backtest-confluence.toml"])
def test_the_example_run_files_load_and_build(name: str) -> None:
    file = load_run_file(REPLAYS / name)
    assert file.strategy is not None
    assert file.venue is not None
    spec = StrategySpec.named(file.strategy, file.params)
    venue = VenueConfig.from_mapping(file.venue, source=name)
    assert venue.rules_for("BTC/USDT").tick_size == 0.01
    names = [a.name for a in analyzers_named(spec.cls.analyzers_for(spec.config))]
    assert names[0] == "bars"


def test_the_example_venue_file_loads() -> None:
    config = load_venue_config(REPLAYS / "venue-binance-spot.toml")
    assert config.fill_model == "queue"
    assert config.latency.kind == "uniform"
    assert config.rules_for("ETH/USDT").amount_step == 0.00001
