"""Stream builders: turn one event's drawn numbers into the next payload of a coherent series.

Hypothesis draws each event's numbers together (a contiguous block), so that
shrinking can drop an event whole; these builders hold what makes a series
coherent across events (trade ids counting up, the book's grid and sequence,
the forming bar) and need no hypothesis themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from virtuoso.events import Bar, BookDelta, BookSnapshot, Level, Payload, Quote, Side, Trade

TIMEFRAMES_NS = {"1m": 60_000_000_000, "5m": 300_000_000_000, "1h": 3_600_000_000_000, "1d": 86_400_000_000_000}
"""Bar timeframes the strategies know, in ns."""

Ticks = tuple[tuple[int, float], ...]
"""Book changes on the grid: ``(ticks from the mid, amount)``; amount 0 removes the level."""


class Tick(NamedTuple):
    """One event's drawn numbers: time, price and size, plus what its channel needs (``detail``)."""

    ts_ns: int
    price: float
    size: float
    detail: tuple[object, ...]


def tidy(price: float) -> float:
    """Ten significant digits, as a venue's tick grid would: a flat run stays exactly flat."""
    return float(f"{price:.10g}")


def walk(price: float, bp: int) -> float:
    """``price`` moved by ``bp`` basis points."""
    return tidy(price * (1 + bp / 10_000))


@dataclass
class TradeSeries:
    """Trades with ids counting up from ``first_id``; detail ``(side,)``."""

    first_id: int
    count: int = 0

    def add(self, tick: Tick) -> Payload:
        """The next trade."""
        (side,) = tick.detail
        self.count += 1
        return Trade(tick.price, tick.size, _side(side), str(self.first_id + self.count - 1))


@dataclass
class QuoteSeries:
    """Quotes around the price, sequence counting up; detail ``(spread_bp, ask_size)``."""

    first_sequence: int
    count: int = 0

    def add(self, tick: Tick) -> Payload:
        """The next quote."""
        spread_bp, ask_size = tick.detail
        assert isinstance(spread_bp, int)
        assert isinstance(ask_size, float)
        half = tick.price * spread_bp / 20_000
        self.count += 1
        return Quote(tick.price - half, tick.size, tick.price + half, ask_size, self.first_sequence + self.count - 1)


@dataclass
class BarSeries:
    """Bars of ``timeframe``: updated (``closed=False``) while forming, the last update closed.

    :meth:`finish` marks each bar's last update closed once the series is complete
    (the series' very last bar is still forming).
    """

    timeframe: str
    bars: list[Bar] = field(default_factory=list)
    _sums: tuple[float, float, int] = (0.0, 0.0, 0)  # the forming bar's notional, taker-buy volume, updates

    def add(self, tick: Tick) -> Payload:
        """The next update (of the forming bar, or the first of a new one); detail ``(buy_percent,)``."""
        frame, price, size = TIMEFRAMES_NS[self.timeframe], tick.price, tick.size
        open_ns = tick.ts_ns // frame * frame
        previous = self.bars[-1] if self.bars else None
        if previous is not None and previous.open_ns == open_ns:
            start, high, low = previous.open, max(previous.high, price), min(previous.low, price)
            volume, (notional, buys, count) = previous.volume + size, self._sums
        else:
            start = price if previous is None else previous.close
            high, low, volume, (notional, buys, count) = max(start, price), min(start, price), size, (0.0, 0.0, 0)
        (buy_percent,) = tick.detail or (50,)
        assert isinstance(buy_percent, int)
        self._sums = (notional + price * size, buys + size * buy_percent / 100, count + 1)
        extra = _bar_extras(self._sums[0] / volume, self._sums[1])
        bar = Bar(self.timeframe, open_ns, start, high, low, price, volume, count + 1, False, **extra)
        self.bars.append(bar)
        return bar

    def closed(self, index: int) -> bool:
        """Whether update ``index`` is its bar's last (known once the series is complete)."""
        return index + 1 < len(self.bars) and self.bars[index].open_ns != self.bars[index + 1].open_ns


@dataclass
class BookSeries:
    """A snapshot, then deltas with consecutive sequence ids; detail ``(resync, step, bids, asks)``.

    The first event, and any with ``resync``, is a snapshot centred on the
    price (one basis point per tick); the deltas in between change levels on the
    last snapshot's grid, so bids stay below asks.
    """

    last_sequence: int
    mid: float | None = None

    def add(self, tick: Tick) -> Payload:
        """The next snapshot or delta."""
        resync, step, bids, asks = tick.detail
        assert isinstance(step, int)
        assert isinstance(bids, tuple)
        assert isinstance(asks, tuple)
        first, self.last_sequence = self.last_sequence + 1, self.last_sequence + step
        if self.mid is None or resync:
            self.mid = tick.price
            return BookSnapshot(self._side(bids, -1, tick.size), self._side(asks, +1, tick.size), self.last_sequence)
        return BookDelta(self._levels(bids, -1), self._levels(asks, +1), first, self.last_sequence)

    def _levels(self, ticks: Ticks, sign: int) -> tuple[Level, ...]:
        assert self.mid is not None
        unit = self.mid / 10_000
        return tuple((self.mid + sign * unit * k, amount) for k, amount in sorted(ticks))

    def _side(self, ticks: Ticks, sign: int, fallback: float) -> tuple[Level, ...]:
        # A snapshot lists levels that exist: no zero amounts, and at least the first level.
        levels = self._levels(tuple((k, a) for k, a in ticks if a > 0), sign)
        return levels or self._levels(((1, fallback),), sign)


BAR_EXTRAS = ("vwap", "buy_volume")
"""Bar fields filled where the payload has them (bars built from trades carry them)."""


def _bar_extras(vwap: float, buy_volume: float) -> dict[str, Any]:
    values = {"vwap": vwap, "buy_volume": buy_volume}
    return {name: values[name] for name in BAR_EXTRAS if name in Bar.__struct_fields__}


def _side(value: object) -> Side:
    return "sell" if value == "sell" else "buy"
