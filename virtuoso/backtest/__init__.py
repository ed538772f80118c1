"""Backtests on replays: a strategy's orders filled by a simulated venue against the recorded market,
a portfolio, and the run's orders, fills and equity as events in the log (see ``docs/backtest.md``)."""

from virtuoso.backtest._config import FillModel, Latency, MarketRules, VenueConfig, load_venue_config
from virtuoso.backtest._engine import EQUITY_STREAM, BacktestEngine
from virtuoso.backtest._format import annualization_note, format_metric
from virtuoso.backtest._frames import Frames, ledger_frames
from virtuoso.backtest._loading import StrategySpec, load_strategy
from virtuoso.backtest._market import MarketData, load_market_data, load_result, with_market
from virtuoso.backtest._metrics import ANNUALIZED_KEYS, METRIC_KEYS, MIN_ANNUALIZED_SPAN_S, compute_metrics
from virtuoso.backtest._orders import Order, OrderStatus
from virtuoso.backtest._portfolio import Portfolio, Position
from virtuoso.backtest._result import BacktestResult, compare_report
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
from virtuoso.backtest._trips import round_trips
from virtuoso.backtest._venue import SimulatedVenue

__all__ = [
    "ANNUALIZED_KEYS",
    "BACKTEST_SOURCE",
    "EQUITY_STREAM",
    "LEDGER_TYPES",
    "METRIC_KEYS",
    "MIN_ANNUALIZED_SPAN_S",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "FillModel",
    "Frames",
    "Latency",
    "MarketData",
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
    "annualization_note",
    "compare_report",
    "compute_metrics",
    "format_metric",
    "ledger_frames",
    "load_market_data",
    "load_result",
    "load_run_file",
    "load_strategy",
    "load_venue_config",
    "market_symbols",
    "read_ledger",
    "round_trips",
    "run_backtest",
    "with_market",
]
