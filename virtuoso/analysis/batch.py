"""Vectorized batch counterparts of the streaming analyzers, over pandas DataFrames.

Trades frames have the columns ``ts_event`` (int ns), ``price``, ``amount`` and
``side`` (``"buy"``/``"sell"``) in log order, one stream. Bars frames have the
columns of :class:`~virtuoso.events.Bar` built from trades: ``open_ns``,
``open``, ``high``, ``low``, ``close``, ``volume``, ``trades``, ``buy_volume``,
``vwap``. Each function gives what the streaming analyzer emits for the same
input (to within float rounding: relative 1e-9), with no Python loop per row.

>>> import pandas as pd
>>> trades = pd.DataFrame({"ts_event": [1, 2, 1_000_000_000], "price": [10.0, 20.0, 5.0],
...                        "amount": [1.0, 3.0, 1.0], "side": ["buy", "sell", "buy"]})
>>> bars(trades, "1s")[["open_ns", "close", "volume", "buy_volume", "vwap"]].to_dict("records")
[{'open_ns': 0, 'close': 20.0, 'volume': 4.0, 'buy_volume': 1.0, 'vwap': 17.5}]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from virtuoso.analysis._bars import timeframe_ns
from virtuoso.analysis._batch_book import book_frame, depth_within, imbalance, spread_bps
from virtuoso.analysis._cores import rsi_of


def bars(trades: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """The closed bars of ``trades`` (the last, still open, bar is left out, as the streaming builder does)."""
    length = timeframe_ns(timeframe)
    ts = trades["ts_event"].to_numpy(np.int64)
    price = trades["price"].to_numpy(np.float64)
    amount = trades["amount"].to_numpy(np.float64)
    bought = np.where(trades["side"].to_numpy() == "buy", amount, 0.0)
    bucket = np.maximum.accumulate(ts - ts % length) if len(ts) else ts
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]]) if len(ts) else np.empty(0, np.int64)
    closed = starts[:-1]
    ends = starts[1:]
    volume = np.add.reduceat(amount, starts)[:-1] if len(starts) else np.empty(0)
    notional = np.add.reduceat(price * amount, starts)[:-1] if len(starts) else np.empty(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, notional / volume, np.nan)
    return pd.DataFrame({
        "open_ns": bucket[closed],
        "open": price[closed],
        "high": np.maximum.reduceat(price, starts)[:-1] if len(starts) else np.empty(0),
        "low": np.minimum.reduceat(price, starts)[:-1] if len(starts) else np.empty(0),
        "close": price[ends - 1],
        "volume": volume,
        "trades": ends - closed,
        "buy_volume": np.add.reduceat(bought, starts)[:-1] if len(starts) else np.empty(0),
        "vwap": vwap,
    })  # fmt: skip


def _seeded_smoothing(values: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """Exponential smoothing seeded with the mean of the first ``period`` values (NaN before)."""
    out = np.full(len(values), np.nan)
    if len(values) < period:
        return out
    seeded = values[period - 1 :].copy()
    seeded[0] = values[:period].sum() / period
    out[period - 1 :] = pd.Series(seeded).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return out


def ema(bars_frame: pd.DataFrame, period: int = 20) -> pd.Series:
    """The EMA of the close (NaN while warming up), as the ``ema`` analyzer computes it."""
    return pd.Series(_seeded_smoothing(bars_frame["close"].to_numpy(np.float64), period, 2.0 / (period + 1)))


def rsi(bars_frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's RSI of the close (NaN while warming up), as the ``rsi`` analyzer computes it."""
    closes = bars_frame["close"].to_numpy(np.float64)
    if not len(closes):
        return pd.Series(closes)
    change = np.diff(closes)
    gain = _seeded_smoothing(np.where(change > 0, change, 0.0), period, 1.0 / period)
    loss = _seeded_smoothing(np.where(change < 0, -change, 0.0), period, 1.0 / period)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = 100.0 - 100.0 / (1.0 + gain / loss)
    values = np.where(loss == 0.0, np.where(gain > 0.0, 100.0, 50.0), values)
    values = np.where(np.isnan(gain), np.nan, values)
    return pd.Series(np.r_[np.nan, values], dtype=np.float64)


def anchored_vwap(bars_frame: pd.DataFrame) -> pd.Series:
    """The VWAP of every trade since the start at each bar's close (the ``vwap`` analyzer's value)."""
    volume = bars_frame["volume"].to_numpy(np.float64)
    notional = np.nan_to_num(bars_frame["vwap"].to_numpy(np.float64)) * volume
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.cumsum(notional) / np.cumsum(volume))


__all__ = [
    "anchored_vwap",
    "bars",
    "book_frame",
    "depth_within",
    "ema",
    "imbalance",
    "rsi",
    "rsi_of",
    "spread_bps",
]
