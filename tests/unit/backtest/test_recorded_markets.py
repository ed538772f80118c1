"""The venue honours the market rules and fees recorded in the log (MarketsLoaded), as they were at each time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.backtest._scenario import MS, SYMBOL, T0, Action, Run, Scripted, run, snapshot, trade, venue
from virtuoso.backtest import Strategy
from virtuoso.events import Market, MarketsLoaded, OrderRejected, Payload, markets_hash

MARKETS = "binance:markets"


def loaded(ms: float, **rules: Any) -> tuple[int, str, Payload]:
    """A MarketsLoaded at ``ms`` after T0 with BTC/USDT's ``rules`` (and an ETH/USDT market alongside)."""
    btc = Market(symbol=SYMBOL, base="BTC", quote="USDT", **rules)
    eth = Market(symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=0.01)
    return (T0 + int(ms * MS), MARKETS, MarketsLoaded("binance", (btc, eth), markets_hash((btc, eth))))


def story(result: Run) -> list[tuple[str, list[str]]]:
    return [(order_id, result.status(order_id)) for order_id in ("o1", "o2")]


def reasons(result: Run) -> list[str]:
    return [r.reason for r in result.of(OrderRejected)]


# A resting buy at 100.05 (the market trades at 101), before and after the tick size changes at 30 ms.
def BUY(strategy: Strategy) -> str:
    return strategy.buy(1.0, 100.05)


TICK_CHANGE = [loaded(0, tick_size=0.01), trade(10, 101.0), trade(20, 101.0), loaded(30, tick_size=0.1),
               trade(40, 101.0), trade(50, 101.0)]  # fmt: skip


def test_the_tick_size_in_force_on_either_side_of_a_change() -> None:
    result = run(Scripted({1: BUY, 4: BUY}), TICK_CHANGE, venue(initial_cash=1_000.0))
    assert story(result) == [("o1", ["OrderSubmitted", "OrderAccepted"]), ("o2", ["OrderSubmitted", "OrderRejected"])]
    assert reasons(result) == ["price 100.05 is off the tick grid (0.1)"]


def test_the_rules_in_force_when_an_order_arrives_apply() -> None:
    # submitted at 20 ms under tick 0.01, it reaches the venue at 35 ms, after the change
    result = run(Scripted({2: BUY}), TICK_CHANGE, venue(initial_cash=1_000.0, latency={"ms": 15.0}))
    assert result.status("o1") == ["OrderSubmitted", "OrderRejected"]
    assert reasons(result) == ["price 100.05 is off the tick grid (0.1)"]


def test_explicit_config_markets_win_over_the_log() -> None:
    config = venue(initial_cash=1_000.0, markets={SYMBOL: {"tick_size": 0.5}})
    result = run(Scripted({1: BUY, 4: BUY}), TICK_CHANGE, config)
    assert reasons(result) == ["price 100.05 is off the tick grid (0.5)"] * 2


def test_the_log_is_ignored_when_use_recorded_markets_is_off() -> None:
    result = run(Scripted({1: BUY, 4: BUY}), TICK_CHANGE, venue(initial_cash=1_000.0, use_recorded_markets=False))
    assert story(result) == [("o1", ["OrderSubmitted", "OrderAccepted"]), ("o2", ["OrderSubmitted", "OrderAccepted"])]


def test_min_notional_from_the_log_rejects() -> None:
    market = [loaded(0, min_notional=10.0), trade(10, 100.0), trade(20, 100.0)]
    result = run(Scripted({1: [lambda s: s.buy(0.05, 100.0), lambda s: s.buy(0.1, 100.0)]}), market, venue())
    assert reasons(result) == ["notional 5 is under the market minimum 10.0"]
    assert result.status("o2")[:2] == ["OrderSubmitted", "OrderAccepted"]


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (lambda s: s.buy(0.0015, 100.0), "amount 0.0015 is not a multiple of the amount step 0.001"),
        (lambda s: s.buy(0.004, 100.0), "amount 0.004 is under the market minimum 0.005"),
    ],
)
def test_amount_rules_from_the_log_reject(action: Action, reason: str) -> None:
    market = [loaded(0, amount_step=0.001, min_amount=0.005), trade(10, 100.0), trade(20, 100.0)]
    assert reasons(run(Scripted({1: action}), market, venue())) == [reason]


BOOK = snapshot(5, bids=[(99.0, 5.0)], asks=[(100.0, 5.0)])


def test_recorded_fees_are_charged() -> None:
    # a market buy takes 1 at 100 (taker, 4 bps = 0.04); a resting sell at 120 fills on a trade at 121 (maker, 2 bps)
    market = [loaded(0, maker_fee_bps=2.0, taker_fee_bps=4.0), BOOK, trade(10, 100.0), trade(20, 121.0)]
    strategy = Scripted({1: lambda s: s.buy(1.0), 2: lambda s: s.sell(1.0, 120.0)})
    result = run(strategy, market, venue(initial_cash=1_000.0, maker_fee_bps=10.0, taker_fee_bps=10.0))
    fees = [(f.liquidity, f.price, f.fee) for f in result.fills]
    assert fees == [("taker", 100.0, pytest.approx(0.04)), ("maker", 120.0, pytest.approx(0.024))]
    assert result.cash == pytest.approx(1_000.0 - 100.0 - 0.04 + 120.0 - 0.024)


def test_a_fee_the_log_lacks_stays_the_configs() -> None:
    market = [loaded(0, taker_fee_bps=4.0), BOOK, trade(10, 100.0), trade(20, 121.0)]
    strategy = Scripted({1: lambda s: s.buy(1.0), 2: lambda s: s.sell(1.0, 120.0)})
    result = run(strategy, market, venue(initial_cash=1_000.0, maker_fee_bps=10.0))
    assert [f.fee for f in result.fills] == [pytest.approx(0.04), pytest.approx(0.12)]


def test_recorded_fees_are_ignored_when_use_recorded_fees_is_off() -> None:
    market = [loaded(0, taker_fee_bps=4.0, tick_size=0.5), BOOK, trade(10, 100.0)]
    config = venue(initial_cash=1_000.0, taker_fee_bps=10.0, use_recorded_fees=False)
    result = run(Scripted({1: [lambda s: s.buy(1.0), lambda s: s.buy(1.0, 99.3)]}), market, config)
    assert [f.fee for f in result.fills] == [pytest.approx(0.1)]
    assert reasons(result) == ["price 99.3 is off the tick grid (0.5)"]  # the recorded rules still apply


def test_markets_of_other_symbols_change_nothing() -> None:
    other = Market(symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=1.0)
    change = (T0 + 30 * MS, MARKETS, MarketsLoaded("binance", (other,), markets_hash((other,))))
    market = [loaded(0, tick_size=0.01), trade(10, 101.0), change, trade(40, 101.0), trade(50, 101.0)]
    result = run(Scripted({3: BUY}), market, venue(initial_cash=1_000.0))
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted"]


def test_an_inactive_market_takes_no_orders_until_it_is_active_again() -> None:
    market = [loaded(0, active=False), trade(10, 101.0), loaded(15, active=True), trade(20, 101.0)]
    result = run(Scripted({1: BUY, 2: BUY}), market, venue(initial_cash=1_000.0))
    assert story(result) == [("o1", ["OrderSubmitted", "OrderRejected"]), ("o2", ["OrderSubmitted", "OrderAccepted"])]
    assert reasons(result) == ["market BTC/USDT is not trading (inactive in the recorded markets)"]


def test_explicit_rules_override_an_inactive_recorded_market() -> None:
    market = [loaded(0, active=False), trade(10, 101.0), trade(20, 101.0)]
    config = venue(initial_cash=1_000.0, markets={SYMBOL: {"tick_size": 0.01}})
    assert run(Scripted({1: BUY}), market, config).status("o1") == ["OrderSubmitted", "OrderAccepted"]
