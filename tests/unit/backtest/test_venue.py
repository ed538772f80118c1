"""The simulated venue, scenario by scenario, with every number worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.backtest._scenario import (
    SYMBOL,
    Action,
    Run,
    Scripted,
    delta,
    positions,
    run,
    snapshot,
    trade,
    venue,
)
from virtuoso.events import OrderCanceled, OrderFilled, OrderRejected

TIGHT = 1e-12


def fills(result: Run) -> list[tuple[float, float, float, str]]:
    """``(price, amount, fee, liquidity)`` of each fill."""
    return [(f.price, f.amount, f.fee, f.liquidity) for f in result.fills]


# -- 1. a round trip with known fees ---------------------------------------------------------------


def test_round_trip_pays_both_taker_fees_and_realizes_the_price_difference() -> None:
    strategy = Scripted({0: lambda s: s.buy(1), 2: lambda s: s.sell(1)})
    result = run(
        strategy,
        [
            snapshot(0, bids=[(99.0, 5.0)], asks=[(100.0, 5.0)]),
            trade(10, 100.0),
            delta(20, bids=[(110.0, 5.0), (99.0, 0.0)], asks=[(111.0, 5.0), (100.0, 0.0)]),
            trade(30, 110.0),
        ],
        venue(taker_fee_bps=10.0, initial_cash=1_000.0),
    )
    assert [(p, a, liquidity) for p, a, _, liquidity in fills(result)] == [(100.0, 1.0, "taker"), (110.0, 1.0, "taker")]
    assert [f.fee for f in result.fills] == [pytest.approx(0.1, rel=TIGHT), pytest.approx(0.11, rel=TIGHT)]
    assert result.cash == pytest.approx(1_000.0 - 100.0 - 0.1 + 110.0 - 0.11, rel=TIGHT)
    assert result.position == 0.0
    last = positions(result)[-1]
    assert (last.amount, last.average_price, last.realized_pnl) == (0.0, 0.0, 10.0)
    assert last.fees == pytest.approx(0.21, rel=TIGHT)
    assert last.cash == result.cash


# -- 2. walking the book, and liquidity already taken ---------------------------------------------

ASKS = [(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)]


def test_a_market_buy_walks_the_levels_it_needs() -> None:
    result = run(Scripted({0: lambda s: s.buy(2.5)}), [snapshot(0, asks=ASKS), trade(10, 100.0)])
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0), (101.0, 1.5)]
    assert result.engine.portfolio.positions[SYMBOL].average_price == pytest.approx(100.6, rel=TIGHT)
    assert [f.remaining for f in result.fills] == [1.5, 0.0]


def test_liquidity_taken_is_not_taken_again_until_the_book_updates_the_level() -> None:
    buy = lambda s: s.buy(1.0)  # noqa: E731
    result = run(
        Scripted({0: lambda s: s.buy(2.5), 1: buy, 2: buy}),
        [
            snapshot(0, asks=ASKS),
            trade(10, 100.0),  # the first buy arrives: 1@100, 1.5@101
            delta(20, asks=[(100.0, 1.0)]),  # the second arrives before this: 0.5@101, 0.5@102
            trade(30, 100.0),  # the third arrives after the delta re-set 100: 1@100
        ],
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [
        (100.0, 1.0),
        (101.0, 1.5),
        (101.0, 0.5),
        (102.0, 0.5),
        (100.0, 1.0),
    ]


def test_a_snapshot_gives_back_every_level_taken() -> None:
    buy = lambda s: s.buy(1.0)  # noqa: E731
    result = run(
        Scripted({0: buy, 1: buy, 2: buy}),
        [snapshot(0, asks=ASKS), trade(10, 100.0), snapshot(20, asks=ASKS, sequence=50), trade(30, 100.0)],
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0), (101.0, 1.0), (100.0, 1.0)]


# -- 3. the book runs out ---------------------------------------------------------------------------


def test_a_market_order_bigger_than_the_book_fills_what_is_shown_and_cancels_the_rest() -> None:
    result = run(Scripted({0: lambda s: s.buy(10)}), [snapshot(0, asks=[(100.0, 1.0), (101.0, 2.0)]), trade(10, 100.0)])
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0), (101.0, 2.0)]
    (canceled,) = result.of(OrderCanceled)
    assert canceled.remaining == 7.0
    assert "liquidity" in canceled.reason
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted", "OrderFilled", "OrderFilled", "OrderCanceled"]
    assert result.position == 3.0
    assert not result.strategy.open_orders()


# -- 4. resting limit orders: through and queue models -----------------------------------------------

BOOK_99 = snapshot(0, bids=[(99.0, 2.0)], asks=[(100.0, 1.0)])


def test_a_resting_buy_ignores_trades_at_or_above_its_price_in_the_through_model() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0)}),
        [BOOK_99, trade(10, 100.0), trade(20, 99.0, 50.0, "sell"), trade(30, 99.5, 50.0, "sell")],
        venue(maker_fee_bps=2.0),
    )
    assert result.fills == []
    assert [o.id for o in result.strategy.open_orders()] == ["o1"]


def test_a_trade_through_a_resting_buy_fills_it_at_its_price_for_at_most_the_trade_amount() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0)}),
        [BOOK_99, trade(10, 100.0), trade(20, 98.5, 0.3, "sell"), trade(30, 98.0, 5.0, "sell")],
        venue(maker_fee_bps=2.0, initial_cash=1_000.0),
    )
    assert [(p, a, liquidity) for p, a, _, liquidity in fills(result)] == [
        (99.0, 0.3, "maker"),
        (99.0, pytest.approx(0.7, rel=TIGHT), "maker"),
    ]
    assert [f.fee for f in result.fills] == [
        pytest.approx(99.0 * 0.3 * 0.0002, rel=1e-9),
        pytest.approx(99.0 * 0.7 * 0.0002, rel=1e-9),
    ]
    assert result.cash == pytest.approx(1_000.0 - 99.0 * 1.0002, rel=TIGHT)
    assert result.fills[-1].remaining == 0.0


def test_a_resting_sell_fills_on_a_trade_strictly_above_it() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0), 1: lambda s: s.sell(1.0, 101.0)}),
        [snapshot(0, bids=[(99.0, 2.0)], asks=[(100.0, 1.0)]), trade(10, 100.0), trade(20, 101.0), trade(30, 101.5)],
    )
    assert [(p, a, liquidity) for p, a, _, liquidity in fills(result)] == [
        (100.0, 1.0, "taker"),
        (101.0, 1.0, "maker"),
    ]
    assert positions(result)[-1].realized_pnl == 1.0


def test_in_the_queue_model_a_resting_buy_fills_after_the_size_ahead_of_it_traded() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0)}),
        [
            BOOK_99,  # 2.0 displayed at 99: that is the queue ahead of ours
            trade(10, 99.0, 1.5, "sell"),  # 0.5 still ahead
            trade(20, 99.0, 5.0, "buy"),  # a taker *buy* at 99 does not hit bids
            trade(30, 99.0, 0.8, "sell"),  # 0.5 clears the queue, 0.3 fills ours
            trade(40, 99.0, 2.0, "sell"),  # the rest, 0.7
        ],
        venue(fill_model="queue"),
    )
    assert [(p, a, liquidity) for p, a, _, liquidity in fills(result)] == [
        (99.0, pytest.approx(0.3, rel=TIGHT), "maker"),
        (99.0, pytest.approx(0.7, rel=TIGHT), "maker"),
    ]
    assert result.position == 1.0


def test_in_the_queue_model_the_queue_ahead_shrinks_with_the_displayed_level() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0)}),
        [BOOK_99, delta(10, bids=[(99.0, 0.25)]), trade(20, 99.0, 1.0, "sell")],
        venue(fill_model="queue"),
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [(99.0, 0.75)]


def test_the_through_model_does_not_fill_on_trades_at_the_price_whatever_the_queue() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0)}),
        [BOOK_99, trade(10, 99.0, 100.0, "sell")],
        venue(fill_model="through"),
    )
    assert result.fills == []


# -- 5. latency ------------------------------------------------------------------------------------------


def test_latency_delays_a_market_order_past_a_price_move() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [trade(0, 99.0), trade(10, 100.0), trade(60, 105.0)],
        venue(latency={"kind": "constant", "ms": 50.0}, slippage_bps=2.0),
    )
    (fill,) = result.fills
    assert fill.price == pytest.approx(105.0 * (1 + 0.0002), rel=TIGHT)
    (filled,) = result.events_of(OrderFilled)
    assert filled.ts_event == trade(60, 0.0)[0]


def test_an_order_submitted_at_the_last_event_never_arrives() -> None:
    result = run(Scripted({1: lambda s: s.buy(1.0)}), [trade(0, 100.0), trade(10, 100.0)], venue(latency={"ms": 1.0}))
    assert result.status("o1") == ["OrderSubmitted"]
    assert [(o.id, o.status) for o in result.strategy.open_orders()] == [("o1", "sent")]
    assert result.cash == result.engine.portfolio.initial_cash


def test_an_order_arriving_at_an_event_time_arrives_before_that_event() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [snapshot(0, asks=[(100.0, 1.0)]), delta(5, asks=[(100.0, 0.0), (120.0, 1.0)])],
        venue(latency={"ms": 5.0}),
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0)]


# -- 6. rejections ------------------------------------------------------------------------------------------

BOOK = snapshot(0, bids=[(99.0, 50.0)], asks=[(100.0, 50.0)])
RULES = {"tick_size": 0.5, "amount_step": 0.01, "min_amount": 0.05, "min_notional": 10.0}


@pytest.mark.parametrize(
    ("action", "words", "settings"),
    [
        (lambda s: s.buy(11.0), "insufficient cash", {}),
        (lambda s: s.buy(11.0, 95.0), "insufficient cash", {}),
        (lambda s: s.sell(1.0), "insufficient position", {}),
        (lambda s: s.sell(1.0, 101.0), "insufficient position", {}),
        (lambda s: s.buy(0.04), "under the market minimum", {"markets": {SYMBOL: RULES}}),
        (lambda s: s.buy(0.06, 99.0), "notional", {"markets": {SYMBOL: RULES}}),
        (lambda s: s.buy(0.06), "notional", {"markets": {SYMBOL: RULES}}),
        (lambda s: s.buy(1.0, 99.3), "tick", {"markets": {SYMBOL: RULES}}),
        (lambda s: s.buy(1.005, 99.0), "amount step", {"markets": {SYMBOL: RULES}}),
        (lambda s: s.buy(1.0, 100.0, time_in_force="post-only"), "post-only", {}),
        (lambda s: s.sell(1.0, 99.0, time_in_force="post-only"), "post-only", {"allow_short": True}),
        (lambda s: s.buy(0.0), "positive", {}),
        (lambda s: s.buy(1.0, -5.0), "positive", {}),
    ],
)
def test_a_rejected_order_says_why_and_moves_nothing(action: Action, words: str, settings: dict[str, Any]) -> None:
    market = [BOOK, trade(10, 100.0), trade(20, 50.0, 100.0)]  # the last would fill any resting order
    result = run(Scripted({0: action}), market, venue(initial_cash=1_000.0, **settings))
    (rejected,) = result.of(OrderRejected)
    assert words in rejected.reason
    assert result.status("o1") == ["OrderSubmitted", "OrderRejected"]
    assert result.fills == []
    assert result.cash == 1_000.0
    assert not result.strategy.open_orders()


def test_the_rules_let_through_an_order_that_keeps_them() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(0.12, 99.5)}),
        [BOOK, trade(10, 99.0, 1.0, "sell")],
        venue(markets={SYMBOL: RULES}),
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [(99.5, 0.12)]


def test_a_post_only_order_that_would_cross_the_last_trade_is_rejected_without_a_book() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 100.0, time_in_force="post-only")}), [trade(0, 100.0), trade(10, 90.0)]
    )
    (rejected,) = result.of(OrderRejected)
    assert "post-only" in rejected.reason
    assert result.fills == []


def test_a_post_only_order_below_the_market_rests_and_fills_as_maker() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0, time_in_force="post-only")}),
        [BOOK, trade(10, 98.0, 2.0, "sell")],
        venue(maker_fee_bps=1.0, taker_fee_bps=5.0),
    )
    assert fills(result) == [(99.0, 1.0, pytest.approx(99.0 * 0.0001, rel=TIGHT), "maker")]


def test_an_order_before_any_market_data_is_rejected() -> None:
    result = run(Scripted({0: lambda s: s.buy(1.0)}), [snapshot(0), trade(10, 100.0)])
    (rejected,) = result.of(OrderRejected)
    assert "no market data" in rejected.reason
    assert result.fills == []


# -- 7. time in force --------------------------------------------------------------------------------------

STAIRS = snapshot(0, bids=[(99.0, 5.0)], asks=[(100.0, 1.0), (101.0, 1.0), (102.0, 5.0)])


def test_an_ioc_limit_fills_what_crosses_and_cancels_the_rest() -> None:
    result = run(Scripted({0: lambda s: s.buy(3.0, 101.0, time_in_force="IOC")}), [STAIRS, trade(10, 100.0)])
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0), (101.0, 1.0)]
    (canceled,) = result.of(OrderCanceled)
    assert (canceled.remaining, canceled.reason) == (1.0, "IOC rest")
    assert not result.strategy.open_orders()


def test_a_gtc_limit_takes_what_crosses_and_rests_the_rest_with_its_cash_reserved() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(3.0, 101.0)}),
        [STAIRS, trade(10, 102.0)],
        venue(initial_cash=1_000.0, maker_fee_bps=2.0, taker_fee_bps=5.0),
    )
    assert [(p, a) for p, a, _, _ in fills(result)] == [(100.0, 1.0), (101.0, 1.0)]
    assert result.of(OrderCanceled) == []
    (order,) = result.strategy.open_orders()
    assert (order.status, order.remaining) == ("open", 1.0)
    assert order.reserved == pytest.approx(101.0 * (1 + 0.0005), rel=TIGHT)
    assert result.cash == pytest.approx(1_000.0 - 201.0 * 1.0005, rel=TIGHT)


def test_a_resting_order_then_fills_as_maker_on_a_trade_through() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(3.0, 101.0)}),
        [STAIRS, trade(10, 102.0), trade(20, 100.5, 4.0, "sell")],
        venue(maker_fee_bps=2.0, taker_fee_bps=5.0),
    )
    assert [(p, a, liquidity) for p, a, _, liquidity in fills(result)] == [
        (100.0, 1.0, "taker"),
        (101.0, 1.0, "taker"),
        (101.0, 1.0, "maker"),
    ]
    assert result.strategy.open_orders() == []


# -- 8. cancels -------------------------------------------------------------------------------------------------


def test_a_canceled_order_is_gone_after_the_cancel_latency_and_its_cash_is_free_again() -> None:
    rest = lambda s: s.buy(10.0, 90.0)  # noqa: E731
    strategy = Scripted({0: rest, 1: rest, 2: lambda s: s.cancel("o1"), 4: rest})
    result = run(
        strategy,
        [BOOK, trade(10, 100.0), trade(20, 100.0), trade(22, 100.0), trade(30, 100.0), trade(40, 100.0)],
        venue(initial_cash=1_000.0, latency={"ms": 5.0}),
    )
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted", "OrderCanceled"]
    assert "insufficient cash" in result.of(OrderRejected)[0].reason  # o2: o1 holds the cash
    (canceled_event,) = result.events_of(OrderCanceled)
    assert canceled_event.ts_event == trade(25, 0.0)[0]  # sent at 20 ms, 5 ms on its way
    assert result.of(OrderCanceled)[0].remaining == 10.0
    assert result.status("o3") == ["OrderSubmitted", "OrderAccepted"]
    assert [o.id for o in strategy.open_orders()] == ["o3"]


def test_a_cancel_arriving_after_the_fill_does_nothing() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0, 99.0), 1: lambda s: s.cancel("o1")}),
        [BOOK, trade(6, 100.0), trade(8, 98.0, 5.0, "sell"), trade(20, 100.0)],
        venue(latency={"ms": 5.0}),
    )
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert result.position == 1.0


def test_a_cancel_overtaking_its_order_cancels_it_before_it_arrives() -> None:
    stories = set()
    for seed in range(20):
        strategy = Scripted({0: lambda s: s.buy(1.0, 99.0), 1: lambda s: s.cancel("o1")})
        result = run(
            strategy,
            [BOOK, trade(1, 100.0), trade(200, 98.0, 5.0, "sell")],
            venue(latency={"kind": "uniform", "low_ms": 1.0, "high_ms": 100.0}),
            seed=seed,
        )
        stories.add(tuple(result.status("o1")))
        assert result.fills == []
        assert strategy.open_orders() == []
    assert stories == {
        ("OrderSubmitted", "OrderCanceled"),
        ("OrderSubmitted", "OrderAccepted", "OrderCanceled"),
    }


# -- funds: what orders waiting for a trade hold ---------------------------------------------------------


def test_market_buys_waiting_for_a_trade_cannot_spend_the_same_cash() -> None:
    buy = lambda s: s.buy(60.0)  # noqa: E731
    result = run(Scripted({0: [buy, buy]}), [trade(0, 100.0), trade(10, 100.0)], venue(initial_cash=10_000.0))
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert result.status("o2") == ["OrderSubmitted", "OrderRejected"]
    assert "insufficient cash" in result.of(OrderRejected)[0].reason
    assert (result.cash, result.position) == (4_000.0, 60.0)


def test_market_sells_waiting_for_a_trade_cannot_sell_the_same_position() -> None:
    sell = lambda s: s.sell(1.0)  # noqa: E731
    result = run(
        Scripted({0: lambda s: s.buy(1.0), 1: [sell, sell]}),
        [trade(0, 100.0), trade(10, 100.0), trade(20, 100.0)],
    )
    assert result.status("o3") == ["OrderSubmitted", "OrderRejected"]
    assert "insufficient position" in result.of(OrderRejected)[0].reason
    assert result.position == 0.0


def test_a_limit_buy_waiting_for_a_trade_holds_its_cash() -> None:
    result = run(
        Scripted({0: [lambda s: s.buy(60.0, 100.0), lambda s: s.buy(60.0)]}),
        [trade(0, 100.0), trade(10, 100.0)],
        venue(initial_cash=10_000.0),
    )
    assert result.status("o2") == ["OrderSubmitted", "OrderRejected"]
    assert result.cash == 4_000.0


def test_a_market_buy_the_cash_no_longer_covers_at_the_next_trade_is_canceled_not_overdrawn() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(99.0)}),
        [trade(0, 100.0), trade(10, 120.0), trade(20, 100.0)],
        venue(initial_cash=10_000.0, taker_fee_bps=10.0),
    )
    assert result.status("o1") == ["OrderSubmitted", "OrderAccepted", "OrderCanceled"]
    (canceled,) = result.of(OrderCanceled)
    assert canceled.remaining == 99.0
    assert "insufficient cash" in canceled.reason
    assert (result.cash, result.position) == (10_000.0, 0.0)
    assert not result.strategy.open_orders()


def test_a_market_buy_the_cash_still_covers_at_the_next_trade_fills_there() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(80.0)}),
        [trade(0, 100.0), trade(10, 120.0)],
        venue(initial_cash=10_000.0, taker_fee_bps=10.0),
    )
    assert fills(result) == [(120.0, 80.0, pytest.approx(9.6, rel=TIGHT), "taker")]
    assert result.cash == pytest.approx(10_000.0 - 9_600.0 - 9.6, rel=TIGHT)


def test_in_the_queue_model_our_orders_at_one_price_queue_behind_the_display_and_each_other() -> None:
    result = run(
        Scripted({0: [lambda s: s.buy(0.5, 99.0), lambda s: s.buy(1.0, 99.0)]}),
        [
            BOOK_99,  # 2.0 displayed at 99, then o1 (0.5), then o2 (1.0)
            trade(10, 99.0, 3.0, "sell"),  # 2.0 displayed, 0.5 to o1, 0.5 to o2
            trade(20, 99.0, 1.0, "sell"),  # the rest of o2
        ],
        venue(fill_model="queue"),
    )
    assert [(f.order_id, f.amount) for f in result.fills] == [("o1", 0.5), ("o2", 0.5), ("o2", 0.5)]
