"""One symbol's trades, served with Binance's paging rules for ``trades``, ``historicalTrades`` and ``aggTrades``.

Binance's rules (spot REST docs): ``fromId``, ``startTime`` and ``endTime`` are inclusive;
``limit`` defaults to 500 and may be at most 1000; ``startTime`` and ``endTime`` together may
span at most one hour; with none of the three, the most recent trades come back. ``trades``
takes only ``limit`` (most recent); ``historicalTrades`` takes ``fromId`` and ``limit``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from typing import Any

MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
MAX_SPAN_MS = 3_600_000


class BinanceRequestError(Exception):
    """A request Binance would refuse: answered as HTTP 400 with Binance's ``{code, msg}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class TradeList:
    """Trades of one shape in id order: ``/trades`` rows (``id``, ``time``) or ``/aggTrades`` rows (``a``, ``T``).

    ``release_ns`` is each trade's offset from the start of the recording, so a paced server can
    reveal trades as the recording's time passes.
    """

    __slots__ = ("_ids", "_times", "release_ns", "rows")

    def __init__(self, rows: list[dict[str, Any]], release_ns: list[int] | None = None) -> None:
        self.rows = rows
        self.release_ns = release_ns if release_ns is not None else [0] * len(rows)
        agg = bool(rows) and "a" in rows[0]
        self._ids: list[int] = [row["a" if agg else "id"] for row in rows]
        self._times: list[int] = [row["T" if agg else "time"] for row in rows]

    def visible(self, elapsed_ns: int | None) -> int:
        """How many trades exist ``elapsed_ns`` into the recording (None: all of them)."""
        return len(self.rows) if elapsed_ns is None else bisect_right(self.release_ns, elapsed_ns)

    def page(self, endpoint: str, query: Mapping[str, str], visible: int) -> list[dict[str, Any]]:
        """The rows ``endpoint`` (``trades``, ``historicalTrades`` or ``aggTrades``) returns for ``query``."""
        limit = _limit(query)
        if endpoint == "trades":
            return self.rows[max(0, visible - limit) : visible]
        start, stop = self._window(endpoint, query, limit, visible)
        return self.rows[start:stop]

    def _window(self, endpoint: str, query: Mapping[str, str], limit: int, visible: int) -> tuple[int, int]:
        from_id = query_int(query, "fromId")
        start_ms = query_int(query, "startTime") if endpoint == "aggTrades" else None
        end_ms = query_int(query, "endTime") if endpoint == "aggTrades" else None
        if from_id is not None and (start_ms is not None or end_ms is not None):
            raise BinanceRequestError(-1128, "Combination of optional parameters invalid.")
        if from_id is not None:
            first = bisect_left(self._ids, from_id)
            return first, max(first, min(first + limit, visible))
        if start_ms is None and end_ms is None:
            return max(0, visible - limit), visible
        return self._time_window(start_ms, end_ms, limit, visible)

    def _time_window(self, start_ms: int | None, end_ms: int | None, limit: int, visible: int) -> tuple[int, int]:
        if start_ms is not None and end_ms is not None and end_ms - start_ms > MAX_SPAN_MS:
            raise BinanceRequestError(-1127, "More than 1 hours between startTime and endTime.")
        times = self._times
        stop = min(visible, bisect_right(times, end_ms) if end_ms is not None else visible)
        if start_ms is None:
            return max(0, stop - limit), stop
        first = bisect_left(times, start_ms)
        return first, max(first, min(first + limit, stop))


def _limit(query: Mapping[str, str]) -> int:
    limit = query_int(query, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BinanceRequestError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def query_int(query: Mapping[str, str], name: str) -> int | None:
    """The integer query parameter ``name`` (None when absent); Binance's -1100 error when it is not one."""
    text = query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise BinanceRequestError(-1100, f"Illegal characters found in parameter '{name}'.") from None
