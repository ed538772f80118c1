"""compute_metrics and round_trips against hand-computed values."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from tests.unit.backtest._ledger import BTC, ETH, MINUTE, T0, Ledger, round_trip
from virtuoso.backtest._frames import ledger_frames
from virtuoso.backtest._metrics import (
    ANNUALIZED_KEYS,
    METRIC_KEYS,
    YEAR_NS,
    annualization,
    compute_metrics,
    max_drawdown,
)
from virtuoso.backtest._trips import net_pnls, round_trips
from virtuoso.errors import UsageError

HOUR = 60 * MINUTE
DAY = 24 * HOUR


def metrics(ledger: Ledger, initial_cash: float = 1000.0, interval_ns: int = MINUTE) -> dict[str, float | int | None]:
    return compute_metrics(ledger_frames(ledger.events), initial_cash=initial_cash, interval_ns=interval_ns)


def test_one_winning_round_trip() -> None:
    m = metrics(round_trip())
    assert list(m) == list(METRIC_KEYS)
    assert m["trades"] == 1
    assert m["win_rate"] == 1.0
    assert m["profit_factor"] is None  # no losing trip to divide by
    assert m["total_return"] == pytest.approx(1009.79 / 1000.0 - 1.0, abs=1e-15)
    assert m["final_equity"] == 1009.79
    assert m["fees"] == pytest.approx(0.21)
    assert m["turnover"] == pytest.approx(210.0 / 1000.0)
    assert (m["fills"], m["orders"]) == (2, 2)
    assert m["exposure"] == 0.5  # holding at 2 of the 4 marks
    assert m["periods_per_year"] == 365 * 24 * 60


def test_round_trip_net_pnl_is_net_of_both_fees() -> None:
    [trip] = round_trips(ledger_frames(round_trip().events).fills).to_dict("records")
    assert trip["net_pnl"] == pytest.approx(9.79)
    assert (trip["symbol"], trip["side"], trip["amount"], trip["pnl"]) == (BTC, "long", 1.0, 10.0)
    assert trip["fees"] == pytest.approx(0.21)
    assert (trip["opened_ns"], trip["closed_ns"]) == (T0 + 1_000, T0 + 2 * MINUTE + 1_000)


def two_trips() -> Ledger:
    """A losing long (buy 1 @100, sell @90, fees 1 + 1) and a winning one (buy 2 @50, sell @60, fees 0.5 + 0.5)."""
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 100.0, 1.0, fee=1.0)
    ledger.fill(T0 + 1, "o2", "sell", 90.0, 1.0, fee=1.0)
    ledger.fill(T0 + 2, "o3", "buy", 50.0, 2.0, fee=0.5)
    ledger.fill(T0 + 3, "o4", "sell", 60.0, 2.0, fee=0.5)
    return ledger


def test_profit_factor_is_winning_over_losing_net_pnl() -> None:
    m = metrics(two_trips())
    assert m["trades"] == 2
    assert m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx((20.0 - 1.0) / (10.0 + 2.0))


def test_only_losers_give_profit_factor_zero() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "sell", 100.0, 1.0)
    ledger.fill(T0 + 1, "o2", "buy", 101.0, 1.0)
    assert (metrics(ledger)["win_rate"], metrics(ledger)["profit_factor"]) == (0.0, 0.0)


def test_a_flip_closes_one_trip_and_opens_the_next_splitting_the_fee() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 100.0, 1.0, fee=1.0)
    ledger.fill(T0 + 1, "o2", "sell", 110.0, 3.0, fee=3.0)  # closes 1 (fee 1), opens a short of 2 (fee 2)
    ledger.fill(T0 + 2, "o3", "buy", 100.0, 2.0, fee=2.0)
    trips = round_trips(ledger_frames(ledger.events).fills)
    assert list(trips["side"]) == ["long", "short"]
    assert list(trips["pnl"]) == [10.0, 20.0]
    assert list(trips["fees"]) == [2.0, 4.0]
    assert list(trips["net_pnl"]) == [8.0, 16.0]
    assert list(trips["opened_ns"]) == [T0, T0 + 1]
    assert list(trips["amount"]) == [1.0, 2.0]


def test_adding_and_partial_closes_use_the_average_entry() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 100.0, 1.0)
    ledger.fill(T0 + 1, "o2", "buy", 110.0, 1.0)  # entry 105
    ledger.fill(T0 + 2, "o3", "sell", 120.0, 0.5)  # +7.5
    ledger.fill(T0 + 3, "o4", "sell", 101.0, 1.5)  # -6
    [trip] = round_trips(ledger_frames(ledger.events).fills).to_dict("records")
    assert trip["pnl"] == pytest.approx(1.5)
    assert trip["amount"] == 2.0


def test_partial_fills_summing_to_zero_in_floats_close_the_trip() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 10.0, 0.1, remaining=0.2)
    ledger.fill(T0 + 1, "o1", "buy", 10.0, 0.2)
    ledger.fill(T0 + 2, "o2", "sell", 11.0, 0.3)
    assert 0.1 + 0.2 - 0.3 != 0.0
    assert metrics(ledger)["trades"] == 1


def test_trips_are_per_symbol_and_open_ones_do_not_count() -> None:
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 100.0, 1.0)
    ledger.fill(T0 + 1, "o2", "sell", 10.0, 1.0, symbol=ETH)  # an ETH short, still open at the end
    ledger.fill(T0 + 2, "o3", "sell", 90.0, 1.0)
    trips = round_trips(ledger_frames(ledger.events).fills)
    assert list(trips["symbol"]) == [BTC]
    assert list(trips["net_pnl"]) == [-10.0]


def test_the_metrics_net_pnls_are_the_round_trips_column_to_the_bit() -> None:
    ledger = Ledger()
    for i, (side, price, amount, symbol) in enumerate(
        [("buy", 100.0, 0.3, BTC), ("buy", 101.7, 0.1, BTC), ("sell", 10.0, 1.0, ETH), ("sell", 99.3, 0.7, BTC),
         ("buy", 9.1, 1.0, ETH), ("buy", 98.9, 0.3, BTC), ("sell", 103.3, 0.1, BTC), ("buy", 104.1, 0.1, BTC)]
    ):  # fmt: skip
        ledger.fill(T0 + i, f"o{i}", side, price, amount, fee=price * amount * 0.001, symbol=symbol)
    fills = ledger_frames(ledger.events).fills
    expected = round_trips(fills)["net_pnl"].to_numpy(np.float64)
    assert len(expected) == 4  # the long the flip closes, its short, the ETH short, a last short
    assert net_pnls(fills).tobytes() == expected.tobytes()
    assert net_pnls(ledger_frames([]).fills).shape == (0,)


EQUITY = [100.0, 110.0, 99.0, 104.0, 112.0, 100.0, 105.0]


def test_max_drawdown_and_its_duration() -> None:
    ledger = Ledger()
    ledger.marks(EQUITY)
    m = metrics(ledger, initial_cash=100.0)
    assert m["max_drawdown"] == pytest.approx(1.0 - 100.0 / 112.0)  # deeper than 110 -> 99 (10 %)
    assert m["max_drawdown_duration_s"] == 180.0  # 110 at 1 min, back above at 4 min; 112 is never regained (120 s)


def test_drawdown_never_recovered_lasts_to_the_end() -> None:
    ts = T0 + np.arange(4, dtype=np.int64) * MINUTE
    assert max_drawdown(np.array([100.0, 101.0, 90.0, 95.0]), ts) == (pytest.approx(1.0 - 90.0 / 101.0), 2 * MINUTE)
    assert max_drawdown(np.array([100.0, 100.0, 101.0]), ts[:3]) == (0.0, 0)
    assert max_drawdown(np.array([]), ts[:0]) == (0.0, 0)


def test_sharpe_sortino_and_volatility_against_numpy() -> None:
    equity = list(1000.0 * np.cumprod(1.0 + np.random.default_rng(7).normal(0.0002, 0.01, 500)))
    ledger = Ledger()
    ledger.marks(equity, step=2 * HOUR)  # 998 hours: long enough to annualize
    m = metrics(ledger, interval_ns=2 * HOUR)
    returns = np.array([b / a - 1.0 for a, b in itertools.pairwise(equity)])
    ppy = 365 * 12
    std = np.sqrt(np.sum((returns - returns.mean()) ** 2) / (len(returns) - 1))
    downside = np.sqrt(np.sum(np.where(returns < 0, returns, 0.0) ** 2) / len(returns))
    assert m["periods_per_year"] == ppy
    assert m["annualized_volatility"] == pytest.approx(std * np.sqrt(ppy), rel=1e-9)
    assert m["sharpe"] == pytest.approx(returns.mean() / std * np.sqrt(ppy), rel=1e-9)
    assert m["sortino"] == pytest.approx(returns.mean() / downside * np.sqrt(ppy), rel=1e-9)
    assert m["total_return"] == pytest.approx(equity[-1] / 1000.0 - 1.0)


def test_annualized_return_compounds_over_the_marked_span() -> None:
    ledger = Ledger()
    ledger.marks([1000.0, 1100.0], step=YEAR_NS // 2)
    assert metrics(ledger, interval_ns=YEAR_NS // 2)["annualized_return"] == pytest.approx(1.1**2 - 1.0)


def test_a_return_too_large_to_annualize_is_none() -> None:
    ledger = Ledger()
    ledger.marks([1000.0, 2000.0], step=1_000)
    m = metrics(ledger, interval_ns=1_000)
    assert m["annualized_return"] is None
    assert m["total_return"] == 1.0


def test_undefined_ratios_are_none() -> None:
    one = Ledger()
    one.marks([1000.0])
    m = metrics(one)
    assert [m[k] for k in ("annualized_return", "annualized_volatility", "sharpe", "sortino")] == [None] * 4
    flat = Ledger()
    flat.marks([1000.0, 1000.0, 1000.0], step=20 * DAY)
    m = metrics(flat, interval_ns=20 * DAY)
    assert (m["annualized_volatility"], m["sharpe"], m["sortino"], m["annualized_return"]) == (0.0, None, None, 0.0)
    rising = Ledger()
    rising.marks([1000.0, 1001.0, 1003.0], step=20 * DAY)
    m = metrics(rising, interval_ns=20 * DAY)
    assert m["sortino"] is None  # no downside
    assert m["sharpe"] is not None
    assert m["sharpe"] > 0


def test_empty_ledger() -> None:
    m = metrics(Ledger())
    assert m == {
        "total_return": 0.0,
        "annualized_return": None,
        "annualized_volatility": None,
        "sharpe": None,
        "sortino": None,
        "max_drawdown": 0.0,
        "max_drawdown_duration_s": 0.0,
        "win_rate": None,
        "profit_factor": None,
        "trades": 0,
        "fills": 0,
        "orders": 0,
        "exposure": 0.0,
        "turnover": 0.0,
        "fees": 0.0,
        "final_equity": 1000.0,
        "periods_per_year": 525600.0,
        "span_s": 0.0,
        "mark_interval_s": 60.0,
    }


@pytest.mark.parametrize(
    ("marks", "step", "annualized"),
    [
        (12, MINUTE, False),  # an 11-minute session
        (30, DAY, False),  # 29 days
        (31, DAY, True),  # 30 days: the minimum
        (3, 200 * DAY, True),
    ],
)
def test_a_span_too_short_to_annualize_withholds_every_annualized_figure(
    marks: int, step: int, annualized: bool
) -> None:
    ledger = Ledger()
    ledger.marks([1000.0 * (1.0 + 0.001 * ((-1) ** i) - 0.0005 * i) for i in range(marks)], step=step)
    m = metrics(ledger, interval_ns=step)
    assert m["span_s"] == (marks - 1) * step / 1e9
    assert m["mark_interval_s"] == step / 1e9
    assert annualization(m) == ("ok" if annualized else "too short")
    values = [m[k] for k in ANNUALIZED_KEYS]
    assert all(v is not None for v in values) if annualized else values == [None] * 4
    assert m["total_return"] == pytest.approx(0.001 * ((-1) ** (marks - 1)) - 0.0005 * (marks - 1), abs=1e-12)
    assert m["max_drawdown"] > 0  # the figures of the span itself stand


def test_metrics_are_plain_json_values() -> None:
    for ledger in (round_trip(), two_trips(), Ledger()):
        m = metrics(ledger)
        assert json.loads(json.dumps(m, allow_nan=False)) == m
        assert all(type(v) in {int, float, type(None)} for v in m.values())
        assert all(math.isfinite(v) for v in m.values() if v is not None)


@pytest.mark.parametrize(("initial_cash", "interval_ns"), [(0.0, MINUTE), (-5.0, MINUTE), (1000.0, 0)])
def test_bad_arguments_are_usage_errors(initial_cash: float, interval_ns: int) -> None:
    with pytest.raises(UsageError, match="initial_cash > 0 and interval_ns > 0"):
        metrics(Ledger(), initial_cash=initial_cash, interval_ns=interval_ns)
