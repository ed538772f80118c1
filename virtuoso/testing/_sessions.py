"""Whole generated sessions: market streams merged on one timeline, in envelopes as the store gives them back.

Each market event is drawn as one block (its stream, time step, price move,
size and channel details), so hypothesis shrinks a failing session by dropping
events whole and simplifying each; the builders then make each stream coherent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple, Protocol

import msgspec
from hypothesis import strategies as st

from virtuoso.events import Bar, Event, EventIdFactory, Payload, SessionStarted
from virtuoso.store import lifecycle_stream
from virtuoso.testing._builders import BarSeries, BookSeries, QuoteSeries, Tick, TradeSeries, tidy, walk
from virtuoso.testing._strategies import (
    Channel,
    MarketShape,
    amounts,
    book_details,
    moves,
    start_prices,
    time_steps,
)

BASES = st.integers(min_value=0, max_value=2**40)
LATENCIES = st.integers(min_value=0, max_value=50_000_000)


class Row(NamedTuple):
    """One market event as drawn: which stream, time since the previous event, price move, size, details."""

    place: int
    step_ns: int
    move_bp: int
    size: float
    detail: tuple[object, ...]


class Series(Protocol):
    """A stream builder (see ``_builders``)."""

    def add(self, tick: Tick) -> Payload:
        """The stream's next payload."""
        ...


def _details(channel: Channel, shape: MarketShape) -> st.SearchStrategy[tuple[object, ...]]:
    if channel == "trades":
        return st.tuples(st.sampled_from(("buy", "sell")))
    if channel == "quotes":
        return st.tuples(st.integers(min_value=1, max_value=50), amounts(shape.extremes))
    if channel == "book":
        return book_details(extremes=shape.extremes)
    return st.tuples(st.integers(min_value=0, max_value=100))  # bars: the taker-buy share of the volume, %


@functools.cache
def _row_lists(shape: MarketShape) -> st.SearchStrategy[list[Row]]:
    # Built once per shape: hypothesis validates every new strategy object, which costs more than drawing.
    channels = tuple(c for _ in shape.symbols for c in shape.channels)
    places = st.integers(min_value=0, max_value=len(channels) - 1) if len(channels) > 1 else st.just(0)
    steps = time_steps(bursts=shape.bursts, gaps=shape.gaps, max_step_ns=shape.max_step_ns)
    sizes = amounts(shape.extremes)
    moved, details = moves(flat=shape.flat), [_details(channel, shape) for channel in channels]

    @st.composite
    def rows(draw: st.DrawFn) -> Row:
        place = draw(places)
        return Row(place, draw(steps), draw(moved), draw(sizes), draw(details[place]))

    return _lists(rows(), shape.min_events, shape.max_events)


def _series(channel: Channel, shape: MarketShape, base: int) -> Series:
    makers: dict[Channel, Callable[[], Series]] = {
        "trades": lambda: TradeSeries(base),
        "quotes": lambda: QuoteSeries(base),
        "book": lambda: BookSeries(base),
        "bars": lambda: BarSeries(shape.timeframe),
    }
    return makers[channel]()


class _Envelopes:
    """Wraps payloads as the store returns them: consecutive positions, per-stream versions, deterministic ids."""

    def __init__(self, session: str, latency_ns: int) -> None:
        self.session, self.latency_ns = session, latency_ns
        self.events: list[Event] = []
        self._versions: dict[str, int] = {}
        self._ids: dict[str, EventIdFactory] = {}

    def add(self, stream: str, ts_ns: int, payload: Payload) -> None:
        version = self._versions[stream] = self._versions.get(stream, 0) + 1
        ids = self._ids.setdefault(stream, EventIdFactory(f"{self.session}:{stream}"))
        position = len(self.events) + 1
        event = Event(
            ids(ts_ns), stream, ts_ns, ts_ns + self.latency_ns, self.session, payload, None, version, position
        )
        self.events.append(event)


@st.composite
def sessions(draw: st.DrawFn, shape: MarketShape | None = None, *, session: str = "kit-session") -> list[Event]:
    """One session's events in log order: positions 1, 2, 3...; ``ts_event`` and ``ts_recv`` never go back.

    Each market event lands on one of ``shape.streams()``; a symbol's channels
    share one price walk, and each stream is a coherent series (trade ids counting
    up, a book snapshot then deltas with consecutive sequence ids, bars updated
    then closed). ``ts_recv`` trails ``ts_event`` by a latency drawn per session.

    >>> from hypothesis import find
    >>> events = find(sessions(MarketShape(channels=("trades",))), lambda events: len(events) > 2)
    >>> [(e.position, e.type, e.stream) for e in events]  # doctest: +NORMALIZE_WHITESPACE
    [(1, 'SessionStarted', 'system:kit-session:lifecycle'),
     (2, 'Trade', 'binance:BTC/USDT:trades'), (3, 'Trade', 'binance:BTC/USDT:trades')]
    """
    shape = shape or MarketShape()
    streams, channels = shape.streams(), tuple(c for _ in shape.symbols for c in shape.channels)
    prices = [tidy(draw(start_prices(shape.extremes))) for _ in shape.symbols]
    base, latency = draw(BASES), draw(LATENCIES)
    rows = draw(_row_lists(shape))
    payloads, times, places = _payloads(rows, shape, channels, prices, base)
    envelopes = _Envelopes(session, latency)
    if shape.lifecycle:
        started = SessionStarted(session, "hypothesis", shape.symbols, tuple(shape.channels))
        envelopes.add(lifecycle_stream(session), shape.start_ns, started)
    for payload, ts, place in zip(payloads, times, places, strict=True):
        envelopes.add(streams[place], ts, payload)
    return envelopes.events


def _lists(rows: st.SearchStrategy[Row], low: int, high: int) -> st.SearchStrategy[list[Row]]:
    # Hypothesis' lists average about five elements (at most twice their minimum); some sessions must be long
    # enough to get past a warm-up, so the length comes from one of three ranges. Ranges rather than a drawn
    # length keep each event one block, so that shrinking can drop it.
    if high - low <= 20:
        return st.lists(rows, min_size=low, max_size=high)
    middle = (low + high) // 2
    short, medium = st.lists(rows, min_size=low, max_size=low + 9), st.lists(rows, min_size=low + 10, max_size=middle)
    return short | medium | st.lists(rows, min_size=middle, max_size=high)


def _payloads(
    rows: list[Row], shape: MarketShape, channels: tuple[Channel, ...], prices: list[float], base: int
) -> tuple[list[Payload], list[int], list[int]]:
    series = [_series(channel, shape, base) for channel in channels]
    payloads, times, ts = [], [], shape.start_ns
    for row in rows:
        symbol = row.place // len(shape.channels)
        ts, prices[symbol] = ts + row.step_ns, walk(prices[symbol], row.move_bp)
        payloads.append(series[row.place].add(Tick(ts, prices[symbol], row.size, row.detail)))
        times.append(ts)
    places = [row.place for row in rows]
    return _close_bars(payloads, places, series), times, places


def _close_bars(payloads: list[Payload], places: list[int], series: list[Series]) -> list[Payload]:
    # A bar's last update is its final form, known only once its stream is complete.
    seen = [0] * len(series)
    out: list[Payload] = []
    for payload, place in zip(payloads, places, strict=True):
        builder, index = series[place], seen[place]
        seen[place] += 1
        if isinstance(payload, Bar) and isinstance(builder, BarSeries) and builder.closed(index):
            out.append(msgspec.structs.replace(payload, closed=True))
        else:
            out.append(payload)
    return out
