"""Round trips with prices and excursions, drawdown periods, the buy-and-hold benchmark, period returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.backtest._ledger import BTC, ETH, MINUTE, T0, Ledger, round_trip
from virtuoso.backtest._frames import ledger_frames
from virtuoso.backtest._result import BacktestResult
from virtuoso.backtest._tables import benchmark, drawdowns, exposure_series, per_symbol, period_name, period_returns
from virtuoso.backtest._trips import ROUND_TRIP_COLUMNS, PricePath, round_trips


def equity_frame(values: list[float], step: int = MINUTE, prices: list[float] | None = None) -> pd.DataFrame:
    ledger = Ledger()
    for i, value in enumerate(values):
        price = {BTC: prices[i]} if prices else {}
        ledger.mark(T0 + i * step, value, value, price, {BTC: 0.0} if prices else {})
    return ledger_frames(ledger.events).equity


def test_a_round_trip_row_has_its_prices_duration_and_excursions() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 100.0, 1.0, fee=0.1)
    ledger.fill(T0 + MINUTE, "o2", "buy", 110.0, 1.0, fee=0.1)  # entry averages to 105
    ledger.fill(T0 + 3 * MINUTE, "o3", "sell", 120.0, 2.0, fee=0.2)
    trades = pd.DataFrame({
        "ts_ns": [T0 - 1, T0 + 2 * MINUTE, T0 + 2 * MINUTE + 1, T0 + 4 * MINUTE],
        "symbol": [BTC] * 4,
        "price": [50.0, 94.5, 126.0, 200.0],  # the first and last are outside the trip
    })  # fmt: skip
    [trip] = round_trips(ledger_frames(ledger.events).fills, PricePath(trades=trades)).to_dict("records")
    assert list(trip) == list(ROUND_TRIP_COLUMNS)
    assert (trip["entry_price"], trip["exit_price"], trip["amount"], trip["fills"]) == (105.0, 120.0, 2.0, 3)
    assert trip["duration_s"] == 180.0
    assert trip["pnl"] == pytest.approx(30.0)
    assert trip["net_pnl"] == pytest.approx(29.6)
    assert trip["return"] == pytest.approx(29.6 / 210.0)
    assert trip["mae"] == pytest.approx(94.5 / 105.0 - 1.0)  # the dip to 94.5 while long
    assert trip["mfe"] == pytest.approx(126.0 / 105.0 - 1.0)
    assert trip["opened"] == pd.Timestamp(T0, unit="ns", tz="UTC")


def test_a_short_trip_counts_a_rise_as_adverse() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "sell", 100.0, 1.0)
    ledger.fill(T0 + 2 * MINUTE, "o2", "buy", 90.0, 1.0)
    equity = equity_frame([1000.0, 1000.0, 1000.0], prices=[100.0, 104.0, 90.0])
    [trip] = round_trips(ledger_frames(ledger.events).fills, PricePath(equity)).to_dict("records")
    assert trip["side"] == "short"
    assert trip["mae"] == pytest.approx(-0.04)  # the mark at 104
    assert trip["mfe"] == pytest.approx(0.10)


def test_the_result_frames_are_the_ones_the_metrics_count() -> None:
    result = BacktestResult.from_events(
        round_trip().events, run="r", digest="d", events_in=1, initial_cash=1000.0, interval_ns=MINUTE, config={}
    )
    assert len(result.round_trips) == result.metrics["trades"]
    assert result.round_trips["net_pnl"].tolist() == pytest.approx([9.79])
    assert result.drawdowns.empty or result.drawdowns["depth"].max() == pytest.approx(result.metrics["max_drawdown"])


def test_drawdown_periods_deepest_first_with_recovery() -> None:
    frame = drawdowns(equity_frame([100.0, 90.0, 100.0, 105.0, 84.0, 95.0]))
    assert frame["depth"].tolist() == pytest.approx([0.2, 0.1])
    deepest, first = frame.to_dict("records")
    assert (deepest["peak_equity"], deepest["trough_equity"]) == (105.0, 84.0)
    assert pd.isna(deepest["recovered"])  # never back at 105
    assert deepest["duration_s"] == 120.0  # peak at minute 3 to the last mark at minute 5
    assert first["recovered_ns"] == T0 + 2 * MINUTE
    assert first["duration_s"] == 120.0
    assert drawdowns(equity_frame([100.0, 101.0])).empty
    assert drawdowns(equity_frame([])).empty


def test_max_drawdown_is_the_deepest_period_on_random_walks() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = list(1000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, 200)))
        equity = equity_frame(values)
        peak = np.maximum.accumulate(values)
        assert drawdowns(equity)["depth"].iloc[0] == pytest.approx(float(np.max(1.0 - values / peak)))


def test_benchmark_holds_the_symbols_from_their_first_price() -> None:
    ledger = Ledger()
    for i, (btc, eth) in enumerate([(100.0, None), (110.0, 10.0), (120.0, 12.0)]):
        prices = {BTC: btc} | ({ETH: eth} if eth is not None else {})
        ledger.mark(T0 + i * MINUTE, 1000.0 + i, 1000.0, prices, {})
    frame = benchmark(ledger_frames(ledger.events).equity, 1000.0)
    assert list(frame.columns) == [
        "ts_ns",
        "strategy",
        "benchmark",
        "strategy_return",
        "benchmark_return",
        "excess_return",
    ]
    # 500 in BTC from 100, 500 in ETH from its first price 10 (cash until then)
    assert frame["benchmark"].tolist() == pytest.approx([1000.0, 550.0 + 500.0, 600.0 + 600.0])
    assert frame["excess_return"].iloc[-1] == pytest.approx(1002.0 / 1000.0 - 1200.0 / 1000.0)


def test_period_returns_adapt_to_the_span() -> None:
    assert period_name(11 * 60.0)[1] == "minute"
    assert period_name(86_400.0)[1] == "hour"
    assert period_name(60 * 86_400.0)[1] == "day"
    assert period_name(400 * 86_400.0)[1] == "month"
    equity = equity_frame([1000.0, 1010.0, 1020.0, 1000.0], step=30 * MINUTE)
    assert len(period_returns(equity, 1000.0)) == 4  # 90 minutes: per minute (those without a mark left out)
    frame = period_returns(equity, 1000.0, "h")
    assert frame["return"].tolist() == pytest.approx([0.01, 1000.0 / 1010.0 - 1.0])  # hours: 0:00-0:59, 1:00-1:59
    assert frame["period"].iloc[0] == pd.Timestamp(T0, unit="ns", tz="UTC").floor("h")


def test_exposure_and_per_symbol() -> None:
    ledger = Ledger()
    ledger.mark(T0, 1000.0, 500.0, {BTC: 100.0}, {BTC: 5.0})
    assert exposure_series(ledger_frames(ledger.events).equity).tolist() == [0.5]
    ledger.fill(T0, "o1", "buy", 100.0, 1.0, fee=1.0)
    ledger.fill(T0 + 1, "o2", "sell", 101.0, 1.0, fee=1.0)
    ledger.fill(T0 + 2, "o3", "sell", 10.0, 1.0, symbol=ETH)
    fills = ledger_frames(ledger.events).fills
    table = per_symbol(round_trips(fills), fills)
    assert table["symbol"].tolist() == [BTC, ETH]
    assert table["trades"].tolist() == [1, 0]
    assert table["net_pnl"].tolist() == pytest.approx([-1.0, 0.0])
