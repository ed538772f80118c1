"""The parameters of the synthetic market, as one frozen, hashable config."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from virtuoso.errors import ConfigError

DEMO_START_NS = 1_723_161_255_000_000_000
"""Exchange time of the synthetic session's start (2024-08-08T23:54:15Z); never the wall clock."""


class MarketConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the generator simulates; every default is documented in ``docs/demo.md``.

    Times are exchange time; rates are per second of it. The defaults give six
    hours, about 30,000 trades and 21,600 book deltas: long enough for the
    confluence score on 5m bars to warm up (about three hours) and then trade.

    >>> MarketConfig(hours=0.5).duration_ns
    1800000000000
    >>> MarketConfig(hours=0)
    Traceback (most recent call last):
    virtuoso.errors.ConfigError: market config: hours must be > 0, not 0
    """

    exchange: str = "synthetic"
    symbol: str = "BTC/USDT"
    start_ns: int = DEMO_START_NS
    hours: float = 6.0
    """Length of the session in exchange time."""
    start_price: float = 60_000.0
    tick_size: float = 0.01
    """A power of ten, as is ``amount_step``: the book counts in ticks and steps."""
    amount_step: float = 0.00001
    trend_per_hour: float = 0.006
    """Mean absolute drift of the anchor in a regime (log-price per hour); its sign alternates between regimes."""
    regime_minutes: float = 40.0
    """Mean length of a trend regime (exponential, at least a quarter of it)."""
    anchor_vol_per_hour: float = 0.002
    """Random-walk volatility of the anchor (log-price per square-root hour)."""
    reversion_half_life_s: float = 240.0
    """How fast the mid reverts to the anchor (Ornstein-Uhlenbeck half-life)."""
    deviation: float = 0.0012
    """Stationary standard deviation of the mid's log distance from the anchor."""
    base_rate: float = 0.5
    """Trades per second without excitation (the Hawkes baseline)."""
    excitation: float = 0.65
    """Jump of the trade intensity after each taker order (per second)."""
    decay: float = 1.0
    """Decay rate of the excitation (per second); ``excitation / decay`` < 1 keeps it stationary."""
    buy_bias: float = 0.12
    """How much more likely a taker buys in an up-trend (and sells in a down-trend)."""
    amount_min: float = 0.0005
    amount_tail: float = 1.6
    """Pareto tail index of taker order sizes (smaller: heavier tail)."""
    amount_max: float = 2.0
    book_levels: int = 10
    """Levels per side."""
    level_gap_ticks: float = 4.0
    """Mean distance between neighbouring levels beyond the touch (geometric)."""
    level_size: float = 0.6
    """Mean size of a new level (exponential)."""
    book_step_s: float = 1.0
    """Period of the book updates (Binance spot's ``@depth`` is 1 s)."""
    updates_per_step: float = 1.5
    """Mean number of resting-size changes (adds, partial cancels) per side and step."""

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"market config: {name} must be > 0, not {value}")
        _check(self.excitation < self.decay, f"excitation ({self.excitation}) must be below decay ({self.decay})")
        _check(0 <= self.buy_bias < 0.5, f"buy_bias must be in [0, 0.5), not {self.buy_bias}")
        _check(self.amount_min <= self.amount_max, "amount_min must not exceed amount_max")
        _check(self.book_levels >= 2, f"book_levels must be >= 2, not {self.book_levels}")
        _check(self.start_price / self.tick_size >= 100, "start_price must be at least 100 ticks")
        for name in ("tick_size", "amount_step"):
            _check(_power_of_ten(getattr(self, name)), f"{name} must be a power of ten (1, 0.1, 0.01...)")

    @property
    def duration_ns(self) -> int:
        """Length of the session in nanoseconds."""
        return round(self.hours * 3600 * 1e9)

    @property
    def step_ns(self) -> int:
        """The book's update period in nanoseconds."""
        return round(self.book_step_s * 1e9)

    def as_dict(self) -> dict[str, Any]:
        """The config as plain values (what the session manifest records)."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> MarketConfig:
        """The config of ``values``; a one-line :class:`ConfigError` for an unknown key or a wrong type."""
        try:
            return msgspec.convert(values, cls)
        except msgspec.ValidationError as e:
            raise ConfigError(f"market config: {e}") from None


_POSITIVE = (
    "hours", "start_price", "tick_size", "amount_step", "regime_minutes", "reversion_half_life_s", "deviation",
    "base_rate", "decay", "amount_min", "amount_tail", "amount_max", "level_gap_ticks", "level_size", "book_step_s",
)  # fmt: skip


def _power_of_ten(value: float) -> bool:
    return any(math.isclose(value, 10.0**-k, rel_tol=1e-12) for k in range(13))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"market config: {message}")
