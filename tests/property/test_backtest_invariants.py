"""Invariants of the simulated venue and portfolio over generated markets and random strategy scripts.

After every event: the portfolio reconciles with the fills in the ledger; no fill is at a price the
recorded market did not offer (a trade's, with the slippage; a book level's; a resting order's limit
on a trade through it); limits are kept; fees are never negative; no order fills more than its amount;
each order's story is well formed; on spot, cash and position never go below 0; the ledger's times
never go back. And a backtest is a
function of its inputs and seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.backtest._scenario import SYMBOL, Scripted, run, trade, venue
from virtuoso.backtest import BacktestEngine, Strategy, VenueConfig
from virtuoso.book import OrderBook
from virtuoso.events import (
    EquityMarked,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    Trade,
)
from virtuoso.testing import MarketShape, sessions

INITIAL_CASH = 10_000.0
REL = 1e-9

# -- the generated strategy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    """An order sized as a share of the initial cash at the last price, priced ``offset_bp`` from it."""

    side: str
    market: bool
    share: float
    offset_bp: int
    tif: str


@dataclass(frozen=True)
class Cancel:
    """Cancel the ``which``-th order sent so far (modulo their number), if it is still open."""

    which: int


Action = Submit | Cancel

submits = st.builds(
    Submit,
    side=st.sampled_from(("buy", "sell")),
    market=st.booleans(),
    share=st.floats(min_value=0.001, max_value=1.2),
    offset_bp=st.integers(min_value=-60, max_value=60),
    tif=st.sampled_from(("GTC", "GTC", "IOC", "post-only")),
)
actions = st.one_of(submits, submits, st.builds(Cancel, st.integers(min_value=0, max_value=20)))
plans = st.dictionaries(
    st.integers(min_value=0, max_value=25), st.lists(actions, min_size=1, max_size=3), min_size=1, max_size=15
)


class RandomScript(Strategy):
    """Plays a generated plan: at the i-th market event, the actions of ``plan[i]``."""

    def __init__(self, plan: dict[int, list[Action]]) -> None:
        super().__init__()
        self.plan = plan
        self.seen = 0
        self.sent: list[str] = []

    def on_event(self, event: Event) -> None:
        for action in self.plan.get(self.seen, ()):
            self._play(action)
        self.seen += 1

    def _play(self, action: Action) -> None:
        if isinstance(action, Cancel):
            open_ids = {o.id for o in self.open_orders()}
            if self.sent and (order_id := self.sent[action.which % len(self.sent)]) in open_ids:
                self.cancel(order_id)
            return
        reference = self.last_price() or _mid(self.book())
        if reference is None:
            reference = 1.0  # no market data yet: the venue rejects it, which is worth seeing too
        amount = action.share * INITIAL_CASH / reference
        price = None if action.market else reference * (1 + action.offset_bp / 10_000)
        self.sent.append(self.submit(action.side, amount, price, time_in_force=action.tif))  # type: ignore[arg-type]


def _mid(book: OrderBook | None) -> float | None:
    return None if book is None else book.mid


venues = st.builds(
    dict,
    maker_fee_bps=st.sampled_from((0.0, 1.0, 10.0)),
    taker_fee_bps=st.sampled_from((0.0, 5.0, 25.0)),
    slippage_bps=st.sampled_from((0.0, 0.0, 3.0)),
    fill_model=st.sampled_from(("through", "queue")),
    allow_short=st.booleans(),
    mark_interval_s=st.sampled_from((1.0, 7.5)),
    latency=st.sampled_from(({"ms": 0.0}, {"ms": 20.0}, {"kind": "uniform", "low_ms": 0.0, "high_ms": 3_000.0})),
).map(lambda settings: VenueConfig.from_mapping({**settings, "initial_cash": INITIAL_CASH}))

_SHAPE = MarketShape(min_events=8, max_events=40, gaps=False, extremes=False, lifecycle=False)
markets = sessions(replace(_SHAPE, channels=("trades", "book"))) | sessions(replace(_SHAPE, channels=("trades",)))


# -- the checks -----------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the ledger says so far, recomputed from its events."""

    config: VenueConfig
    orders: dict[str, OrderSubmitted] = field(default_factory=dict)
    stories: dict[str, str] = field(default_factory=dict)
    filled: dict[str, float] = field(default_factory=dict)
    cash: float = INITIAL_CASH
    position: float = 0.0
    turnover: float = 0.0

    def take(self, event: Event, before: OrderBook, trade: Trade | None) -> None:
        payload = event.payload
        if isinstance(payload, OrderSubmitted):
            self.orders[payload.order_id] = payload
        for kind, letter in _LETTERS.items():
            if isinstance(payload, kind):
                order_id = payload.order_id  # type: ignore[attr-defined]
                self.stories[order_id] = self.stories.get(order_id, "") + letter
        if isinstance(payload, OrderFilled):
            self._fill(payload, before, trade)
        if isinstance(payload, PositionChanged):
            assert payload.cash == pytest.approx(self.cash, rel=REL, abs=REL * self.turnover)
            assert payload.amount == pytest.approx(self.position, rel=REL, abs=1e-9 * max(1.0, self.turnover))
        if isinstance(payload, EquityMarked):
            assert payload.equity == pytest.approx(
                payload.cash + sum(a * payload.prices.get(s, 0.0) for s, a in payload.positions.items() if a),
                rel=REL,
                abs=REL * self.turnover,
            ) or any(a and s not in payload.prices for s, a in payload.positions.items())

    def _fill(self, fill: OrderFilled, before: OrderBook, trade: Trade | None) -> None:
        order = self.orders[fill.order_id]
        assert fill.fee >= 0
        assert fill.amount > 0
        self.filled[fill.order_id] = self.filled.get(fill.order_id, 0.0) + fill.amount
        assert self.filled[fill.order_id] <= order.amount * (1 + REL)
        assert fill.remaining == pytest.approx(
            order.amount - self.filled[fill.order_id], rel=REL, abs=REL * order.amount
        )
        if order.price is not None:
            assert fill.price <= order.price if fill.side == "buy" else fill.price >= order.price
        assert fill.price in self._offered(order, fill, before, trade), (fill, order, trade)
        signed = fill.amount if fill.side == "buy" else -fill.amount
        self.cash -= signed * fill.price + fill.fee
        self.position += signed
        self.turnover += abs(signed * fill.price) + fill.fee

    def _offered(self, order: OrderSubmitted, fill: OrderFilled, before: OrderBook, trade: Trade | None) -> set[float]:
        """The prices this fill could have had: levels of the book it walked, the trade it met, its limit."""
        buy = fill.side == "buy"
        if fill.liquidity == "maker":
            assert trade is not None
            assert order.price is not None
            through = trade.price < order.price if buy else trade.price > order.price
            at = self.config.fill_model == "queue" and trade.price == order.price
            assert through or at, (fill, order, trade)
            return {order.price}
        offered = {price for price, _ in (before.asks() if buy else before.bids())}
        if trade is not None:
            slip = self.config.slippage_bps / 10_000
            offered.add(trade.price * (1 + slip) if buy else trade.price * (1 - slip))
        if order.price is not None:
            offered.add(order.price)  # a taker waiting for a trade fills at most at its limit
        return offered


_LETTERS = {OrderSubmitted: "S", OrderAccepted: "A", OrderRejected: "R", OrderFilled: "F", OrderCanceled: "C"}
_STORY = re.compile(r"S(R|AF*C?|C)?")
"""Sent; then rejected, or accepted, filled and maybe canceled, or canceled before it arrived."""


def drive(market: list[Event], plan: dict[int, list[Action]], config: VenueConfig, seed: int = 0) -> BacktestEngine:
    """Run the backtest event by event, checking the ledger after each."""
    engine = BacktestEngine(RandomScript(plan), config, symbol=SYMBOL, seed=seed)
    ledger = Ledger(config)
    engine.start()
    seen = 0
    for event in market:
        before = OrderBook(*(engine.venue.book(SYMBOL) or OrderBook()).depth())
        engine(event)
        trade = event.payload if isinstance(event.payload, Trade) else None
        for derived in engine.ledger[seen:]:
            ledger.take(derived, before, trade)
        seen = len(engine.ledger)
        check_state(engine, ledger)
    engine.finish()
    times = [e.ts_event for e in engine.ledger]
    assert times == sorted(times)
    for story in ledger.stories.values():
        assert _STORY.fullmatch(story), story
    return engine


def check_state(engine: BacktestEngine, ledger: Ledger) -> None:
    portfolio = engine.portfolio
    assert portfolio.cash == pytest.approx(ledger.cash, rel=REL, abs=REL * ledger.turnover)
    assert portfolio.amount(SYMBOL) == pytest.approx(ledger.position, rel=REL, abs=1e-9 * max(1.0, ledger.turnover))
    assert portfolio.fees >= 0
    if not engine.venue.config.allow_short:
        assert portfolio.cash >= -REL * ledger.turnover
        assert portfolio.amount(SYMBOL) >= -REL * max(1.0, ledger.turnover)
    for order in engine.venue.open_orders():
        assert 0 <= order.filled <= order.amount
        assert order.reserved >= 0


@settings(max_examples=100, deadline=None)
@given(markets, plans, venues)
def test_the_portfolio_reconciles_with_the_fills_and_every_fill_is_at_an_offered_price(
    market: list[Event], plan: dict[int, list[Action]], config: VenueConfig
) -> None:
    drive(market, plan, config)


def _facts(engine: BacktestEngine) -> list[tuple[str, int, int | None, object]]:
    return [(e.stream, e.ts_event, e.causation, e.payload) for e in engine.ledger]


@settings(max_examples=40, deadline=None)
@given(markets, plans, venues, st.integers(min_value=0, max_value=2**32))
def test_the_same_backtest_twice_gives_the_same_ledger(
    market: list[Event], plan: dict[int, list[Action]], config: VenueConfig, seed: int
) -> None:
    assert _facts(drive(market, plan, config, seed)) == _facts(drive(market, plan, config, seed))


def test_the_seed_moves_a_random_latency_and_with_it_the_fills() -> None:
    config = venue(latency={"kind": "uniform", "low_ms": 0.0, "high_ms": 100.0})
    rows = [trade(ms, 100.0 + ms / 10) for ms in range(0, 300, 10)]
    prices = set()
    for seed in range(5):
        result = run(Scripted({0: lambda s: s.buy(1.0)}), rows, config, seed=seed)
        prices.add(result.fills[0].price)
    assert len(prices) > 1
