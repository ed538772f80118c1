"""The simulated venue's settings: fees, latency, slippage, fill model, market rules, starting cash.

A :class:`VenueConfig` is frozen and hashed into the backtest run's manifest,
so a result can be found again by its settings. It reads from TOML (``--venue
FILE``); every setting has a default, and an unknown or mistyped key fails with
one line naming the file and the key.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from virtuoso._toml import load_toml
from virtuoso.errors import ConfigError
from virtuoso.store import config_hash

FillModel = Literal["through", "queue"]
"""``through``: a resting order fills only on a trade strictly through its price. ``queue``: also on trades at
its price, once the volume displayed ahead of it at that level when it arrived has traded."""

_NS_PER_MS = 1_000_000


class _Frozen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    def as_dict(self) -> dict[str, Any]:
        """The settings as plain values (what the run manifest records)."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values


class MarketRules(_Frozen, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the venue accepts for one symbol (0 disables a rule)."""

    tick_size: float = 0.0
    """Limit prices must be multiples of this."""
    amount_step: float = 0.0
    """Amounts must be multiples of this."""
    min_amount: float = 0.0
    min_notional: float = 0.0
    """Smallest price x amount (at the limit price, or the reference price of a market order)."""


class Latency(_Frozen, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How long an order takes to reach the venue, in exchange time.

    ``constant`` (``ms``), ``uniform`` (``low_ms`` to ``high_ms``) or
    ``lognormal`` (``median_ms``, ``sigma``); sampled from the run's seeded
    generator, so a backtest is repeatable.
    """

    kind: Literal["constant", "uniform", "lognormal"] = "constant"
    ms: float = 5.0
    low_ms: float = 1.0
    high_ms: float = 10.0
    median_ms: float = 5.0
    sigma: float = 0.5

    def sampler(self, rng: random.Random) -> Callable[[], int]:
        """A function giving one latency in ns per call."""
        if self.kind == "uniform":
            low, high = self.low_ms * _NS_PER_MS, self.high_ms * _NS_PER_MS
            return lambda: int(rng.uniform(low, high))
        if self.kind == "lognormal":
            mu, sigma = math.log(self.median_ms * _NS_PER_MS), self.sigma
            return lambda: int(rng.lognormvariate(mu, sigma))
        constant = int(self.ms * _NS_PER_MS)
        return lambda: constant


class VenueConfig(_Frozen, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The simulated venue and portfolio settings of a backtest.

    >>> config = VenueConfig.from_mapping({"taker_fee_bps": 7.5, "markets": {"BTC/USDT": {"tick_size": 0.01}}})
    >>> config.taker_fee_bps, config.rules_for("BTC/USDT").tick_size, config.rules_for("ETH/USDT").tick_size
    (7.5, 0.01, 0.0)
    >>> VenueConfig.from_mapping({"maker_fee_bps": -1})
    Traceback (most recent call last):
    virtuoso.errors.ConfigError: venue: maker_fee_bps must be >= 0 (fees are never negative), not -1.0
    """

    initial_cash: float = 10_000.0
    """Starting cash, in the quote currency."""
    maker_fee_bps: float = 10.0
    taker_fee_bps: float = 10.0
    slippage_bps: float = 1.0
    """Added against the order to the next trade's price, for market orders on a symbol without a book."""
    latency: Latency = msgspec.field(default_factory=Latency)
    fill_model: FillModel = "through"
    allow_short: bool = False
    """Sell more than held (a negative position); off by default, as on a spot market."""
    mark_interval_s: float = 60.0
    """The portfolio is marked to market every this many seconds of exchange time (the equity curve)."""
    markets: dict[str, MarketRules] = msgspec.field(default_factory=dict)
    default_market: MarketRules = msgspec.field(default_factory=MarketRules)
    """Rules of symbols neither ``markets`` nor the log's recorded markets name."""
    use_recorded_markets: bool = True
    """Apply the markets the log records (``MarketsLoaded``) in force at each time, below ``markets``."""
    use_recorded_fees: bool = True
    """A recorded market's fees replace ``maker_fee_bps``/``taker_fee_bps`` for its symbol."""

    def __post_init__(self) -> None:
        for name in ("maker_fee_bps", "taker_fee_bps"):
            value = getattr(self, name)
            if not value >= 0:
                raise ConfigError(f"venue: {name} must be >= 0 (fees are never negative), not {value}")
        _positive("initial_cash", self.initial_cash)
        _positive("mark_interval_s", self.mark_interval_s)
        if not self.slippage_bps >= 0:
            raise ConfigError(f"venue: slippage_bps must be >= 0, not {self.slippage_bps}")
        if min(self.latency.ms, self.latency.low_ms, self.latency.median_ms) < 0 or self.latency.high_ms < 0:
            raise ConfigError("venue: latency must not be negative")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "venue") -> VenueConfig:
        """The config of ``values`` (a parsed TOML document); one-line :class:`ConfigError` naming ``source``."""
        try:
            return msgspec.convert(dict(values), cls)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("venue:", f"{source}:", 1)) from None

    def rules_for(self, symbol: str) -> MarketRules:
        """The configured market rules of ``symbol`` (the venue's :class:`MarketRulebook` adds the recorded ones)."""
        return self.markets.get(symbol, self.default_market)

    @property
    def mark_interval_ns(self) -> int:
        """:attr:`mark_interval_s` in ns."""
        return int(self.mark_interval_s * 1_000_000_000)

    def hash(self) -> str:
        """The content hash of the settings."""
        return config_hash(self.as_dict())


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"venue: {name} must be > 0, not {value}")


def load_venue_config(path: Path | None) -> VenueConfig:
    """The venue settings in TOML file ``path`` (top-level keys, or a ``[venue]`` table); defaults for ``None``."""
    if path is None:
        return VenueConfig()
    raw = load_toml(path, "venue")
    table = raw.get("venue", raw)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [venue] must be a table")
    return VenueConfig.from_mapping(table, source=str(path))
