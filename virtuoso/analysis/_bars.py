"""Bars from trades, by exchange time: the shared helper and the ``bars`` analyzer.

A trade belongs to the bucket ``ts_event - ts_event % timeframe``. The first
trade of a later bucket closes the open bar, which is emitted then (stamped with
that trade's times); a trade whose bucket is earlier than the open bar's (a late
trade) is counted in the open bar. Buckets without trades give no bar, and the
bar still open at the end of the input is not emitted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice
from typing import Any, ClassVar

from virtuoso.analysis._base import PerStream, derive
from virtuoso.analysis._protocol import AnalyzerConfig
from virtuoso.errors import UsageError
from virtuoso.events import Bar, Event, Trade

_UNITS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_UNITS["w"] = 7 * _UNITS["d"]
_NEVER = -(2**63)
_NOTHING: tuple[Event, ...] = ()
"""What most trades derive: shared, not a new empty list each."""
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def timeframe_ns(timeframe: str) -> int:
    """The length of ``timeframe`` (ccxt notation: ``1s``, ``5m``, ``1h``, ``1d``, ``1w``) in nanoseconds.

    >>> timeframe_ns("5m")
    300000000000
    """
    match = _TIMEFRAME.match(timeframe)
    if match is None:
        raise UsageError(f"timeframe {timeframe!r} is not <n><unit> with unit s, m, h, d or w")
    return int(match.group(1)) * _UNITS[match.group(2)]


class BarAccumulator:
    """The open bar of one stream and timeframe; :meth:`add` returns the bar a trade closes."""

    __slots__ = (
        "buy", "close", "count", "end_ns", "high", "length", "low",
        "notional", "open", "open_ns", "timeframe", "volume",
    )  # fmt: skip

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self.length = timeframe_ns(timeframe)
        self.open_ns = -1
        self.open = self.high = self.low = self.close = 0.0
        self.volume = self.buy = self.notional = 0.0
        self.count = 0
        self.end_ns = _NEVER  # the first trade opens a bar

    def add(self, ts: int, price: float, amount: float, bought: bool) -> Bar | None:
        """Count one trade; the previous bar when this trade opens a later bucket."""
        closed = None
        if ts >= self.end_ns:  # a later bucket (the bucket test is one comparison: the per-trade path)
            closed = self.bar() if self.count else None
            self.open_ns = ts - ts % self.length
            self.end_ns = self.open_ns + self.length
            self.open, self.high, self.low = price, price, price
            self.volume = self.buy = self.notional = 0.0
            self.count = 0
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += amount
        self.notional += price * amount
        if bought:
            self.buy += amount
        self.count += 1
        return closed

    def bar(self, closed: bool = True) -> Bar:
        """The bar as it stands."""
        vwap = self.notional / self.volume if self.volume else None
        return Bar(
            self.timeframe, self.open_ns, self.open, self.high, self.low, self.close, self.volume,
            self.count, closed, self.buy, vwap,
        )  # fmt: skip

    def dump(self) -> list[Any]:
        """The open bar as plain values."""
        return [
            self.open_ns,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.buy,
            self.notional,
            self.count,
        ]

    def load(self, values: list[Any]) -> None:
        """Continue from :meth:`dump`'s values."""
        self.open_ns, self.open, self.high, self.low, self.close = values[:5]
        self.volume, self.buy, self.notional, self.count = values[5:]
        self.end_ns = self.open_ns + self.length if self.count else _NEVER

    def merge(self, part: _Segment) -> None:
        """Count the trades of ``part`` (all in this open bar)."""
        self.high = max(self.high, part.high)
        self.low = min(self.low, part.low)
        self.close = part.close
        self.volume += part.volume
        self.notional += part.notional
        self.buy += part.buy
        self.count += part.count


class _Segment:
    """One stream's open bars, and the trades since any of them last closed (counted once for all timeframes).

    A trade before ``end_ns`` (the earliest end of the open bars) closes nothing: it
    is only counted here, once, however many timeframes are built; the segment is
    merged into every open bar when a trade reaches a later bucket of one of them.
    """

    __slots__ = ("accumulators", "buy", "close", "count", "end_ns", "high", "low", "notional", "volume")

    def __init__(self, accumulators: list[BarAccumulator]) -> None:
        self.accumulators = accumulators
        self.end_ns = min((acc.end_ns for acc in accumulators), default=_NEVER)
        self.high = self.low = self.close = 0.0
        self.volume = self.buy = self.notional = 0.0
        self.count = 0

    def flush(self) -> None:
        """Merge the segment into every open bar and empty it."""
        if self.count:
            for acc in self.accumulators:
                acc.merge(self)
        self.volume = self.buy = self.notional = 0.0
        self.count = 0

    def dump(self) -> list[Any]:
        """The open bars and the segment as plain values."""
        segment = [self.high, self.low, self.close, self.volume, self.buy, self.notional, self.count]
        return [[acc.dump() for acc in self.accumulators], segment]


class BarsConfig(AnalyzerConfig, frozen=True, kw_only=True):
    """``timeframes``: the bar lengths to build (ccxt notation)."""

    timeframes: tuple[str, ...] = ("1m",)

    def __post_init__(self) -> None:
        for timeframe in self.timeframes:
            timeframe_ns(timeframe)


class BarBuilder(PerStream[_Segment]):
    """Trades in, closed :class:`~virtuoso.events.Bar` events out, one set of timeframes per trade stream.

    >>> from virtuoso.events import Event, Trade
    >>> builder = BarBuilder(BarsConfig(timeframes=("1s",)))
    >>> def trade(ts, price): return Event(f"t{ts}", "x:BTC/USDT:trades", ts, ts, "s", Trade(price, 1.0, "buy", "1"))
    >>> builder.on_event(trade(1, 10.0)), builder.on_event(trade(2, 12.0))
    ((), ())
    >>> [(e.payload.open_ns, e.payload.close, e.payload.vwap) for e in builder.on_event(trade(1_000_000_000, 9.0))]
    [(0, 12.0, 11.0)]
    """

    name: ClassVar[str] = "bars"
    consumes: ClassVar[tuple[str, ...]] = ("market.trade",)
    config_type: ClassVar[type[BarsConfig]] = BarsConfig

    def __init__(self, config: BarsConfig | None = None) -> None:
        super().__init__()
        self.config: BarsConfig = config or BarsConfig()

    def fresh(self) -> _Segment:
        """One accumulator per timeframe, and an empty segment."""
        return _Segment([BarAccumulator(timeframe) for timeframe in self.config.timeframes])

    def dump(self, state: _Segment) -> Any:
        """The open bars and the trades not yet merged into them."""
        return state.dump()

    def load(self, values: Any) -> _Segment:
        """Open bars back from :meth:`dump`."""
        accumulators = [BarAccumulator(timeframe) for timeframe in self.config.timeframes]
        for acc, dumped in zip(accumulators, values[0], strict=True):
            acc.load(dumped)
        state = _Segment(accumulators)
        state.high, state.low, state.close, state.volume, state.buy, state.notional, state.count = values[1]
        return state

    def on_event(self, event: Event) -> Sequence[Event]:
        """The bars ``event`` (a trade) closes, in timeframe order."""
        trade = event.payload
        if type(trade) is not Trade:
            return _NOTHING
        state = self.states.get(event.stream) or self.state_for(event.stream)
        ts, price, amount = event.ts_event, trade.price, trade.amount
        if ts < state.end_ns:
            # Nearly every trade: counted once in the segment, whatever the number of timeframes.
            if not state.count:
                state.high = state.low = price
            elif price > state.high:
                state.high = price
            elif price < state.low:
                state.low = price
            state.close = price
            state.volume += amount
            state.notional += price * amount
            if trade.side == "buy":
                state.buy += amount
            state.count += 1
            return _NOTHING
        return self._roll(event, trade, state)

    def absorb(self, events: Sequence[Event], start: int, stop: int) -> int:
        """Count the trades of ``events[start:stop]`` that close no bar; the index of the first one left.

        What :meth:`on_event` does for each of them, with the open segment held in
        local variables for the stretch (one call for the run of trades a replay
        chunk holds, not one a trade). It stops at anything :meth:`on_event` must
        see: a trade reaching a later bucket, another stream, another payload, or a
        stream's first trade, so that the two give the same bars and the same state.
        """
        first = events[start]
        stream = first.stream
        state = self.states.get(stream)
        if state is None or first.payload.__class__ is not Trade:
            return start
        end_ns, count = state.end_ns, state.count
        high, low, close = state.high, state.low, state.close
        volume, buy, notional = state.volume, state.buy, state.notional
        index = start
        for event in islice(events, start, stop):
            trade = event.payload
            if trade.__class__ is not Trade or event.ts_event >= end_ns or event.stream != stream:
                break
            price, amount = trade.price, trade.amount
            # the same steps, in the same order, as on_event's: the sums are equal to the bit
            if not count:
                high = low = price
            elif price > high:
                high = price
            elif price < low:
                low = price
            close = price
            volume += amount
            notional += price * amount
            if trade.side == "buy":
                buy += amount
            count += 1
            index += 1
        if index > start:
            state.high, state.low, state.close, state.count = high, low, close, count
            state.volume, state.buy, state.notional = volume, buy, notional
        return index

    def _roll(self, event: Event, trade: Trade, state: _Segment) -> Sequence[Event]:
        """A trade at or after the end of some open bar: merge the segment, then count it bar by bar."""
        state.flush()
        out: list[Event] = []
        bought = trade.side == "buy"
        for acc in state.accumulators:
            bar = acc.add(event.ts_event, trade.price, trade.amount, bought)
            if bar is not None:
                out.append(derive(event, self.name, len(out), bar))
        state.end_ns = min(acc.end_ns for acc in state.accumulators)
        if not out:
            return _NOTHING
        self._ready = True
        return out
