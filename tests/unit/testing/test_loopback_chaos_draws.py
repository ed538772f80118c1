"""Chaos mode's draws: per channel, from the seed alone, dealing every kind of the channel in turn."""

from __future__ import annotations

import pytest

from virtuoso.errors import UsageError
from virtuoso.testing import CHAOS_KINDS, ChaosConfig
from virtuoso.testing._chaos import Chaos, kinds_for


def rest_draws(chaos: Chaos, path: str, count: int) -> list[str | None]:
    return [getattr(chaos.rest_fault(path, n), "action", None) for n in range(1, count + 1)]


def ws_draws(chaos: Chaos, stream: str, event: str, count: int, first: int = 1) -> list[str | None]:
    frames = range(first, first + count)
    return [getattr(chaos.ws_fault("spot", stream, event, n, n), "action", None) for n in frames]


def test_a_channels_draws_depend_on_the_seed_only_not_on_the_other_channels() -> None:
    alone = Chaos(ChaosConfig(seed=11, rate=0.2))
    mixed = Chaos(ChaosConfig(seed=11, rate=0.2))
    expected = ws_draws(alone, "btcusdt@trade", "trade", 500)

    interleaved: list[str | None] = []
    for n in range(500):
        rest_draws(mixed, "/api/v3/depth", n % 3)
        ws_draws(mixed, "btcusdt@depth", "depth", 2, 2 * n)
        interleaved += ws_draws(mixed, "btcusdt@trade", "trade", 1, n + 1)

    assert interleaved == expected
    assert ws_draws(Chaos(ChaosConfig(seed=12, rate=0.2)), "btcusdt@trade", "trade", 500) != expected


def test_every_kind_of_a_channel_is_drawn_once_per_deck() -> None:
    chaos = Chaos(ChaosConfig(seed=3, rate=1.0))
    trade_kinds = kinds_for("trade")

    dealt = ws_draws(chaos, "btcusdt@trade", "trade", 3 * len(trade_kinds))
    rest = rest_draws(chaos, "/api/v3/aggTrades", 18)
    info = rest_draws(chaos, "/api/v3/exchangeInfo", 12)

    for deck in range(3):
        assert sorted(dealt[deck * len(trade_kinds) : (deck + 1) * len(trade_kinds)]) == sorted(trade_kinds)  # type: ignore[type-var]
    assert "reset" not in trade_kinds
    assert "reset" in kinds_for("depth")
    assert "garbage" not in kinds_for("kline")
    assert len(set(rest)) == 18  # every REST kind, row faults included
    assert not {"missing", "ids-backwards"} & set(info)  # no row faults where there are no rows


def test_asking_again_for_the_same_frame_draws_nothing_more() -> None:
    once, twice = Chaos(ChaosConfig(seed=9, rate=0.5)), Chaos(ChaosConfig(seed=9, rate=0.5))

    expected = [once.ws_fault("spot", "btcusdt@trade", "trade", frame) for frame in range(200)]
    repeated = [twice.ws_fault("spot", "btcusdt@trade", "trade", frame // 2) for frame in range(400)]

    assert repeated[::2] == repeated[1::2] == expected


def test_a_spent_fault_is_not_applied_again_to_the_same_frame() -> None:
    chaos = Chaos(ChaosConfig(seed=2, rate=1.0, kinds=("stall",)))

    first = chaos.ws_fault("spot", "btcusdt@trade", "trade", 10)
    chaos.spent("spot", "btcusdt@trade", 10)

    assert first is not None
    assert first.action == "stall"
    assert chaos.ws_fault("spot", "btcusdt@trade", "trade", 10) is None
    assert chaos.ws_fault("spot", "btcusdt@trade", "trade", 11) is not None


def test_the_rate_is_the_share_of_faulty_draws() -> None:
    chaos = Chaos(ChaosConfig(seed=5, rate=0.05))

    draws = ws_draws(chaos, "btcusdt@bookTicker", "bookTicker", 20_000)

    assert 0.04 < sum(kind is not None for kind in draws) / len(draws) < 0.06


def test_kinds_narrow_what_is_drawn_bare_names_meaning_both_channels() -> None:
    config = ChaosConfig(seed=1, rate=1.0, kinds=("malformed", "ws:cut", "rest:429"))
    chaos = Chaos(config)

    assert config.allowed() == {"rest:malformed", "ws:malformed", "ws:cut", "rest:429"}
    assert set(ws_draws(chaos, "btcusdt@trade", "trade", 20)) == {"malformed", "cut"}
    assert set(rest_draws(chaos, "/api/v3/depth", 20)) == {"malformed", "429"}
    assert set(ChaosConfig(seed=1).allowed()) == set(CHAOS_KINDS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 1.5}, "chaos rate must be between 0 and 1"),
        ({"rate": -0.1}, "chaos rate must be between 0 and 1"),
        ({"seconds": -1.0}, "chaos seconds must be >= 0"),
        ({"kinds": ("explode",)}, "unknown chaos kind 'explode'"),
        ({"kinds": ("ws:pause",)}, "unknown chaos kind 'ws:pause'"),
    ],
)
def test_bad_chaos_settings_are_one_line_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message) as raised:
        ChaosConfig(seed=1, **options)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)
