"""Confluence threshold: long while the confluence score says so, flat otherwise."""

from __future__ import annotations

from typing import Any

from virtuoso.backtest import Strategy, StrategyConfig
from virtuoso.errors import ConfigError
from virtuoso.events import ConfluenceScore, Event, IndicatorValue, Signal


class ConfluenceThresholdConfig(StrategyConfig, frozen=True, kw_only=True):
    """``amount`` is what one entry buys; the thresholds are the confluence analyzer's (0-100 scores)."""

    amount: float = 0.01
    long: float = 60.0
    short: float = 40.0
    timeframes: tuple[str, ...] = ("1m", "5m")
    """The bar timeframes the score weighs (equally)."""

    def __post_init__(self) -> None:
        if not self.amount > 0:
            raise ConfigError(f"amount must be > 0, not {self.amount}")
        if not self.timeframes:
            raise ConfigError("timeframes must name at least one bar timeframe")
        if not 0 <= self.short <= self.long <= 100:
            raise ConfigError(f"need 0 <= short <= long <= 100, not short={self.short}, long={self.long}")


class ConfluenceThreshold(Strategy):
    """Enters long (``amount``) when the confluence analyzer's stance turns long, exits when it leaves
    long. Spot-style: never short. The ``confluence`` analyzer runs with the strategy's thresholds."""

    Config = ConfluenceThresholdConfig

    def __init__(self, config: ConfluenceThresholdConfig | None = None) -> None:
        super().__init__(config)
        self.params: ConfluenceThresholdConfig = self.config  # type: ignore[assignment]

    @classmethod
    def analyzers_for(cls, config: StrategyConfig) -> list[dict[str, Any]]:
        """The ``confluence`` analyzer (and the bars it needs), with these thresholds and timeframes."""
        assert isinstance(config, ConfluenceThresholdConfig)
        timeframes = dict.fromkeys(config.timeframes, 1.0)
        return [{"name": "confluence", "long": config.long, "short": config.short, "timeframes": timeframes}]

    def on_signal(self, event: Event, signal: Signal | ConfluenceScore | IndicatorValue) -> None:
        """Act on stance changes only."""
        if not isinstance(signal, Signal):
            return
        if signal.state == "long":
            self._enter()
        elif signal.previous == "long":
            self._exit()

    def _enter(self) -> None:
        if not self.position() and not self.open_orders():
            self.buy(self.params.amount)

    def _exit(self) -> None:
        self.cancel_all()
        held = self.position()
        if held > 0:
            self.sell(held)
