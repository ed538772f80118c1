"""Sample strategies for backtests: ``virtuoso.strategies:ConfluenceThreshold`` and
``virtuoso.strategies:MovingAverageCross`` (see ``docs/backtest.md``; run configs in ``replays/``)."""

from virtuoso.strategies._confluence import ConfluenceThreshold, ConfluenceThresholdConfig
from virtuoso.strategies._ma_cross import MovingAverageCross, MovingAverageCrossConfig

__all__ = ["ConfluenceThreshold", "ConfluenceThresholdConfig", "MovingAverageCross", "MovingAverageCrossConfig"]
