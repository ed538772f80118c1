"""The Strategy API as a user's strategy sees it: callbacks, actions, reads, parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.backtest._scenario import (
    SYMBOL,
    T0,
    Scripted,
    delta,
    run,
    snapshot,
    trade,
    venue,
)
from virtuoso.analysis import AnalyzerPipeline, build_analyzers
from virtuoso.backtest import Strategy, StrategyConfig
from virtuoso.book import OrderBook
from virtuoso.errors import ConfigError, StrategyError, UsageError
from virtuoso.events import Bar, Event, IndicatorValue, OrderCanceled, OrderFilled, Trade

# -- 11. callbacks ------------------------------------------------------------------------------------------


class BookWatcher(Strategy):
    """Overrides on_book only (the engine's typed dispatch, not on_event)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, Any, Any, bool]] = []

    def on_book(self, event: Event, book: OrderBook) -> None:
        self.seen.append((event.position, book.best_bid, book.best_ask, book is self.book()))


@pytest.mark.parametrize(
    "strategy_class", [BookWatcher, type("OnEvent", (BookWatcher,), {"on_event": Strategy.on_event})]
)
def test_on_book_gets_the_venue_book_after_the_update(strategy_class: type[BookWatcher]) -> None:
    strategy = strategy_class()
    run(
        strategy,
        [
            snapshot(0, bids=[(99.0, 1.0)], asks=[(100.0, 1.0)]),
            delta(10, bids=[(99.5, 2.0)], asks=[(100.0, 0.0), (100.5, 3.0)], sequence=11),
            delta(20, bids=[(99.0, 0.0)], sequence=14),  # a gap: no book until the next snapshot
            trade(30, 100.0),
            snapshot(40, bids=[(98.0, 1.0)], asks=[(101.0, 1.0)], sequence=20),
        ],
    )
    assert strategy.seen == [
        (1, (99.0, 1.0), (100.0, 1.0), True),
        (2, (99.5, 2.0), (100.5, 3.0), True),
        (5, (98.0, 1.0), (101.0, 1.0), True),
    ]


class BarFollower(Strategy):
    """Buys when a 1 s bar closes up, and records the analyzer outputs it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[int | None, Bar]] = []
        self.signals: list[tuple[int | None, Any]] = []

    def on_bar(self, event: Event, bar: Bar) -> None:
        self.bars.append((event.causation, bar))
        if bar.close > bar.open:
            self.buy(1.0)

    def on_signal(self, event: Event, signal: Any) -> None:
        self.signals.append((event.causation, signal))


def test_analyzer_outputs_reach_on_bar_and_on_signal_right_after_the_event_they_came_from() -> None:
    pipeline = AnalyzerPipeline(
        build_analyzers([{"name": "bars", "timeframes": ["1s"]}, {"name": "vwap", "timeframe": "1s"}])
    )
    strategy = BarFollower()
    result = run(
        strategy,
        [trade(0, 100.0, 1.0), trade(500, 102.0, 3.0), trade(1_200, 101.0), trade(1_300, 101.0), trade(2_500, 99.0)],
        pipeline=pipeline,
    )
    assert [(cause, bar.open_ns - T0, bar.open, bar.close, bar.volume) for cause, bar in strategy.bars] == [
        (3, 0, 100.0, 102.0, 4.0),
        (5, 1_000_000_000, 101.0, 101.0, 2.0),
    ]
    assert [(cause, type(s).__name__, s.value) for cause, s in strategy.signals] == [
        (3, "IndicatorValue", 101.5),
        (5, "IndicatorValue", pytest.approx((102.0 * 3 + 100.0 + 101.0 * 2) / 6)),
    ]
    assert isinstance(strategy.signals[0][1], IndicatorValue)
    # the buy on the first bar (sent while the event at 1.2 s was handled) fills at the next trade
    assert [(f.price, f.amount) for f in result.fills] == [(101.0, 1.0)]
    derived = [e for e in result.output if e.type in ("Bar", "IndicatorValue")]
    assert [e.causation for e in derived] == [3, 3, 5, 5]
    assert not any(e.type in ("Bar", "IndicatorValue") for e in result.ledger)


def test_on_fill_sees_each_fill_after_the_portfolio_took_it_and_may_act() -> None:
    class TakeProfit(Scripted):
        def on_fill(self, fill: OrderFilled) -> None:
            super().on_fill(fill)
            self.held_at_fill = self.position()
            if fill.side == "buy":
                self.sell(fill.amount, fill.price + 1.0)

    strategy = TakeProfit({0: lambda s: s.buy(1.0)})
    result = run(strategy, [trade(0, 100.0), trade(10, 100.0), trade(20, 101.5, 1.0, "buy")])
    assert [(f.side, f.price, f.liquidity) for f in strategy.fills] == [
        ("buy", 100.0, "taker"),
        ("sell", 101.0, "maker"),
    ]
    assert strategy.held_at_fill == 0.0
    assert result.position == 0.0


def test_on_start_and_on_stop_bracket_the_events() -> None:
    calls: list[str] = []

    class Bracketed(Strategy):
        def on_start(self) -> None:
            calls.append("start")

        def on_trade(self, event: Event, trade: Trade) -> None:
            calls.append(f"trade {trade.price}")

        def on_stop(self) -> None:
            calls.append("stop")

    run(Bracketed(), [trade(0, 1.0), trade(1, 2.0)])
    assert calls == ["start", "trade 1.0", "trade 2.0", "stop"]


# -- actions and reads ---------------------------------------------------------------------------------------------


def test_the_reads_answer_from_the_engine_at_the_event_being_handled() -> None:
    seen: list[tuple[Any, ...]] = []

    def look(s: Strategy) -> None:
        seen.append((s.symbol, s.now_ns - T0, s.last_price(), s.position(), s.cash, s.equity(), len(s.open_orders())))

    strategy = Scripted({0: [look, lambda s: s.buy(2.0), look], 1: look, 2: look})
    run(strategy, [trade(0, 100.0), trade(5, 101.0), trade(9, 103.0)], venue(initial_cash=1_000.0))
    assert seen == [
        (SYMBOL, 0, 100.0, 0.0, 1_000.0, 1_000.0, 0),
        (SYMBOL, 0, 100.0, 0.0, 1_000.0, 1_000.0, 1),
        (SYMBOL, 5_000_000, 101.0, 2.0, 798.0, 1_000.0, 0),
        (SYMBOL, 9_000_000, 103.0, 2.0, 798.0, 1_004.0, 0),
    ]


def test_cancel_all_cancels_every_open_order() -> None:
    rest = lambda s: [s.buy(1.0, 90.0), s.buy(1.0, 91.0)]  # noqa: E731
    strategy = Scripted({0: rest, 1: lambda s: s.cancel_all()})
    result = run(strategy, [trade(0, 100.0), trade(10, 100.0), trade(20, 100.0)])
    assert [(c.order_id, c.reason) for c in result.of(OrderCanceled)] == [
        ("o1", "canceled by the strategy"),
        ("o2", "canceled by the strategy"),
    ]
    assert strategy.open_orders() == []


def test_canceling_an_unknown_order_raises_a_usage_error() -> None:
    result = run(Scripted(), [trade(0, 100.0)], finish=False)
    with pytest.raises(UsageError, match="no open order 'o9'"):
        result.engine.cancel("o9")


def test_canceling_a_filled_order_from_a_strategy_fails_the_backtest_with_the_usage_error_as_cause() -> None:
    strategy = Scripted({0: lambda s: s.buy(1.0), 2: lambda s: s.cancel("o1")})
    with pytest.raises(StrategyError, match="no open order 'o1'") as raised:
        run(strategy, [trade(0, 100.0), trade(10, 100.0), trade(20, 100.0)])
    assert isinstance(raised.value.__cause__, UsageError)


def test_a_strategy_outside_a_backtest_says_so() -> None:
    with pytest.raises(UsageError, match="Scripted is not running in a backtest"):
        Scripted().buy(1.0)
    with pytest.raises(UsageError, match="not running"):
        _ = Scripted().cash


# -- parameters ------------------------------------------------------------------------------------------


class Params(StrategyConfig, frozen=True, kw_only=True):
    period: int = 20
    threshold: float = 0.5


class WithParams(Strategy):
    Config = Params


def test_parameters_come_from_text_values_with_their_types_and_hash_by_content() -> None:
    params = Params.from_mapping({"period": "9", "threshold": "0.25", "symbol": "ETH/USDT"})
    assert (params.period, params.threshold, params.symbol) == (9, 0.25, "ETH/USDT")
    assert params.hash() == Params(period=9, threshold=0.25, symbol="ETH/USDT").hash() != Params().hash()
    assert WithParams(params).config is params
    assert isinstance(WithParams().config, Params)


def test_bad_parameters_fail_in_one_line_naming_them() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'perid'"):
        Params.from_mapping({"perid": 3})
    with pytest.raises(ConfigError, match="strategy parameters"):
        Params.from_mapping({"period": "nine"})
    with pytest.raises(UsageError, match="WithParams takes a Params, not StrategyConfig"):
        WithParams(StrategyConfig())


def test_a_strategy_trades_its_configured_symbol() -> None:
    strategy = WithParams(Params(symbol="ETH/USDT"))
    run(strategy, [trade(0, 100.0)], finish=False)
    assert strategy.symbol == SYMBOL  # the engine's symbol: the run resolves the parameter into it
