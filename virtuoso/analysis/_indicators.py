"""Indicator analyzers: closed bars of one timeframe in, :class:`IndicatorValue` events out.

They consume ``market.bar`` events; the ``bars`` analyzer builds those from
trades and, in a pipeline, hands each bar to the analyzers after it in the same
call (see :class:`~virtuoso.analysis.AnalyzerPipeline`). Bars of other
timeframes, and bars not yet closed, are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from virtuoso.analysis._bars import timeframe_ns
from virtuoso.analysis._base import PerStream, derive, source_stream
from virtuoso.analysis._cores import (
    AtrCore,
    BollingerCore,
    Core,
    EmaCore,
    MacdCore,
    RealizedVolCore,
    RelativeVolumeCore,
    RsiCore,
    VolumeDeltaCore,
    VwapCore,
)
from virtuoso.analysis._protocol import AnalyzerConfig
from virtuoso.events import Bar, Event, IndicatorValue

Period = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class BarConfig(AnalyzerConfig, frozen=True, kw_only=True):
    """``timeframe``: the bars the indicator is computed on."""

    timeframe: str = "1m"

    def __post_init__(self) -> None:
        timeframe_ns(self.timeframe)

    def bar_timeframes(self) -> tuple[str, ...]:
        """The timeframes of the bars this analyzer needs."""
        return (self.timeframe,)


class EmaConfig(BarConfig, frozen=True, kw_only=True):
    """EMA of the close over ``period`` bars."""

    period: Period = 20


class RsiConfig(BarConfig, frozen=True, kw_only=True):
    """Wilder's RSI over ``period`` bars."""

    period: Period = 14


class MacdConfig(BarConfig, frozen=True, kw_only=True):
    """MACD of EMAs ``fast`` and ``slow``, signal EMA ``signal``."""

    fast: Period = 12
    slow: Period = 26
    signal: Period = 9


class BollingerConfig(BarConfig, frozen=True, kw_only=True):
    """Bollinger bands over ``period`` bars, ``width`` standard deviations wide."""

    period: Period = 20
    width: Annotated[float, msgspec.Meta(gt=0)] = 2.0


class WindowConfig(BarConfig, frozen=True, kw_only=True):
    """An indicator over a window of ``period`` bars."""

    period: Period = 14


class IndicatorAnalyzer(PerStream[Core]):
    """Base of the bar indicators: one :class:`Core` per market stream, an ``IndicatorValue`` per closed bar."""

    consumes: ClassVar[tuple[str, ...]] = ("market.bar",)
    config_type: ClassVar[type[BarConfig]] = BarConfig

    def __init__(self, config: BarConfig | None = None) -> None:
        super().__init__()
        self.config: BarConfig = config if config is not None else self.config_type()

    def core(self) -> Core:
        """A new stream's core."""
        raise NotImplementedError

    def fresh(self) -> Core:
        """A new stream's core."""
        return self.core()

    def dump(self, state: Core) -> Any:
        """The core's state."""
        return state.dump()

    def load(self, values: Any) -> Core:
        """A core back from :meth:`dump`."""
        core = self.core()
        core.load(values)
        return core

    def on_event(self, event: Event) -> Sequence[Event]:
        """The indicator's value after ``event`` (a closed bar of the timeframe), once warmed up."""
        bar = event.payload
        if type(bar) is not Bar or bar.timeframe != self.config.timeframe or not bar.closed:
            return []
        output = self.state_for(source_stream(event.stream)).update(bar)
        if output is None:
            return []
        self._ready = True
        value = IndicatorValue(self.name, bar.timeframe, bar.open_ns, output[0], output[1])
        return [derive(event, self.name, 0, value)]


class Ema(IndicatorAnalyzer):
    """EMA of the close (seeded with the mean of the first ``period`` closes)."""

    name: ClassVar[str] = "ema"
    config_type: ClassVar[type[BarConfig]] = EmaConfig
    config: EmaConfig

    def core(self) -> Core:
        """An EMA core."""
        return EmaCore(self.config.period)


class Rsi(IndicatorAnalyzer):
    """Wilder's RSI of the close, 0-100."""

    name: ClassVar[str] = "rsi"
    config_type: ClassVar[type[BarConfig]] = RsiConfig
    config: RsiConfig

    def core(self) -> Core:
        """An RSI core."""
        return RsiCore(self.config.period)


class Macd(IndicatorAnalyzer):
    """MACD line, with ``signal`` and ``histogram`` components."""

    name: ClassVar[str] = "macd"
    config_type: ClassVar[type[BarConfig]] = MacdConfig
    config: MacdConfig

    def core(self) -> Core:
        """A MACD core."""
        return MacdCore(self.config.fast, self.config.slow, self.config.signal)


class Bollinger(IndicatorAnalyzer):
    """Bollinger middle band, with ``upper``, ``lower`` and ``percent_b``."""

    name: ClassVar[str] = "bollinger"
    config_type: ClassVar[type[BarConfig]] = BollingerConfig
    config: BollingerConfig

    def core(self) -> Core:
        """A Bollinger core."""
        return BollingerCore(self.config.period, self.config.width)


class Atr(IndicatorAnalyzer):
    """Wilder's average true range."""

    name: ClassVar[str] = "atr"
    config_type: ClassVar[type[BarConfig]] = WindowConfig
    config: WindowConfig

    def core(self) -> Core:
        """An ATR core."""
        return AtrCore(self.config.period)


class RealizedVol(IndicatorAnalyzer):
    """Realized volatility of the close's log returns over ``period`` bars (not annualized)."""

    name: ClassVar[str] = "realized-vol"
    config_type: ClassVar[type[BarConfig]] = WindowConfig
    config: WindowConfig

    def core(self) -> Core:
        """A realized-volatility core."""
        return RealizedVolCore(self.config.period)


class RelativeVolume(IndicatorAnalyzer):
    """A bar's volume relative to the mean of the ``period`` bars before it."""

    name: ClassVar[str] = "relative-volume"
    config_type: ClassVar[type[BarConfig]] = WindowConfig
    config: WindowConfig

    def core(self) -> Core:
        """A relative-volume core."""
        return RelativeVolumeCore(self.config.period)


class Cvd(IndicatorAnalyzer):
    """Cumulative volume delta, with each bar's volume ``delta`` (needs bars built from trades)."""

    name: ClassVar[str] = "cvd"

    def core(self) -> Core:
        """A volume-delta core."""
        return VolumeDeltaCore()


class Vwap(IndicatorAnalyzer):
    """The VWAP of every trade since the start, with each bar's own VWAP (``bar``)."""

    name: ClassVar[str] = "vwap"

    def core(self) -> Core:
        """An anchored-VWAP core."""
        return VwapCore()
