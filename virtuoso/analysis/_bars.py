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
from typing import Any, ClassVar

from virtuoso.analysis._base import PerStream, derive
from virtuoso.analysis._protocol import AnalyzerConfig
from virtuoso.errors import UsageError
from virtuoso.events import Bar, Event, Trade

_UNITS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_UNITS["w"] = 7 * _UNITS["d"]
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

    __slots__ = ("buy", "close", "count", "high", "length", "low", "notional", "open", "open_ns", "timeframe", "volume")

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self.length = timeframe_ns(timeframe)
        self.open_ns = -1
        self.open = self.high = self.low = self.close = 0.0
        self.volume = self.buy = self.notional = 0.0
        self.count = 0

    def add(self, ts: int, price: float, amount: float, bought: bool) -> Bar | None:
        """Count one trade; the previous bar when this trade opens a later bucket."""
        bucket = ts - ts % self.length
        closed = None
        if bucket > self.open_ns:
            closed = self.bar() if self.count else None
            self.open_ns, self.open, self.high, self.low = bucket, price, price, price
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


class BarsConfig(AnalyzerConfig, frozen=True, kw_only=True):
    """``timeframes``: the bar lengths to build (ccxt notation)."""

    timeframes: tuple[str, ...] = ("1m",)

    def __post_init__(self) -> None:
        for timeframe in self.timeframes:
            timeframe_ns(timeframe)


class BarBuilder(PerStream[list[BarAccumulator]]):
    """Trades in, closed :class:`~virtuoso.events.Bar` events out, one set of timeframes per trade stream.

    >>> from virtuoso.events import Event, Trade
    >>> builder = BarBuilder(BarsConfig(timeframes=("1s",)))
    >>> def trade(ts, price): return Event(f"t{ts}", "x:BTC/USDT:trades", ts, ts, "s", Trade(price, 1.0, "buy", "1"))
    >>> builder.on_event(trade(1, 10.0)), builder.on_event(trade(2, 12.0))
    ([], [])
    >>> [(e.payload.open_ns, e.payload.close, e.payload.vwap) for e in builder.on_event(trade(1_000_000_000, 9.0))]
    [(0, 12.0, 11.0)]
    """

    name: ClassVar[str] = "bars"
    consumes: ClassVar[tuple[str, ...]] = ("market.trade",)
    config_type: ClassVar[type[BarsConfig]] = BarsConfig

    def __init__(self, config: BarsConfig | None = None) -> None:
        super().__init__()
        self.config: BarsConfig = config or BarsConfig()

    def fresh(self) -> list[BarAccumulator]:
        """One accumulator per timeframe."""
        return [BarAccumulator(timeframe) for timeframe in self.config.timeframes]

    def dump(self, state: list[BarAccumulator]) -> Any:
        """The open bars."""
        return [acc.dump() for acc in state]

    def load(self, values: Any) -> list[BarAccumulator]:
        """Open bars back from :meth:`dump`."""
        state = self.fresh()
        for acc, dumped in zip(state, values, strict=True):
            acc.load(dumped)
        return state

    def on_event(self, event: Event) -> Sequence[Event]:
        """The bars ``event`` (a trade) closes, in timeframe order."""
        trade = event.payload
        if type(trade) is not Trade:
            return []
        accumulators = self.states.get(event.stream) or self.state_for(event.stream)
        out: list[Event] = []
        bought = trade.side == "buy"
        for acc in accumulators:
            bar = acc.add(event.ts_event, trade.price, trade.amount, bought)
            if bar is not None:
                out.append(derive(event, self.name, len(out), bar))
        if out:
            self._ready = True
        return out
