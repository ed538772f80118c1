"""Moving-average cross: long while the fast mean of bar closes is above the slow one, flat otherwise."""

from __future__ import annotations

from collections import deque
from typing import Any

from virtuoso.backtest import Strategy, StrategyConfig
from virtuoso.errors import ConfigError
from virtuoso.events import Bar, Event


class MovingAverageCrossConfig(StrategyConfig, frozen=True, kw_only=True):
    """``fast`` and ``slow`` are counts of closed ``timeframe`` bars; ``amount`` is what one entry buys."""

    fast: int = 10
    slow: int = 30
    timeframe: str = "1m"
    amount: float = 0.01

    def __post_init__(self) -> None:
        if not 0 < self.fast < self.slow:
            raise ConfigError(f"need 0 < fast < slow, not fast={self.fast}, slow={self.slow}")
        if not self.amount > 0:
            raise ConfigError(f"amount must be > 0, not {self.amount}")


class MovingAverageCross(Strategy):
    """Buys ``amount`` at market when the fast simple moving average of closes crosses above the slow
    one, and sells what it holds when it crosses back below. Bars come from the ``bars`` analyzer."""

    Config = MovingAverageCrossConfig

    def __init__(self, config: MovingAverageCrossConfig | None = None) -> None:
        super().__init__(config)
        self.params: MovingAverageCrossConfig = self.config  # type: ignore[assignment]
        self._closes: deque[float] = deque(maxlen=self.params.slow)
        self._above: bool | None = None

    @classmethod
    def analyzers_for(cls, config: StrategyConfig) -> list[dict[str, Any]]:
        """The ``bars`` analyzer, building bars of the configured timeframe."""
        assert isinstance(config, MovingAverageCrossConfig)
        return [{"name": "bars", "timeframes": [config.timeframe]}]

    def on_bar(self, event: Event, bar: Bar) -> None:
        """Update the means on each closed bar of the timeframe; trade on a cross."""
        if bar.timeframe != self.params.timeframe or not bar.closed:
            return
        self._closes.append(bar.close)
        if len(self._closes) < self.params.slow:
            return
        closes = list(self._closes)
        above = sum(closes[-self.params.fast :]) / self.params.fast > sum(closes) / len(closes)
        crossed = self._above is not None and above != self._above
        self._above = above
        if crossed:
            self._trade(above)

    def _trade(self, above: bool) -> None:
        held = self.position()
        if self.open_orders():
            return
        if above and not held:
            self.buy(self.params.amount)
        elif not above and held > 0:
            self.sell(held)
