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

from virtuoso.analysis._batch_bars import atr, bollinger, cvd, macd, realized_vol, relative_volume
from virtuoso.analysis._batch_book import book_frame, depth_within, imbalance, spread_bps
from virtuoso.analysis._batch_confluence import confluence
from virtuoso.analysis._batch_core import anchored_vwap, bars, closing_trades, ema, rsi
from virtuoso.analysis._cores import rsi_of

__all__ = [
    "anchored_vwap",
    "atr",
    "bars",
    "bollinger",
    "book_frame",
    "closing_trades",
    "confluence",
    "cvd",
    "depth_within",
    "ema",
    "imbalance",
    "macd",
    "realized_vol",
    "relative_volume",
    "rsi",
    "rsi_of",
    "spread_bps",
]
