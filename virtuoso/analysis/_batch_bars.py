"""Batch bar indicators: MACD, Bollinger bands, ATR, realized volatility, relative volume and CVD.

Each takes a bars frame (see :mod:`virtuoso.analysis.batch`) and gives, per
bar, what the streaming core gives after that bar (NaN while it warms up).
Window sums are added one column of a sliding window at a time, in the order
the streaming code adds them, so they are equal to the bit; the exponential
smoothings go through pandas ``ewm`` and differ from the streaming ones by
rounding only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view


def seeded_smoothing(values: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """Exponential smoothing seeded with the mean of the first ``period`` values (NaN before)."""
    out = np.full(len(values), np.nan)
    if len(values) < period:
        return out
    seeded = values[period - 1 :].copy()
    seeded[0] = _sequential_sum(values[:period]) / period
    out[period - 1 :] = pd.Series(seeded).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return out


def _sequential_sum(values: np.ndarray) -> float:
    return float(np.cumsum(values)[-1])


def window_sums(values: np.ndarray, period: int) -> np.ndarray:
    """The sum of each window of ``period`` values ending at each index (NaN before), added left to right."""
    out = np.full(len(values), np.nan)
    if len(values) < period:
        return out
    out[period - 1 :] = column_sums(sliding_window_view(values, period))
    return out


def column_sums(matrix: np.ndarray) -> np.ndarray:
    """Each row's sum, added one column at a time from the left (as Python's ``sum`` adds a row)."""
    total = np.zeros(len(matrix))
    for k in range(matrix.shape[1]):
        total = total + matrix[:, k]
    return total


def _closes(bars_frame: pd.DataFrame) -> np.ndarray:
    closes: np.ndarray = bars_frame["close"].to_numpy(np.float64)
    return closes


def macd(bars_frame: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Columns ``macd``, ``signal``, ``histogram`` (the ``macd`` analyzer's value and components)."""
    closes = _closes(bars_frame)
    line = seeded_smoothing(closes, fast, 2.0 / (fast + 1)) - seeded_smoothing(closes, slow, 2.0 / (slow + 1))
    start = max(fast, slow) - 1
    smoothed = np.full(len(closes), np.nan)
    if len(closes) > start:
        smoothed[start:] = seeded_smoothing(line[start:], signal, 2.0 / (signal + 1))
    line = np.where(np.isnan(smoothed), np.nan, line)
    return pd.DataFrame({"macd": line, "signal": smoothed, "histogram": line - smoothed})


def bollinger(bars_frame: pd.DataFrame, period: int = 20, width: float = 2.0) -> pd.DataFrame:
    """Columns ``middle``, ``upper``, ``lower``, ``percent_b`` (the ``bollinger`` analyzer's)."""
    closes = _closes(bars_frame)
    mean = window_sums(closes, period) / period
    deviations = np.full(len(closes), np.nan)
    if len(closes) >= period:
        windows = sliding_window_view(closes, period)
        deviations[period - 1 :] = column_sums((windows - mean[period - 1 :, None]) ** 2)
    std = np.sqrt(deviations / period)
    upper, lower = mean + width * std, mean - width * std
    with np.errstate(invalid="ignore", divide="ignore"):
        percent_b = np.where(upper > lower, (closes - lower) / (upper - lower), np.where(np.isnan(mean), np.nan, 0.5))
    return pd.DataFrame({"middle": mean, "upper": upper, "lower": lower, "percent_b": percent_b})


def atr(bars_frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's average true range (the first bar's true range is its high - low)."""
    high, low = bars_frame["high"].to_numpy(np.float64), bars_frame["low"].to_numpy(np.float64)
    previous = np.r_[np.nan, _closes(bars_frame)[:-1]]
    true_range = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
    return pd.Series(seeded_smoothing(true_range, period, 1.0 / period))


def realized_vol(bars_frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """The square root of the sum of the last ``period`` squared log returns of the close (0 for bad prices)."""
    closes = _closes(bars_frame)
    before, after = closes[:-1], closes[1:]
    ok = (before > 0.0) & (after > 0.0)
    returns = np.log(np.divide(after, before, out=np.ones_like(after), where=ok))
    sums = window_sums(returns * returns, period)
    return pd.Series(np.r_[np.nan, np.sqrt(sums)] if len(closes) else closes)


def relative_volume(bars_frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """A bar's volume over the mean volume of the ``period`` bars before it (1.0 when those were all 0)."""
    volume = bars_frame["volume"].to_numpy(np.float64)
    mean = np.r_[np.nan, window_sums(volume, period)[:-1] / period] if len(volume) else volume
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mean > 0.0, volume / mean, 1.0)
    return pd.Series(np.where(np.isnan(mean), np.nan, ratio))


def cvd(bars_frame: pd.DataFrame) -> pd.DataFrame:
    """Columns ``cvd`` (running sum of the deltas) and ``delta`` (buy - sell volume of the bar)."""
    delta = 2.0 * bars_frame["buy_volume"].to_numpy(np.float64) - bars_frame["volume"].to_numpy(np.float64)
    return pd.DataFrame({"cvd": np.cumsum(delta), "delta": delta})
