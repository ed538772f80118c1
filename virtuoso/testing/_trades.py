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
    reveal trades as the recording's time passes. With ``laps`` other than 1 (None: endless)
    the list repeats lap after lap, ids shifted by their span and times by ``lap_ms`` (``lap_ns``
    for releases) per lap; rows of later laps are made when a page is served.
    """

    __slots__ = (
        "_id_names",
        "_id_shifts",
        "_ids",
        "_lap_ms",
        "_lap_ns",
        "_laps",
        "_time_name",
        "_times",
        "release_ns",
        "rows",
    )

    def __init__(
        self,
        rows: list[dict[str, Any]],
        release_ns: list[int] | None = None,
        *,
        laps: int | None = 1,
        lap_ms: int = 0,
        lap_ns: int = 0,
    ) -> None:
        self.rows = rows
        self.release_ns = release_ns if release_ns is not None else [0] * len(rows)
        agg = bool(rows) and "a" in rows[0]
        self._ids: list[int] = [row["a" if agg else "id"] for row in rows]
        self._times: list[int] = [row["T" if agg else "time"] for row in rows]
        self._laps = laps if rows else 1
        self._time_name = "T" if agg else "time"
        self._id_names = ("a", "f", "l") if agg else ("id",)
        self._id_shifts = _id_shifts(rows, agg)
        self._lap_ms = lap_ms or (self._times[-1] - self._times[0] + 1 if rows else 0)
        self._lap_ns = lap_ns or self._lap_ms * 1_000_000

    def visible(self, elapsed_ns: int | None) -> int:
        """How many trades exist ``elapsed_ns`` into the recording (None: all of them, in every lap)."""
        if elapsed_ns is None:
            return len(self.rows) * (self._laps or 1)
        return self._find(self.release_ns, elapsed_ns, self._lap_ns, right=True)

    def page(self, endpoint: str, query: Mapping[str, str], visible: int) -> list[dict[str, Any]]:
        """The rows ``endpoint`` (``trades``, ``historicalTrades`` or ``aggTrades``) returns for ``query``."""
        limit = _limit(query)
        if endpoint == "trades":
            return self._rows(max(0, visible - limit), visible)
        start, stop = self._window(endpoint, query, limit, visible)
        return self._rows(start, stop)

    def _rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        size = len(self.rows)
        if stop <= size:
            return self.rows[start:stop]
        return [self._row(index) for index in range(start, stop)]

    def _row(self, index: int) -> dict[str, Any]:
        lap, at = divmod(index, len(self.rows))
        row = self.rows[at]
        if lap == 0:
            return row
        moved = dict(row)
        for name, shift in zip(self._id_names, self._id_shifts, strict=True):
            moved[name] += shift * lap
        moved[self._time_name] += self._lap_ms * lap
        return moved

    def _find(self, keys: list[int], value: int, shift: int, *, right: bool) -> int:
        """The index in the lapped list where ``value`` would go among ``keys`` moved by ``shift`` a lap."""
        size = len(keys)
        if not size:
            return 0
        lap = max(0, (value - keys[0]) // shift) if shift and self._laps != 1 else 0
        if self._laps is not None:
            lap = min(lap, self._laps - 1)
        return lap * size + (bisect_right if right else bisect_left)(keys, value - lap * shift)

    def _window(self, endpoint: str, query: Mapping[str, str], limit: int, visible: int) -> tuple[int, int]:
        from_id = query_int(query, "fromId")
        start_ms = query_int(query, "startTime") if endpoint == "aggTrades" else None
        end_ms = query_int(query, "endTime") if endpoint == "aggTrades" else None
        if from_id is not None and (start_ms is not None or end_ms is not None):
            raise BinanceRequestError(-1128, "Combination of optional parameters invalid.")
        if from_id is not None:
            first = self._find(self._ids, from_id, self._id_shifts[0], right=False)
            return first, max(first, min(first + limit, visible))
        if start_ms is None and end_ms is None:
            return max(0, visible - limit), visible
        return self._time_window(start_ms, end_ms, limit, visible)

    def _time_window(self, start_ms: int | None, end_ms: int | None, limit: int, visible: int) -> tuple[int, int]:
        if start_ms is not None and end_ms is not None and end_ms - start_ms > MAX_SPAN_MS:
            raise BinanceRequestError(-1127, "More than 1 hours between startTime and endTime.")
        times, shift = self._times, self._lap_ms
        stop = min(visible, self._find(times, end_ms, shift, right=True) if end_ms is not None else visible)
        if start_ms is None:
            return max(0, stop - limit), stop
        first = self._find(times, start_ms, shift, right=False)
        return first, max(first, min(first + limit, stop))


def _id_shifts(rows: list[dict[str, Any]], agg: bool) -> tuple[int, ...]:
    """How much a lap adds to each id field: the span of the ids (``f``/``l``: of the trades aggregated)."""
    if not rows:
        return (0, 0, 0) if agg else (0,)
    if not agg:
        return (int(rows[-1]["id"]) - int(rows[0]["id"]) + 1,)
    span = int(rows[-1]["l"]) - int(rows[0]["f"]) + 1
    return (int(rows[-1]["a"]) - int(rows[0]["a"]) + 1, span, span)


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
