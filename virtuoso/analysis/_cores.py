"""Streaming indicator cores: one bar in, the indicator's value out (``None`` while warming up).

Each core is the arithmetic of one indicator on one stream's closed bars, with
no events around it; the analyzers in ``_indicators.py`` wrap them, and the
confluence score reuses them. Their state dumps to plain values.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from virtuoso.events import Bar

Output = tuple[float, dict[str, float]] | None
"""A core's output for one bar: the value and its secondary components, or None while warming up."""


class Core:
    """Base of the cores: dump and load every slot (nested cores and deques included)."""

    __slots__: tuple[str, ...] = ()

    def update(self, bar: Bar) -> Output:
        """Take one closed bar."""
        raise NotImplementedError

    def dump(self) -> dict[str, Any]:
        """The state as plain values."""
        return {slot: _plain(getattr(self, slot)) for slot in self.__slots__}

    def load(self, values: dict[str, Any]) -> None:
        """Continue from :meth:`dump`'s values (on a core built with the same parameters)."""
        for slot in self.__slots__:
            current = getattr(self, slot)
            if isinstance(current, Core):
                current.load(values[slot])
            elif isinstance(current, deque):
                setattr(self, slot, deque(values[slot], maxlen=current.maxlen))
            else:
                setattr(self, slot, values[slot])


def _plain(value: Any) -> Any:
    if isinstance(value, Core):
        return value.dump()
    return list(value) if isinstance(value, deque) else value


class Smoother(Core):
    """Exponential smoothing seeded with the mean of the first ``period`` inputs: ``alpha = 2/(n+1)`` is
    the EMA, ``alpha = 1/n`` Wilder's smoothing."""

    __slots__ = ("alpha", "count", "period", "total", "value")

    def __init__(self, period: int, alpha: float) -> None:
        self.period, self.alpha = period, alpha
        self.count, self.total, self.value = 0, 0.0, 0.0

    def add(self, x: float) -> float | None:
        """The smoothed value after ``x`` (None before ``period`` inputs)."""
        if self.count >= self.period:
            self.value = (1.0 - self.alpha) * self.value + self.alpha * x
            return self.value
        self.count += 1
        self.total += x
        if self.count < self.period:
            return None
        self.value = self.total / self.period
        return self.value


def ema(period: int) -> Smoother:
    """An EMA of ``period`` (seeded with the simple mean of its first ``period`` inputs)."""
    return Smoother(period, 2.0 / (period + 1))


class EmaCore(Core):
    """EMA of the close."""

    __slots__ = ("ema",)

    def __init__(self, period: int) -> None:
        self.ema = ema(period)

    def update(self, bar: Bar) -> Output:
        """The EMA after ``bar``."""
        value = self.ema.add(bar.close)
        return None if value is None else (value, {})


def rsi_of(gain: float, loss: float) -> float:
    """RSI from average gain and loss: 100 with no losses, 50 when flat."""
    if loss == 0.0:
        return 100.0 if gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


class RsiCore(Core):
    """Wilder's RSI of the close: average gain and loss seeded with their means over the first
    ``period`` changes, then smoothed with ``alpha = 1/period``."""

    __slots__ = ("gain", "loss", "previous")

    def __init__(self, period: int) -> None:
        self.gain, self.loss = Smoother(period, 1.0 / period), Smoother(period, 1.0 / period)
        self.previous: float | None = None

    def update(self, bar: Bar) -> Output:
        """The RSI after ``bar``."""
        previous, self.previous = self.previous, bar.close
        if previous is None:
            return None
        change = bar.close - previous
        gain = self.gain.add(change if change > 0.0 else 0.0)
        loss = self.loss.add(-change if change < 0.0 else 0.0)
        return None if gain is None or loss is None else (rsi_of(gain, loss), {})


class MacdCore(Core):
    """MACD: EMA(fast) - EMA(slow) of the close, its EMA(signal), and the histogram (their difference)."""

    __slots__ = ("fast", "signal", "slow")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        self.fast, self.slow, self.signal = ema(fast), ema(slow), ema(signal)

    def update(self, bar: Bar) -> Output:
        """MACD, with ``signal`` and ``histogram``, after ``bar``."""
        fast, slow = self.fast.add(bar.close), self.slow.add(bar.close)
        if fast is None or slow is None:
            return None
        macd = fast - slow
        signal = self.signal.add(macd)
        return None if signal is None else (macd, {"signal": signal, "histogram": macd - signal})


class BollingerCore(Core):
    """Bollinger bands: the mean of the last ``period`` closes, +- ``width`` population standard deviations."""

    __slots__ = ("closes", "width")

    def __init__(self, period: int, width: float) -> None:
        self.closes: deque[float] = deque(maxlen=period)
        self.width = width

    def update(self, bar: Bar) -> Output:
        """The middle band, with ``upper``, ``lower`` and ``percent_b`` (0.5 when the bands are flat)."""
        self.closes.append(bar.close)
        if len(self.closes) < (self.closes.maxlen or 0):
            return None
        mean = sum(self.closes) / len(self.closes)
        std = math.sqrt(sum((c - mean) ** 2 for c in self.closes) / len(self.closes))
        upper, lower = mean + self.width * std, mean - self.width * std
        percent_b = (bar.close - lower) / (upper - lower) if upper > lower else 0.5
        return mean, {"upper": upper, "lower": lower, "percent_b": percent_b}


class AtrCore(Core):
    """Wilder's average true range (the first bar's true range is its high - low)."""

    __slots__ = ("atr", "previous")

    def __init__(self, period: int) -> None:
        self.atr = Smoother(period, 1.0 / period)
        self.previous: float | None = None

    def update(self, bar: Bar) -> Output:
        """The ATR after ``bar``."""
        previous, self.previous = self.previous, bar.close
        true_range = bar.high - bar.low
        if previous is not None:
            true_range = max(true_range, abs(bar.high - previous), abs(bar.low - previous))
        value = self.atr.add(true_range)
        return None if value is None else (value, {})


class RealizedVolCore(Core):
    """Realized volatility: the square root of the sum of the last ``period`` squared log returns of the close."""

    __slots__ = ("previous", "squares")

    def __init__(self, period: int) -> None:
        self.squares: deque[float] = deque(maxlen=period)
        self.previous: float | None = None

    def update(self, bar: Bar) -> Output:
        """The realized volatility after ``bar`` (returns of non-positive prices count as 0)."""
        previous, self.previous = self.previous, bar.close
        if previous is None:
            return None
        ret = math.log(bar.close / previous) if bar.close > 0.0 and previous > 0.0 else 0.0
        self.squares.append(ret * ret)
        if len(self.squares) < (self.squares.maxlen or 0):
            return None
        return math.sqrt(sum(self.squares)), {}


class RelativeVolumeCore(Core):
    """A bar's volume over the mean volume of the ``period`` bars before it (1.0 when those were all 0)."""

    __slots__ = ("volumes",)

    def __init__(self, period: int) -> None:
        self.volumes: deque[float] = deque(maxlen=period)

    def update(self, bar: Bar) -> Output:
        """The relative volume of ``bar``."""
        full = len(self.volumes) == self.volumes.maxlen
        mean = sum(self.volumes) / len(self.volumes) if full else 0.0
        self.volumes.append(bar.volume)
        if not full:
            return None
        return (bar.volume / mean if mean > 0.0 else 1.0), {}


class VolumeDeltaCore(Core):
    """Volume delta (taker buy volume - taker sell volume) of each bar, and its running sum (CVD)."""

    __slots__ = ("cvd",)

    def __init__(self) -> None:
        self.cvd = 0.0

    def update(self, bar: Bar) -> Output:
        """The CVD after ``bar``, with the bar's ``delta`` (None for bars without buy volume)."""
        if bar.buy_volume is None:
            return None
        delta = 2.0 * bar.buy_volume - bar.volume
        self.cvd += delta
        return self.cvd, {"delta": delta}


class VwapCore(Core):
    """The VWAP of every trade since the start (anchored), with the bar's own ``bar`` VWAP."""

    __slots__ = ("notional", "volume")

    def __init__(self) -> None:
        self.notional = self.volume = 0.0

    def update(self, bar: Bar) -> Output:
        """The anchored VWAP after ``bar`` (None while no volume was traded)."""
        if bar.vwap is None:
            return None
        self.notional += bar.vwap * bar.volume
        self.volume += bar.volume
        return self.notional / self.volume, {"bar": bar.vwap}
