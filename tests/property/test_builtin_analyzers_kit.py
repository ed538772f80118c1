"""Every built-in analyzer passes the property-testing kit (deterministic, causal, resumable,
chunking-invariant, bounded, clock-clean), with short warm-ups so that drawn sessions reach outputs."""

from __future__ import annotations

from typing import Any

import pytest

from virtuoso.analysis import ANALYZERS, config_for, instantiate
from virtuoso.clock import Clock
from virtuoso.testing import check_analyzer

# Short periods: the properties do not depend on them, and most drawn sessions then produce outputs.
SHORT: dict[str, dict[str, Any]] = {
    "ema": {"period": 3},
    "rsi": {"period": 3},
    "macd": {"fast": 2, "slow": 3, "signal": 2},
    "bollinger": {"period": 3},
    "atr": {"period": 3},
    "realized-vol": {"period": 3},
    "relative-volume": {"period": 3},
    "confluence": {
        "timeframes": {"1m": 1.0},
        "ema_period": 3,
        "rsi_period": 3,
        "macd_fast": 2,
        "macd_slow": 3,
        "macd_signal": 2,
        "bollinger_period": 3,
    },
}


def _config(name: str) -> dict[str, Any]:
    fields = set(ANALYZERS[name].config_type.__struct_fields__)
    return {key: value for key, value in SHORT.get(name, {}).items() if key in fields}


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_builtin_analyzer_passes_the_kit(name: str) -> None:
    config = config_for(name, _config(name))

    def factory(clock: Clock) -> Any:
        return instantiate(ANALYZERS[name], config, clock)

    report = check_analyzer(factory, max_examples=25, derandomize=True, raise_on_failure=True)

    assert not report.failed
    assert not report.vacuous, f"{name}: no drawn session produced an output"
