"""Hypothesis strategies for valid market data: payloads that make market sense and whole sessions.

Unlike the shape-only strategies the codec tests use, everything here is what a
venue could send: positive prices and sizes, books whose bids stay below their
asks, deltas whose sequence ids follow on, bars whose high and low bound open and
close, and sessions whose timestamps never go back and whose positions and
per-stream versions count up by one. :class:`MarketShape` sets the size of a
session and which pathologies hypothesis may draw (bursts at one timestamp, long
silences, flat prices, huge and tiny values).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal, get_args

from hypothesis import strategies as st

from virtuoso.events import Bar, BookDelta, BookSnapshot, Trade, stream_name
from virtuoso.testing._builders import TIMEFRAMES_NS, BookSeries, Tick, Ticks, tidy, walk

Channel = Literal["trades", "bars", "book", "quotes"]
"""The market channels a generated session can hold (stream ``exchange:symbol:channel``)."""

CHANNELS: tuple[Channel, ...] = get_args(Channel)
SECOND_NS = 1_000_000_000


@dataclass(frozen=True)
class MarketShape:
    """What :func:`sessions` draws: streams, size, and the pathologies hypothesis may pick.

    Each pathology flag only allows it; hypothesis decides per example, and
    shrinks towards the plain case. ``bursts``: several events at one timestamp.
    ``gaps``: silences of a minute to three days. ``flat``: runs of unchanged
    prices (rare otherwise). ``extremes``: prices and sizes from 1e-8 to 1e9.

    >>> MarketShape(channels=("trades",), max_events=10).streams()
    ('binance:BTC/USDT:trades',)
    """

    symbols: tuple[str, ...] = ("BTC/USDT",)
    channels: tuple[Channel, ...] = CHANNELS
    exchange: str = "binance"
    min_events: int = 0
    max_events: int = 40
    max_step_ns: int = 5 * SECOND_NS
    """The longest ordinary time between two events (gaps aside); raise it to close bars more often."""
    bursts: bool = True
    gaps: bool = True
    flat: bool = True
    extremes: bool = True
    timeframe: str = "1m"
    start_ns: int = 1_700_000_000_000_000_000
    lifecycle: bool = True
    """Open the session with its ``SessionStarted`` event, as the store does."""

    def streams(self) -> tuple[str, ...]:
        """The market streams, symbol-major (``binance:BTC/USDT:trades``, ...)."""
        return tuple(stream_name(self.exchange, s, c) for s in self.symbols for c in self.channels)


# -- values ----------------------------------------------------------------------------------

PLAIN_PRICES = st.floats(min_value=1.0, max_value=100_000.0)
PLAIN_AMOUNTS = st.floats(min_value=0.0001, max_value=100.0)
EXTREME_VALUES = st.sampled_from([1e-8, 1e-4, 1e6, 1e9]) | st.floats(min_value=1e-8, max_value=1e9)


@functools.cache
def start_prices(extremes: bool = False) -> st.SearchStrategy[float]:
    """A first price: 1 to 100,000, or with ``extremes`` anything from 1e-8 to 1e9."""
    return PLAIN_PRICES | EXTREME_VALUES if extremes else PLAIN_PRICES


@functools.cache
def amounts(extremes: bool = False) -> st.SearchStrategy[float]:
    """A positive size: 0.0001 to 100, or with ``extremes`` anything from 1e-8 to 1e9."""
    return PLAIN_AMOUNTS | EXTREME_VALUES if extremes else PLAIN_AMOUNTS


@functools.cache
def moves(*, flat: bool = True) -> st.SearchStrategy[int]:
    """A price move in basis points, -100 to 100; with ``flat``, 0 is drawn often (a run of unchanged prices)."""
    steps = st.integers(min_value=-100, max_value=100)
    return st.just(0) | steps if flat else steps


@st.composite
def price_paths(draw: st.DrawFn, count: int, *, flat: bool = True, extremes: bool = False) -> list[float]:
    """``count`` positive prices, each within 1% of the one before (a random walk in basis points)."""
    first = draw(start_prices(extremes))
    steps = draw(st.lists(moves(flat=flat), min_size=max(count - 1, 0), max_size=max(count - 1, 0)))
    return list(accumulate(steps, walk, initial=tidy(first)))[:count]


@functools.cache
def time_steps(*, bursts: bool = True, gaps: bool = True, max_step_ns: int = 5 * SECOND_NS) -> st.SearchStrategy[int]:
    """The time from one event to the next: 1 ms to ``max_step_ns``; 0 in a burst; a minute to three days in a gap."""
    step = st.integers(min_value=1_000_000, max_value=max_step_ns)
    if bursts:
        step = step | st.just(0)
    if gaps:
        step = step | st.integers(min_value=60 * SECOND_NS, max_value=3 * 86_400 * SECOND_NS)
    return step


# -- single payloads ---------------------------------------------------------------------------


def trades(*, extremes: bool = False) -> st.SearchStrategy[Trade]:
    """One trade: positive price and amount, a side, a numeric trade id.

    >>> from hypothesis import find
    >>> find(trades(), lambda t: True)
    Trade(price=1.0, amount=1.0, side='buy', trade_id='0')
    """
    sides = st.sampled_from(("buy", "sell"))
    ids = st.integers(min_value=0, max_value=2**40).map(str)
    return st.builds(Trade, price=start_prices(extremes), amount=amounts(extremes), side=sides, trade_id=ids)


@st.composite
def bars(draw: st.DrawFn, *, timeframe: str = "1m", extremes: bool = False) -> Bar:
    """One closed bar: ``low <= open, close <= high``, volume >= 0, ``open_ns`` on the timeframe's grid."""
    frame = TIMEFRAMES_NS[timeframe]
    prices = draw(st.lists(start_prices(extremes), min_size=2, max_size=4))
    open_ns = draw(st.integers(min_value=0, max_value=2**62 // frame)) * frame
    volume = draw(st.just(0.0) | amounts(extremes))
    return Bar(timeframe, open_ns, prices[0], max(prices), min(prices), prices[-1], volume)


@functools.cache
def book_changes(depth: int = 5, *, extremes: bool = False) -> st.SearchStrategy[Ticks]:
    """Up to three changed levels of one side, as ``(ticks from the mid, amount)``; amount 0 removes the level."""
    level = st.tuples(st.integers(min_value=1, max_value=depth + 2), st.just(0.0) | amounts(extremes))
    return st.lists(level, max_size=3, unique_by=lambda change: change[0]).map(tuple)


@functools.cache
def book_details(depth: int = 5, *, extremes: bool = False) -> st.SearchStrategy[tuple[object, ...]]:
    """What :class:`BookSeries` needs for one event: resync?, sequence step, bid and ask changes."""
    changes = book_changes(depth, extremes=extremes)
    resync = st.integers(min_value=0, max_value=9).map(lambda n: n == 9)
    return st.tuples(resync, st.integers(min_value=1, max_value=5), changes, changes)


@st.composite
def books(draw: st.DrawFn, *, depth: int = 5, extremes: bool = False) -> BookSnapshot:
    """A book snapshot: up to ``depth + 2`` levels a side, one basis point apart around a mid, best first."""
    series = BookSeries(draw(st.integers(min_value=0, max_value=2**40)))
    _, step, bids, asks = draw(book_details(depth, extremes=extremes))
    snapshot = series.add(Tick(0, draw(start_prices(extremes)), draw(amounts(extremes)), (True, step, bids, asks)))
    assert isinstance(snapshot, BookSnapshot)
    return snapshot


@st.composite
def book_deltas(
    draw: st.DrawFn, *, max_size: int = 20, depth: int = 5, flat: bool = True, extremes: bool = False
) -> list[BookSnapshot | BookDelta]:
    """A book stream: a snapshot, then deltas whose sequence ids follow on (``first = previous last + 1``).

    Now and then a fresh snapshot (a resync) moves the mid to the price walk's
    current value; the deltas after it use its grid, so the book never crosses.
    """
    series = BookSeries(draw(st.integers(min_value=0, max_value=2**40)))
    price = tidy(draw(start_prices(extremes)))
    out: list[BookSnapshot | BookDelta] = []
    for move, size, detail in draw(st.lists(_book_rows(depth, flat, extremes), min_size=1, max_size=max_size)):
        price = walk(price, move)
        payload = series.add(Tick(0, price, size, detail))
        assert isinstance(payload, BookSnapshot | BookDelta)
        out.append(payload)
    return out


def _book_rows(depth: int, flat: bool, extremes: bool) -> st.SearchStrategy[tuple[int, float, tuple[object, ...]]]:
    return st.tuples(moves(flat=flat), amounts(extremes), book_details(depth, extremes=extremes))
