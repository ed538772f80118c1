"""Trades: duplicates dropped by (stream, exchange id), trade-id gaps found, REST polls paged by a cursor.

Pure logic, no I/O: the collectors feed it what ccxt returns.

>>> tracker = TradeTracker("binance:BTC/USDT:trades")
>>> tracker.accept("7", 7_000), tracker.accept("7", 7_000), tracker.accept("8", 8_000)
((True, None), (False, None), (True, None))
>>> tracker.accept("11", 11_000)
(True, Gap(stream='binance:BTC/USDT:trades', start_ns=8000, end_ns=11000, reason='trade ids 9..10 missing'))
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from virtuoso.events import Gap

RECENT_IDS = 50_000
"""How many ids a stream whose venue does not number trades remembers for dropping duplicates."""


def numeric_id(trade_id: str) -> int | None:
    """The trade id as an integer when the venue numbers its trades, else ``None``."""
    return int(trade_id) if trade_id.isdigit() else None


class TradeTracker:
    """One trade stream: drops trades already seen and turns a jump in trade ids into a :class:`Gap`.

    Venues that number trades consecutively (Binance) get exact gap detection: a
    gap is reported only where ids are missing, so a disconnect that lost nothing
    leaves no gap. For other venues, :meth:`interrupt` marks a period without
    data, reported as a gap at the next trade; duplicates are found among the
    last :data:`RECENT_IDS` ids.
    """

    def __init__(self, stream: str, *, last_id: int | None = None, last_ts: int = 0) -> None:
        self.stream = stream
        self.last_id = last_id
        """The highest numeric trade id accepted (or restored from the log)."""
        self.last_ts = last_ts
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self._interrupted: tuple[int, str] | None = None

    def interrupt(self, ts_ns: int, reason: str) -> None:
        """Data may be missing from ``ts_ns`` (a disconnect, an open breaker) for ``reason``."""
        if self._interrupted is None:
            self._interrupted = (min(ts_ns, self.last_ts) if self.last_ts else ts_ns, reason)

    def accept(self, trade_id: str, ts_event: int) -> tuple[bool, Gap | None]:
        """Whether the trade is new, and the :class:`Gap` it reveals (if any)."""
        number = numeric_id(trade_id)
        if number is None:
            return self._accept_unnumbered(trade_id, ts_event)
        if self.last_id is not None and number <= self.last_id:
            return False, None
        gap = None
        if self.last_id is not None and number > self.last_id + 1:
            gap = self._gap(ts_event, f"trade ids {self.last_id + 1}..{number - 1} missing")
        self._interrupted = None
        self.last_id, self.last_ts = number, max(self.last_ts, ts_event)
        return True, gap

    def _accept_unnumbered(self, trade_id: str, ts_event: int) -> tuple[bool, Gap | None]:
        if trade_id in self._recent:
            return False, None
        self._remember(trade_id)
        gap = None
        if self._interrupted is not None:
            gap = self._gap(ts_event, self._interrupted[1])
            self._interrupted = None
        self.last_ts = max(self.last_ts, ts_event)
        return True, gap

    def _gap(self, ts_event: int, reason: str) -> Gap:
        start = self.last_ts
        if self._interrupted is not None:
            reason = f"{self._interrupted[1]}: {reason}" if reason != self._interrupted[1] else reason
        return Gap(self.stream, start, max(start, ts_event), reason)

    def _remember(self, trade_id: str) -> None:
        self._recent.add(trade_id)
        self._order.append(trade_id)
        if len(self._order) > RECENT_IDS:
            self._recent.discard(self._order.popleft())


@dataclass
class TradePager:
    """The cursor of a REST trade poll, so no trade is missed or fetched twice across polls and restarts.

    By id (``cursor_param``, e.g. Binance's ``fromId``): each request asks for
    the trades from the last id + 1. By time (``cursor_param=None``): from the
    last trade's time minus ``overlap_ms``; the overlap is dropped by the
    :class:`TradeTracker`.

    >>> pager = TradePager(cursor_param="fromId", limit=2, last_id=41)
    >>> pager.request()
    (None, {'fromId': 42})
    >>> pager.advance([{"id": "42", "timestamp": 5}, {"id": "43", "timestamp": 6}])
    True
    >>> pager.request()
    (None, {'fromId': 44})
    """

    cursor_param: str | None = "fromId"
    limit: int = 1000
    overlap_ms: int = 1_000
    last_id: int | None = None
    last_ms: int | None = None

    def request(self) -> tuple[int | None, dict[str, Any]]:
        """``(since, params)`` for the next ``fetch_trades`` call."""
        if self.cursor_param is not None and self.last_id is not None:
            return None, {self.cursor_param: self.last_id + 1}
        if self.cursor_param is None and self.last_ms is not None:
            return max(self.last_ms - self.overlap_ms, 0), {}
        return None, {}

    def advance(self, trades: Sequence[Mapping[str, Any]]) -> bool:
        """Move past ``trades`` (one response); True when the page was full, so more may be waiting."""
        for trade in trades:
            number = numeric_id(str(trade.get("id")))
            if number is not None and (self.last_id is None or number > self.last_id):
                self.last_id = number
            stamp = trade.get("timestamp")
            if stamp is not None and (self.last_ms is None or int(stamp) > self.last_ms):
                self.last_ms = int(stamp)
        return len(trades) >= self.limit
