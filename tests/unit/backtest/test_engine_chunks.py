"""The engine handed whole chunks (the bus's batch handler) puts out what it puts out one event at a time.

``handle_many`` counts a stretch of quiet trades at once (no order waiting, no mark or
arrival due, the strategy not called on trades, no bar closed), and hands a strategy
with only ``on_trade`` (no analyzers) its trades in a loop of its own; the ledger, the
output, the portfolio and the error must be those of calling the engine on each event.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.backtest._scenario import SYMBOL, T0, events, trade, venue
from virtuoso.analysis import AnalyzerPipeline, build_analyzers
from virtuoso.backtest import BacktestEngine, Strategy
from virtuoso.errors import StrategyError
from virtuoso.events import Bar, Event, Trade
from virtuoso.strategies import MovingAverageCross, MovingAverageCrossConfig


class LimitsOnBars(Strategy):
    """Rests a limit order below the close of every 3rd bar: orders wait for trades, then fill or stay."""

    def __init__(self) -> None:
        super().__init__()
        self.bars = 0

    def on_bar(self, event: Event, bar: Bar) -> None:
        self.bars += 1
        if self.bars % 3 == 0:
            self.buy(0.01, price=bar.close * 0.999)


class EveryTrade(MovingAverageCross):
    """The cross, and a look at every trade (no stretch of trades is quiet)."""

    def on_trade(self, event: Event, trade: Trade) -> None:
        self.last = trade.price


class TradesOnly(Strategy):
    """Only ``on_trade``: market orders in and out, limit orders below the price, cancels; raises if told to."""

    def __init__(self, fail_at: int = 0) -> None:
        super().__init__()
        self.seen, self.fail_at = 0, fail_at

    def on_trade(self, event: Event, trade: Trade) -> None:
        self.seen += 1
        if self.seen == self.fail_at:
            raise RuntimeError("boom")
        if self.seen % 5 == 0:
            self.buy(0.01) if self.position() <= 0 else self.sell(0.01)
        elif self.seen % 7 == 0:
            self.buy(0.01, price=trade.price * 0.99)
        elif self.seen % 11 == 0:
            self.cancel_all()


STRATEGIES = {
    "cross": lambda: MovingAverageCross(MovingAverageCrossConfig(fast=2, slow=4, timeframe="1s")),
    "limits": LimitsOnBars,
    "every trade": lambda: EveryTrade(MovingAverageCrossConfig(fast=2, slow=4, timeframe="1s")),
    "trades only": TradesOnly,
    "trades only, raising": lambda: TradesOnly(fail_at=60),
}
PLAIN = {"trades only", "trades only, raising"}
"""Strategies run without analyzers (a plain ``on_trade``: the engine's own loop for trades)."""
walks = st.lists(
    st.tuples(st.sampled_from((0, 1, 40, 250, 999, 1_500)), st.integers(min_value=-30, max_value=30)),
    min_size=1,
    max_size=150,
)


def market(walk: list[tuple[int, int]]) -> list[Event]:
    rows, ms, price = [], 0, 100.0
    for i, (step, move) in enumerate(walk):
        ms, price = ms + step, max(1.0, price + move / 10)
        rows.append(trade(ms, price, 0.5, "buy" if i % 3 else "sell"))
    return events(rows)


def drive(name: str, market: list[Event], cuts: set[int] | None, latency_ms: float) -> tuple[list, list, float, str]:
    output: list[Event] = []
    pipeline = None if name in PLAIN else AnalyzerPipeline(build_analyzers([{"name": "bars", "timeframes": ["1s"]}]))
    config = venue(latency={"ms": latency_ms}, mark_interval_s=2.0)
    engine = BacktestEngine(STRATEGIES[name](), config, symbol=SYMBOL, pipeline=pipeline, output=output.extend)
    engine.start()
    if cuts is None:
        for event in market:
            engine(event)
    else:
        bounds = sorted({0, len(market), *(c for c in cuts if c < len(market))})
        for start, stop in pairwise(bounds):
            engine.handle_many(market[start:stop])
    try:
        engine.finish()
    except StrategyError as exc:
        error = str(exc)
    else:
        error = ""
    facts = [(e.stream, e.ts_event, e.causation, e.payload) for e in engine.ledger]
    return facts, [(e.id, e.stream, e.ts_event, e.causation, e.payload) for e in output], engine.portfolio.cash, error


@settings(max_examples=60, deadline=None)
@given(walks, st.sets(st.integers(min_value=1, max_value=150)), st.sampled_from(sorted(STRATEGIES)),
       st.sampled_from((0.0, 30.0)))  # fmt: skip
def test_chunks_give_the_ledger_and_output_of_one_call_an_event(
    walk: list[tuple[int, int]], cuts: set[int], name: str, latency_ms: float
) -> None:
    inputs = market(walk)
    assert drive(name, inputs, cuts, latency_ms) == drive(name, inputs, None, latency_ms)


def test_a_long_quiet_stretch_still_trades_on_the_bars_it_closes() -> None:
    walk = [(40, (i // 60) % 7 - 3) for i in range(3_000)]  # a slow swing: crosses up and down
    inputs = market(walk)
    facts, _, cash, _ = drive("cross", inputs, {1_000, 2_000}, 0.0)
    assert (facts, cash) == drive("cross", inputs, None, 0.0)[0:3:2]
    assert any(type(f[3]).__name__ == "OrderFilled" for f in facts)
    assert inputs[-1].ts_event - T0 == 120_000_000_000


def test_a_trades_only_strategy_trades_and_raises_as_one_call_an_event_would() -> None:
    inputs = market([(40, (i // 20) % 7 - 3) for i in range(400)])
    for name in sorted(PLAIN):
        facts, output, cash, error = drive(name, inputs, {50, 51, 180, 300}, 30.0)
        assert (facts, output, cash, error) == drive(name, inputs, None, 30.0)
        assert any(type(f[3]).__name__ == "OrderFilled" for f in facts)
        assert any(type(f[3]).__name__ == "OrderCanceled" for f in facts)
    assert error.startswith("strategy TradesOnly raised on event 60 (Trade, binance:BTC/USDT:trades)")
