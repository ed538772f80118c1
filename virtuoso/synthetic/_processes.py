"""The two random processes under the synthetic market: the mid price and the taker arrivals."""

from __future__ import annotations

import math
import random

from virtuoso.synthetic._config import MarketConfig

_HOUR = 3600.0


class MidPrice:
    """A trending anchor plus an Ornstein-Uhlenbeck deviation from it, in log price.

    The anchor drifts at ``±trend_per_hour`` (the sign alternates between
    regimes of exponential length, the size varies) plus a small random walk;
    the mid reverts to it with the configured half-life. Being an exponential,
    the price stays positive.
    """

    def __init__(self, config: MarketConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self._anchor = 0.0
        self._deviation = rng.gauss(0.0, config.deviation)
        self._direction = rng.choice((-1.0, 1.0))
        self._regime_left = 0.0
        self.drift = 0.0
        """The anchor's drift now (log-price per second): its sign is the trend."""
        self._new_regime()

    @property
    def price(self) -> float:
        """The mid now."""
        return self._config.start_price * math.exp(self._anchor + self._deviation)

    def step(self, dt: float) -> float:
        """Move ``dt`` seconds on; the new mid."""
        config, gauss = self._config, self._rng.gauss
        self._regime_left -= dt
        if self._regime_left <= 0:
            self._direction = -self._direction
            self._new_regime()
        self._anchor += self.drift * dt + config.anchor_vol_per_hour * math.sqrt(dt / _HOUR) * gauss(0.0, 1.0)
        keep = math.exp(-math.log(2) * dt / config.reversion_half_life_s)
        self._deviation = self._deviation * keep + config.deviation * math.sqrt(1 - keep * keep) * gauss(0.0, 1.0)
        return self.price

    def _new_regime(self) -> None:
        mean_s = self._config.regime_minutes * 60
        self._regime_left = mean_s / 4 + self._rng.expovariate(4 / (3 * mean_s))
        self.drift = self._direction * self._config.trend_per_hour * self._rng.uniform(0.5, 1.5) / _HOUR


class HawkesArrivals:
    """Self-exciting taker arrivals: intensity ``base_rate + sum(excitation * exp(-decay * age))``.

    Simulated exactly by Ogata's thinning: between arrivals the intensity only
    decays, so the intensity now bounds it until the next candidate.
    """

    def __init__(self, config: MarketConfig, rng: random.Random) -> None:
        self._base = config.base_rate
        self._jump = config.excitation
        self._decay = config.decay
        self._rng = rng
        self._excited = 0.0
        self._now = 0.0

    def until(self, end: float) -> list[float]:
        """The arrival times (seconds from the start) after the previous call's ``end``, up to ``end``."""
        arrivals: list[float] = []
        while True:
            bound = self._base + self._excited
            wait = self._rng.expovariate(bound)
            if self._now + wait >= end:
                self._relax(end - self._now)
                self._now = end
                return arrivals
            self._now += wait
            self._relax(wait)
            if self._rng.random() * bound <= self._base + self._excited:
                arrivals.append(self._now)
                self._excited += self._jump

    def _relax(self, seconds: float) -> None:
        self._excited *= math.exp(-self._decay * seconds)
