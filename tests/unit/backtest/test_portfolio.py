"""The portfolio: average entry on adds, realized PnL on reductions and flips, cash and fees; and through the venue."""

from __future__ import annotations

import pytest

from tests.unit.backtest._scenario import SYMBOL, Scripted, delta, positions, run, snapshot, trade, venue
from virtuoso.backtest import Portfolio
from virtuoso.events import OrderRejected, PositionChanged


def state(change: PositionChanged) -> tuple[float, float, float]:
    return change.amount, change.average_price, change.realized_pnl


def test_adds_average_the_entry_price_by_amount() -> None:
    portfolio = Portfolio(10_000.0)
    portfolio.apply_fill(SYMBOL, "buy", 100.0, 1.0, fee=0.0)
    assert state(portfolio.apply_fill(SYMBOL, "buy", 104.0, 3.0, fee=0.0)) == (4.0, 103.0, 0.0)


def test_a_reduction_realizes_pnl_on_the_part_closed_and_keeps_the_entry_price() -> None:
    portfolio = Portfolio(10_000.0)
    portfolio.apply_fill(SYMBOL, "buy", 100.0, 1.0, fee=0.0)
    portfolio.apply_fill(SYMBOL, "buy", 104.0, 3.0, fee=0.0)
    assert state(portfolio.apply_fill(SYMBOL, "sell", 110.0, 2.0, fee=0.0)) == (2.0, 103.0, 14.0)
    assert state(portfolio.apply_fill(SYMBOL, "sell", 100.0, 2.0, fee=0.0)) == (0.0, 0.0, 8.0)


def test_a_flip_from_long_to_short_realizes_the_long_and_opens_the_rest_at_the_fill_price() -> None:
    portfolio = Portfolio(10_000.0)
    portfolio.apply_fill(SYMBOL, "buy", 100.0, 1.0, fee=0.0)
    assert state(portfolio.apply_fill(SYMBOL, "sell", 110.0, 2.0, fee=0.0)) == (-1.0, 110.0, 10.0)
    assert portfolio.cash == 10_000.0 - 100.0 + 220.0


def test_a_flip_from_short_to_long_realizes_the_short() -> None:
    portfolio = Portfolio(10_000.0)
    portfolio.apply_fill(SYMBOL, "sell", 110.0, 1.0, fee=0.0)
    assert state(portfolio.apply_fill(SYMBOL, "sell", 120.0, 1.0, fee=0.0)) == (-2.0, 115.0, 0.0)
    assert state(portfolio.apply_fill(SYMBOL, "buy", 100.0, 3.0, fee=0.0)) == (1.0, 100.0, 30.0)


def test_float_dust_left_by_a_close_is_flat() -> None:
    portfolio = Portfolio(10_000.0)
    for _ in range(3):
        portfolio.apply_fill(SYMBOL, "buy", 100.0, 0.1, fee=0.0)
    amount, average, realized = state(portfolio.apply_fill(SYMBOL, "sell", 100.0, 0.3, fee=0.0))
    assert (amount, average) == (0.0, 0.0)  # not 5.5e-17 left over
    assert realized == pytest.approx(0.0, abs=1e-9)


def test_fees_come_out_of_cash_and_add_up_over_symbols() -> None:
    portfolio = Portfolio(1_000.0)
    portfolio.apply_fill(SYMBOL, "buy", 100.0, 2.0, fee=0.2)
    change = portfolio.apply_fill("ETH/USDT", "buy", 10.0, 1.0, fee=0.01)
    assert (change.cash, change.fees) == (pytest.approx(1_000.0 - 200.2 - 10.01, rel=1e-15), pytest.approx(0.21))
    assert portfolio.fees == change.fees


def test_equity_marks_each_position_at_its_price_or_else_at_its_entry() -> None:
    portfolio = Portfolio(1_000.0)
    portfolio.apply_fill(SYMBOL, "buy", 100.0, 2.0, fee=0.0)
    portfolio.apply_fill("ETH/USDT", "sell", 10.0, 5.0, fee=0.0)
    assert portfolio.equity({SYMBOL: 90.0}) == 1_000.0 - 200.0 + 50.0 + 2 * 90.0 - 5 * 10.0
    assert portfolio.equity({SYMBOL: 90.0, "ETH/USDT": 12.0}) == 1_000.0 - 200.0 + 50.0 + 180.0 - 60.0
    assert Portfolio(5.0).amount(SYMBOL) == 0.0


# -- through the venue -----------------------------------------------------------------------------------


FLIP_MARKET = [
    snapshot(0, bids=[(99.0, 5.0)], asks=[(100.0, 5.0)]),
    trade(10, 100.0),
    delta(20, bids=[(110.0, 5.0), (99.0, 0.0)], asks=[(111.0, 5.0), (100.0, 0.0)]),
    trade(30, 110.0),
]


def test_a_sell_of_twice_the_position_flips_to_short_when_shorts_are_allowed() -> None:
    result = run(Scripted({0: lambda s: s.buy(1.0), 2: lambda s: s.sell(2.0)}), FLIP_MARKET, venue(allow_short=True))
    assert [state(c) for c in positions(result)] == [(1.0, 100.0, 0.0), (-1.0, 110.0, 10.0)]
    assert result.cash == 10_000.0 - 100.0 + 220.0
    assert result.strategy.position() == -1.0


def test_a_sell_of_more_than_held_is_rejected_on_spot() -> None:
    result = run(Scripted({0: lambda s: s.buy(1.0), 2: lambda s: s.sell(2.0)}), FLIP_MARKET, venue())
    assert "insufficient position" in result.of(OrderRejected)[0].reason
    assert [state(c) for c in positions(result)] == [(1.0, 100.0, 0.0)]


def test_position_events_carry_cash_and_fees_after_each_fill() -> None:
    result = run(Scripted({0: lambda s: s.buy(2.0), 2: lambda s: s.sell(1.0)}), FLIP_MARKET, venue(taker_fee_bps=10.0))
    changes = positions(result)
    assert [(c.cash, c.fees) for c in changes] == [
        (pytest.approx(10_000.0 - 200.2, rel=1e-15), pytest.approx(0.2, rel=1e-12)),
        (pytest.approx(10_000.0 - 200.2 + 110.0 - 0.11, rel=1e-15), pytest.approx(0.31, rel=1e-12)),
    ]
    assert state(changes[-1]) == (1.0, 100.0, 10.0)
