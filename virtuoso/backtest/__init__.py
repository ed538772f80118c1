"""Backtests on replays: a strategy's orders filled by a simulated venue against the recorded market,
a portfolio, and the run's orders, fills and equity as events in the log (see ``docs/backtest.md``)."""

from virtuoso.backtest._config import FillModel, Latency, MarketRules, VenueConfig, load_venue_config
from virtuoso.backtest._engine import EQUITY_STREAM, BacktestEngine
from virtuoso.backtest._frames import Frames, ledger_frames
from virtuoso.backtest._loading import StrategySpec, load_strategy
from virtuoso.backtest._metrics import METRIC_KEYS, compute_metrics, round_trips
from virtuoso.backtest._orders import Order, OrderStatus
from virtuoso.backtest._portfolio import Portfolio, Position
from virtuoso.backtest._result import BacktestResult
from virtuoso.backtest._run import (
    BACKTEST_SOURCE,
    LEDGER_TYPES,
    BacktestConfig,
    market_symbols,
    read_ledger,
    run_backtest,
)
from virtuoso.backtest._runfile import RunFile, load_run_file
from virtuoso.backtest._strategy import Strategy, StrategyConfig
from virtuoso.backtest._venue import SimulatedVenue

__all__ = [
    "BACKTEST_SOURCE",
    "EQUITY_STREAM",
    "LEDGER_TYPES",
    "METRIC_KEYS",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "FillModel",
    "Frames",
    "Latency",
    "MarketRules",
    "Order",
    "OrderStatus",
    "Portfolio",
    "Position",
    "RunFile",
    "SimulatedVenue",
    "Strategy",
    "StrategyConfig",
    "StrategySpec",
    "VenueConfig",
    "compute_metrics",
    "ledger_frames",
    "load_run_file",
    "load_strategy",
    "load_venue_config",
    "market_symbols",
    "read_ledger",
    "round_trips",
    "run_backtest",
]
