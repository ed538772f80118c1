"""The backtest engine: the order of things per event, equity marks, and a strategy that raises."""

from __future__ import annotations

import pytest

from tests.unit.backtest._scenario import (
    MS,
    SECOND,
    SYMBOL,
    T0,
    TRADES,
    Scripted,
    events,
    marks,
    run,
    snapshot,
    trade,
    venue,
)
from virtuoso.backtest import BacktestEngine
from virtuoso.errors import StrategyError
from virtuoso.events import EquityMarked, Event, OrderFilled, OrderSubmitted, Trade

# -- 9. equity marks ---------------------------------------------------------------------------------------


def test_marks_fall_on_each_interval_boundary_through_gaps_and_once_more_at_the_last_event() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [trade(0, 100.0), trade(500, 100.0), trade(3_200, 120.0), trade(3_700, 130.0)],
        venue(mark_interval_s=1.0, initial_cash=10_000.0),
    )
    assert [(ms, m.equity, m.cash, m.prices, m.positions) for ms, m in marks(result)] == [
        (0, 10_000.0, 10_000.0, {SYMBOL: 100.0}, {}),  # after the trade at 0: the buy is still on its way
        (1_000, 10_000.0, 9_900.0, {SYMBOL: 100.0}, {SYMBOL: 1.0}),
        (2_000, 10_000.0, 9_900.0, {SYMBOL: 100.0}, {SYMBOL: 1.0}),  # a gap: no event in (1 s, 2 s]
        (3_000, 10_000.0, 9_900.0, {SYMBOL: 100.0}, {SYMBOL: 1.0}),
        (3_700, 10_030.0, 9_900.0, {SYMBOL: 130.0}, {SYMBOL: 1.0}),  # the last event's price
    ]


def test_a_mark_is_cash_plus_each_position_at_its_last_price() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(2.0), 2: lambda s: s.sell(0.5)}),
        [trade(0, 100.0), trade(400, 101.0), trade(900, 104.0), trade(1_500, 98.0), trade(2_100, 97.0)],
        venue(mark_interval_s=1.0, taker_fee_bps=10.0, initial_cash=1_000.0),
    )
    cash_after_buy = 1_000.0 - 2 * 101.0 * 1.001
    cash_after_sell = cash_after_buy + 0.5 * 98.0 * 0.999
    got = [(ms, m.equity) for ms, m in marks(result)]
    assert got == [
        (0, 1_000.0),
        (1_000, pytest.approx(cash_after_buy + 2.0 * 104.0, rel=1e-12)),
        (2_000, pytest.approx(cash_after_sell + 1.5 * 98.0, rel=1e-12)),
        (2_100, pytest.approx(cash_after_sell + 1.5 * 97.0, rel=1e-12)),
    ]


def test_a_mark_on_an_event_time_sees_what_happened_at_or_before_it() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [trade(0, 100.0), trade(1_000, 110.0), trade(1_500, 111.0)],
        venue(mark_interval_s=1.0),
    )
    # the order arrived at 5 ms and waited for a trade: the one at 1 s fills it, and the mark at 1 s shows it
    assert [(ms, m.prices.get(SYMBOL), m.positions) for ms, m in marks(result)][1] == (1_000, 110.0, {SYMBOL: 1.0})


def test_the_last_mark_shows_the_last_event_even_when_it_falls_on_a_boundary() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [trade(0, 100.0), trade(500, 100.0), trade(1_000, 150.0)],
        venue(mark_interval_s=1.0, initial_cash=1_000.0),
    )
    (last_ms, last) = marks(result)[-1]
    assert (last_ms, last.equity, last.prices) == (1_000, 1_050.0, {SYMBOL: 150.0})


def test_the_last_mark_is_not_repeated_when_nothing_happened_after_it() -> None:
    result = run(Scripted(), [trade(0, 100.0), trade(1_000, 100.0)], venue(mark_interval_s=1.0))
    assert [ms for ms, _ in marks(result)] == [0, 1_000]


def test_no_events_no_marks() -> None:
    result = run(Scripted(), [], venue())
    assert result.ledger == []


# -- the order of things ---------------------------------------------------------------------------------------


def test_ledger_times_are_the_exchange_times_things_happened_at() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(1.0)}),
        [snapshot(0, asks=[(100.0, 1.0)]), trade(30, 100.0)],
        venue(latency={"ms": 7.0}),
    )
    got = [((e.ts_event - T0) / MS, e.type) for e in result.ledger if e.type != "EquityMarked"]
    assert got == [(0, "OrderSubmitted"), (7, "OrderAccepted"), (7, "OrderFilled"), (7, "PositionChanged")]
    assert result.of(OrderSubmitted)[0].arrives_ns == T0 + 7 * MS


def test_derived_events_name_the_input_event_as_their_cause_and_input_with_a_cause_is_ignored() -> None:
    result = run(Scripted({1: lambda s: s.buy(1.0)}), [trade(0, 100.0), trade(10, 100.0), trade(20, 100.0)], venue())
    assert {e.causation for e in result.ledger if e.type == "OrderSubmitted"} == {2}
    engine = result.engine
    before = len(engine.ledger)
    engine(Event("x", TRADES, T0 + SECOND, T0 + SECOND, "s", Trade(1.0, 1.0, "buy", "x"), causation=3, position=9))
    assert len(engine.ledger) == before


def test_output_gets_the_derived_events_in_ledger_order() -> None:
    result = run(Scripted({0: lambda s: s.buy(1.0)}), [trade(0, 100.0), trade(10, 100.0)], venue())
    assert result.output == result.ledger


def test_orders_sent_in_on_start_go_out_with_the_first_event() -> None:
    class Early(Scripted):
        def on_start(self) -> None:
            self.ids.append(self.buy(1.0))

    result = run(Early(), [trade(0, 100.0), trade(10, 101.0)], venue(latency={"ms": 5.0}))
    got = [((e.ts_event - T0) / MS, e.type) for e in result.ledger if e.type != "EquityMarked"]
    assert got == [(0, "OrderSubmitted"), (5, "OrderAccepted"), (10, "OrderFilled"), (10, "PositionChanged")]
    assert [(f.order_id, f.price) for f in result.fills] == [("o1", 101.0)]
    times = [e.ts_event for e in result.ledger]
    assert times == sorted(times)


# -- 10. a strategy that raises -------------------------------------------------------------------------------------


class Exploding(Scripted):
    def __init__(self, at: int) -> None:
        super().__init__({at: self.explode})
        self.stopped = False

    def explode(self, strategy: object) -> None:
        raise RuntimeError("boom")

    def on_stop(self) -> None:
        self.stopped = True


def test_a_strategy_error_names_the_strategy_and_the_event_and_stops_the_backtest() -> None:
    strategy = Exploding(2)
    calls: list[str] = []
    engine = BacktestEngine(strategy, venue(), symbol=SYMBOL)
    engine.on_error = lambda: calls.append("stop")
    engine.start()
    for event in events([trade(0, 100.0), trade(10, 100.0), trade(20, 100.0), trade(30, 100.0)]):
        engine(event)
    assert isinstance(engine.error, StrategyError)
    assert str(engine.error) == (
        "strategy Exploding raised on event 3 (Trade, binance:BTC/USDT:trades): RuntimeError: boom"
    )
    assert isinstance(engine.error.__cause__, RuntimeError)
    assert strategy.seen == 3  # the fourth event never reached it
    assert calls == ["stop"]
    with pytest.raises(StrategyError, match="Exploding"):
        engine.finish()
    assert not strategy.stopped


def test_a_strategy_raising_in_on_start_is_a_strategy_error_too() -> None:
    class BadStart(Scripted):
        def on_start(self) -> None:
            raise ValueError("no")

    with pytest.raises(StrategyError, match=r"strategy BadStart raised: ValueError: no"):
        run(BadStart(), [trade(0, 100.0)])


class FillBomb(Scripted):
    def on_fill(self, fill: OrderFilled) -> None:
        super().on_fill(fill)
        raise RuntimeError("bad fill")


@pytest.mark.parametrize(
    "rows",
    [
        [trade(0, 100.0), trade(10, 100.0), trade(20, 100.0), trade(30, 100.0)],  # filled by a trade
        [snapshot(0, asks=[(100.0, 9.0)]), trade(10, 100.0), trade(20, 100.0)],  # filled on arrival
    ],
)
def test_a_strategy_raising_in_on_fill_is_a_strategy_error_and_the_fill_is_booked_once(rows: list) -> None:  # type: ignore[type-arg]
    strategy = FillBomb({0: lambda s: s.buy(1.0)})
    engine = BacktestEngine(strategy, venue(), symbol=SYMBOL)
    engine.start()
    for event in events(rows):
        engine(event)
    assert isinstance(engine.error, StrategyError)
    assert "strategy FillBomb raised" in str(engine.error)
    assert "on_fill" in str(engine.error)
    assert "RuntimeError: bad fill" in str(engine.error)
    assert len(strategy.fills) == 1
    assert engine.portfolio.amount(SYMBOL) == 1.0
    assert [e.type for e in engine.ledger].count("OrderFilled") == 1
    with pytest.raises(StrategyError):
        engine.finish()


def test_submit_checks_its_arguments() -> None:
    result = run(Scripted(), [trade(0, 100.0)], finish=False)
    engine = result.engine
    with pytest.raises(Exception, match="side must be"):
        engine.submit("long", 1.0, None, SYMBOL, "GTC")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="time_in_force must be"):
        engine.submit("buy", 1.0, None, SYMBOL, "FOK")  # type: ignore[arg-type]


def test_equity_marks_go_to_the_equity_stream() -> None:
    result = run(Scripted(), [trade(0, 100.0)], venue())
    assert {e.stream for e in result.ledger if isinstance(e.payload, EquityMarked)} == {"backtest:equity"}


def test_marks_carry_realized_and_unrealized_pnl() -> None:
    result = run(
        Scripted({0: lambda s: s.buy(2.0), 2: lambda s: s.sell(1.0)}),
        [trade(0, 100.0), trade(400, 100.0), trade(900, 110.0), trade(1_500, 120.0), trade(2_500, 90.0)],
        venue(mark_interval_s=1.0),
    )
    got = [(ms, m.realized_pnl, m.unrealized_pnl) for ms, m in marks(result)]
    # bought 2 at 100 (400 ms); sold 1 at 120 (the order sent at 900 ms fills at 1.5 s)
    assert got == [(0, 0.0, 0.0), (1_000, 0.0, 20.0), (2_000, 20.0, 20.0), (2_500, 20.0, -10.0)]
