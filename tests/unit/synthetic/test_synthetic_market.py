"""The synthetic market: deterministic, a book that stays in sync and uncrossed, trades at the touch the
deltas then show consumed, bursty arrivals, trending and mean-reverting mid, bounded heavy-tailed sizes."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter, defaultdict

import pytest

from virtuoso.book import BookBuilder, SyncRule, rule_for_stream
from virtuoso.errors import ConfigError
from virtuoso.events import BookDelta, BookSnapshot, Event, Trade
from virtuoso.synthetic import (
    DEMO_START_NS,
    HawkesArrivals,
    MarketConfig,
    MidPrice,
    SyntheticMarket,
    synthetic_market_events,
)

SHORT = MarketConfig(hours=0.25)
BOOK = "synthetic:BTC/USDT:book"


@pytest.fixture(scope="module")
def session() -> list[Event]:
    """The demo's whole default session (six hours of exchange time), generated once."""
    return list(synthetic_market_events("s", MarketConfig(), seed=7))


def test_same_seed_same_events_other_seed_other_events() -> None:
    one = list(synthetic_market_events("s", SHORT, seed=3))
    assert one == list(synthetic_market_events("s", SHORT, seed=3))
    assert one != list(synthetic_market_events("s", SHORT, seed=4))


def test_the_session_has_the_demo_streams_in_exchange_time_order(session: list[Event]) -> None:
    counts = Counter((e.stream, e.type) for e in session)
    assert counts[(BOOK, "BookSnapshot")] == 1
    assert counts[(BOOK, "BookDelta")] == 6 * 3600  # the mid moves every second
    assert 20_000 < counts[("synthetic:BTC/USDT:trades", "Trade")] < 45_000
    assert isinstance(session[0].payload, BookSnapshot)
    assert session[0].ts_event == DEMO_START_NS
    times = [e.ts_event for e in session]
    assert times == sorted(times)
    assert session[-1].ts_event == DEMO_START_NS + MarketConfig().duration_ns
    assert all(1_000_000 <= e.ts_recv - e.ts_event < 5_000_000 for e in session)
    assert len({e.id for e in session}) == len(session)


def test_the_book_stays_in_sync_and_never_crosses_through_the_whole_session(session: list[Event]) -> None:
    assert rule_for_stream(BOOK) is SyncRule.SPOT
    builder = BookBuilder.for_stream(BOOK)
    for event in session:
        if event.stream != BOOK:
            continue
        assert builder.apply(event) is None, f"gap at {event.ts_event}"
        assert builder.in_sync
        bid, ask = builder.book.best_bid, builder.book.best_ask
        assert bid is not None
        assert ask is not None
        assert bid[0] < ask[0]
        assert min(builder.book.levels("bid"), builder.book.levels("ask")) >= 2


def test_levels_and_trades_are_on_the_tick_and_amount_grids(session: list[Event]) -> None:
    def on_grid(value: float, step: float) -> bool:
        return abs(value / step - round(value / step)) < 1e-6

    for event in session:
        payload = event.payload
        if isinstance(payload, Trade):
            assert on_grid(payload.price, 0.01), payload
            assert on_grid(payload.amount, 0.00001), payload
            assert payload.price > 0
            assert 0 < payload.amount <= MarketConfig().amount_max
        elif isinstance(payload, BookSnapshot | BookDelta):
            for price, size in (*payload.bids, *payload.asks):
                assert on_grid(price, 0.01), price
                assert on_grid(size, 0.00001), size
                assert size >= 0


def test_trades_take_the_published_book_from_the_touch_and_the_next_delta_shows_it(session: list[Event]) -> None:
    builder = BookBuilder.for_stream(BOOK)
    taken: dict[tuple[str, float], float] = defaultdict(float)
    at_touch = shown_exactly = 0
    trades = 0
    for event in session:
        payload = event.payload
        if isinstance(payload, Trade):
            trades += 1
            side = "ask" if payload.side == "buy" else "bid"
            best = builder.book.best_ask if side == "ask" else builder.book.best_bid
            assert best is not None
            # A buy takes asks at or above the best ask (a sell, bids at or below the best bid) ...
            assert (payload.price >= best[0]) if side == "ask" else (payload.price <= best[0])
            at_touch += payload.price == best[0]
            # ... only where the published book shows a level, for at most its size.
            taken[(side, payload.price)] += payload.amount
            assert taken[(side, payload.price)] <= builder.book.size_at(side, payload.price) + 1e-9
            continue
        before = {key: builder.book.size_at(*key) for key in taken}
        builder.apply(event)
        for (side, price), amount in taken.items():
            left, after = round(before[side, price] - amount, 8), builder.book.size_at(side, price)
            # The level is left with what the takers did not take, or it left the book: the touch moved
            # past it, or it is beyond the last level kept.
            assert after == left or (after == 0 and _outside(builder, side, price)), (side, price, amount, after)
            shown_exactly += after == left > 0
        taken.clear()
    assert at_touch > 0.6 * trades
    assert shown_exactly > 100


def _outside(builder: BookBuilder, side: str, price: float) -> bool:
    levels = [p for p, _ in (builder.book.asks() if side == "ask" else builder.book.bids())]
    return not min(levels) <= price <= max(levels)


def test_arrivals_are_bursty(session: list[Event]) -> None:
    seconds = Counter((e.ts_event - DEMO_START_NS) // 10**9 for e in session if isinstance(e.payload, Trade))
    counts = [seconds.get(second, 0) for second in range(6 * 3600)]
    assert statistics.variance(counts) > 1.5 * statistics.mean(counts)


@pytest.mark.parametrize(("excitation", "bursty"), [(0.0, False), (0.7, True)])
def test_excitation_is_what_makes_arrivals_bursty(excitation: float, bursty: bool) -> None:
    arrivals = HawkesArrivals(MarketConfig(base_rate=1.0, excitation=excitation), random.Random(1))
    counts = [len(arrivals.until(float(second))) for second in range(1, 20_001)]
    dispersion = statistics.variance(counts) / statistics.mean(counts)
    assert (dispersion > 1.5) is bursty, dispersion
    assert statistics.mean(counts) == pytest.approx(1.0 / (1 - excitation), rel=0.1)


def test_the_mid_trends_in_regimes_of_both_signs_and_reverts_to_its_anchor() -> None:
    config = MarketConfig()
    mid = MidPrice(config, random.Random(2))
    drifts, prices = set(), []
    for _ in range(24 * 3600):
        prices.append(mid.step(1.0))
        drifts.add(mid.drift > 0)
    assert drifts == {True, False}
    assert min(prices) > 0
    # Mean reversion: minute returns are negatively autocorrelated at a lag of several minutes.
    minutes = prices[::60]
    returns = [b / a - 1 for a, b in itertools.pairwise(minutes)]
    assert statistics.correlation(returns[:-5], [sum(returns[i + 1 : i + 6]) for i in range(len(returns) - 5)]) < 0


def test_taker_sizes_are_heavy_tailed_and_bounded(session: list[Event]) -> None:
    amounts = [e.payload.amount for e in session if isinstance(e.payload, Trade)]
    assert max(amounts) <= MarketConfig().amount_max
    assert max(amounts) > 50 * statistics.median(amounts)


def test_the_generator_reads_no_wall_clock_and_no_global_random(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = list(SyntheticMarket(SHORT, seed=5).events("s"))
    random.seed(99)
    monkeypatch.setattr("time.time_ns", lambda: 0)
    assert list(SyntheticMarket(SHORT, seed=5).events("s")) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hours": 0}, "hours must be > 0, not 0"),
        ({"excitation": 1.0, "decay": 1.0}, "excitation (1.0) must be below decay (1.0)"),
        ({"tick_size": 0.05}, "tick_size must be a power of ten"),
        ({"book_levels": 1}, "book_levels must be >= 2"),
        ({"buy_bias": 0.5}, "buy_bias must be in [0, 0.5)"),
    ],
)
def test_a_bad_config_is_a_one_line_error(values: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        MarketConfig(**values)  # type: ignore[arg-type]


def test_configs_come_from_mappings_with_unknown_keys_refused() -> None:
    assert MarketConfig.from_mapping({"hours": 1}) == MarketConfig(hours=1.0)
    assert MarketConfig.from_mapping(MarketConfig().as_dict()) == MarketConfig()
    with pytest.raises(ConfigError, match="market config: Object contains unknown field `hourz`"):
        MarketConfig.from_mapping({"hourz": 1})
