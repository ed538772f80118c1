"""Batch book indicators over a DataFrame of book states (one row per book event, the best levels in columns).

Building the book from deltas is sequential by nature (each delta applies on
the book the previous ones left), so the batch form starts from the *states*:
:func:`book_frame` builds them once with the same :class:`~virtuoso.book.BookBuilder`
the streaming analyzers use (one Python step per event: this is the only loop),
and the indicators are then column arithmetic over every row at once. A frame
of states from elsewhere (a vendor's top-N snapshots) works the same.

Columns: ``ts_event``, then ``bid_price_<i>``, ``bid_size_<i>``, ``ask_price_<i>``,
``ask_size_<i>`` for levels ``i = 0..K-1`` (best first; NaN where a side has
fewer levels).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from virtuoso.analysis._book import BPS
from virtuoso.book import BookBuilder, SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event


def book_frame(events: Iterable[Event], levels: int = 20, rule: SyncRule | None = None) -> pd.DataFrame:
    """The book states of one book stream: a row per book event after which the book is in sync.

    >>> from virtuoso.book import synthetic_book_events
    >>> frame = book_frame(synthetic_book_events("s", "binance:BTC/USDT:book", 10, levels=5), levels=3)
    >>> len(frame), list(frame.columns[:3])
    (8, ['ts_event', 'bid_price_0', 'bid_price_1'])
    """
    rows: list[list[float]] = []
    times: list[int] = []
    builder: BookBuilder | None = None
    width = 4 * levels
    for event in events:
        if type(event.payload) not in (BookDelta, BookSnapshot):
            continue
        builder = builder or BookBuilder.for_stream(event.stream, rule)
        builder.apply(event)
        if builder.in_sync:
            times.append(event.ts_event)
            rows.append(_row(builder, levels, width))
    values = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    frame = pd.DataFrame(values, columns=_columns(levels))
    frame.insert(0, "ts_event", np.array(times, dtype=np.int64))
    return frame


def _row(builder: BookBuilder, levels: int, width: int) -> list[float]:
    row = [np.nan] * width
    for offset, side in ((0, builder.book.bids(levels)), (2 * levels, builder.book.asks(levels))):
        for i, (price, size) in enumerate(side):
            row[offset + i] = price
            row[offset + levels + i] = size
    return row


def _columns(levels: int) -> list[str]:
    return [f"{side}_{what}_{i}" for side in ("bid", "ask") for what in ("price", "size") for i in range(levels)]


def frame_levels(frame: pd.DataFrame) -> int:
    """The number of levels a side ``frame`` holds."""
    return sum(1 for column in frame.columns if str(column).startswith("bid_price_"))


def _side(frame: pd.DataFrame, side: str, what: str, levels: int) -> np.ndarray:
    values: np.ndarray = frame[[f"{side}_{what}_{i}" for i in range(levels)]].to_numpy(np.float64)
    return values


def spread_bps(frame: pd.DataFrame) -> pd.Series:
    """The spread in basis points of the mid per row (the ``spread`` analyzer's value; NaN when a side is empty)."""
    bid, ask = frame["bid_price_0"].to_numpy(np.float64), frame["ask_price_0"].to_numpy(np.float64)
    mid = (bid + ask) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(mid > 0.0, (ask - bid) / mid * BPS, np.nan))


def _running_sum(sizes: np.ndarray, order: Iterable[int]) -> np.ndarray:
    """Column sums added one column at a time, in ``order`` (the order the streaming code adds them in)."""
    total = np.zeros(len(sizes))
    for i in order:
        total = total + np.nan_to_num(sizes[:, i])
    return total


def imbalance(frame: pd.DataFrame, levels: int = 5) -> pd.Series:
    """``(bid - ask) / (bid + ask)`` of the sizes over the best ``levels`` (the ``book-imbalance`` value)."""
    held = min(levels, frame_levels(frame))
    bid = _running_sum(_side(frame, "bid", "size", held), range(held))
    ask = _running_sum(_side(frame, "ask", "size", held), range(held))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(bid + ask != 0.0, (bid - ask) / (bid + ask), np.nan))


def depth_within(frame: pd.DataFrame, bps: float = 10.0) -> pd.Series:
    """Bid plus ask size within ``bps`` of the mid (the ``depth`` value).

    NaN where the frame's levels may not reach the edge of the band (its last
    level on a side is still inside it), so a truncated book never gives a
    wrong number.
    """
    levels = frame_levels(frame)
    bid_price, ask_price = _side(frame, "bid", "price", levels), _side(frame, "ask", "price", levels)
    mid = (bid_price[:, 0] + ask_price[:, 0]) / 2
    low, high = mid * (1.0 - bps / BPS), mid * (1.0 + bps / BPS)
    bid_sizes = np.where(bid_price >= low[:, None], _side(frame, "bid", "size", levels), 0.0)
    ask_sizes = np.where(ask_price <= high[:, None], _side(frame, "ask", "size", levels), 0.0)
    worst_first = range(levels - 1, -1, -1)
    total = _running_sum(bid_sizes, worst_first) + _running_sum(ask_sizes, worst_first)
    truncated = (bid_price[:, -1] >= low) | (ask_price[:, -1] <= high)
    return pd.Series(np.where(np.isnan(mid) | truncated, np.nan, total))
