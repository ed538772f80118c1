"""The boundary arithmetic of ``[record] rotate`` and its config key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.errors import ConfigError
from virtuoso.exchange._config import config_from_mapping
from virtuoso.exchange._rotate import NS, next_boundary_ns, part_name, rotation_period_ns

DAY = 86_400 * NS


@pytest.mark.parametrize(
    ("text", "seconds"), [("1d", 86_400), ("2d", 172_800), ("12h", 43_200), ("1h", 3600), ("5m", 300), ("1s", 1)]
)
def test_periods(text: str, seconds: int) -> None:
    assert rotation_period_ns(text) == seconds * NS


@pytest.mark.parametrize("text", ["", "0h", "1", "h", "1w", "1.5h", " 1h", "-1h", "7m", "25h", "OFF", "01h"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rotate|expected"):
        rotation_period_ns(text)


def test_off_means_no_rotation() -> None:
    assert rotation_period_ns("off") is None


def test_daily_boundary_is_midnight_utc() -> None:
    noon = 1_723_118_400 * NS  # 2024-08-08T12:00:00Z
    assert next_boundary_ns(noon, DAY) == 1_723_161_600 * NS  # 2024-08-09T00:00:00Z
    assert part_name("rec", next_boundary_ns(noon, DAY)) == "rec @2024-08-09T00:00:00Z"


@given(st.integers(min_value=0, max_value=2**62), st.sampled_from(["1d", "1h", "15m", "1s"]))
def test_the_next_boundary_is_the_first_multiple_strictly_after_now(now_ns: int, text: str) -> None:
    period = rotation_period_ns(text)
    assert period is not None
    boundary = next_boundary_ns(now_ns, period)
    assert boundary % period == 0
    assert now_ns < boundary <= now_ns + period


def test_the_config_key() -> None:
    base = {"exchange": {"id": "binance"}, "record": {"symbols": ["BTC/USDT"]}}
    assert config_from_mapping(base, {}, source="t").rotate == "1d"
    hourly = {**base, "record": {"symbols": ["BTC/USDT"], "rotate": "1h"}}
    assert config_from_mapping(hourly, {}, source="t").rotate == "1h"
    with pytest.raises(ConfigError, match="rotate"):
        config_from_mapping({**base, "record": {"symbols": ["BTC/USDT"], "rotate": "7m"}}, {}, source="t")
    with pytest.raises(ConfigError, match="rotate"):
        config_from_mapping({**base, "record": {"symbols": ["BTC/USDT"], "rotate": 3600}}, {}, source="t")
