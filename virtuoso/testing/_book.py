"""The exchange-side book of one symbol while its capture plays, for ``/api/v3/depth`` answers.

A live exchange answers a depth request with the book as it is now. The loopback exchange's
"now" is how far its WebSocket playback has got: the recorded snapshot plus every depth update
played (sent or withheld) since, lap after lap (with each lap's bridge update, see
``_laps.py``). Levels stay the exact strings of the recording.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from virtuoso.testing._capture import Frame
from virtuoso.testing._laps import Laps


class DepthState:
    """A symbol's book: the recorded snapshot, moved forward through the capture's depth updates."""

    __slots__ = ("_asks", "_bids", "_futures", "_key", "_lap", "_laps", "_last", "_next", "_stamp", "_updates")

    def __init__(
        self, snapshot: dict[str, Any], updates: list[Frame], *, futures: bool, laps: Laps | None = None
    ) -> None:
        self._bids: dict[str, str] = dict(snapshot["bids"])
        self._asks: dict[str, str] = dict(snapshot["asks"])
        self._last = int(snapshot["lastUpdateId"])
        self._stamp: dict[str, Any] = {key: snapshot[key] for key in ("E", "T") if key in snapshot}
        self._futures = futures
        self._updates = updates
        self._laps = laps
        self._key = updates[0].key if updates else ""
        self._lap = 0
        self._next = 0

    @property
    def last_update_id(self) -> int:
        """The update id the book reflects."""
        return self._last

    def advance_to(self, ordinal: int) -> None:
        """Apply every depth update played at or before frame ``ordinal`` (in the first lap, a capture index)."""
        updates, laps = self._updates, self._laps
        while updates:
            if self._next == len(updates):
                if laps is None or not laps.looping or (laps.count is not None and self._lap + 1 >= laps.count):
                    return
                if laps.ordinal(self._lap + 1, 0) - 1 > ordinal:
                    return
                self._lap += 1
                self._next = 0
                self._apply(laps.bridge(self._key, self._lap, updates[0]).data, 0)
                continue
            frame = updates[self._next]
            lap_ordinal = laps.ordinal(self._lap, frame.index) if laps is not None else frame.index
            if lap_ordinal > ordinal:
                return
            self._apply(frame.data, self._lap)
            self._next += 1

    def _apply(self, update: dict[str, Any], lap: int) -> None:
        shift = self._laps.depth_shift(self._key) * lap if self._laps is not None and lap else 0
        last_id = int(update["u"]) + shift
        if last_id < self._last or (last_id == self._last and not self._futures):
            return  # already contained in the book
        _set_levels(self._bids, update["b"])
        _set_levels(self._asks, update["a"])
        self._last = last_id
        time_shift = self._laps.time_ms * lap if self._laps is not None else 0
        self._stamp = {key: update[key] + time_shift for key in ("E", "T") if key in update}

    def body(self, limit: int, offset: int = 0) -> dict[str, Any]:
        """The REST depth body: the best ``limit`` levels a side, Binance's field order; ids moved by ``offset``."""
        body: dict[str, Any] = {"lastUpdateId": self._last + offset}
        if self._futures:
            body.update(self._stamp)
        body["bids"] = _best(self._bids, limit, descending=True)
        body["asks"] = _best(self._asks, limit, descending=False)
        return body


def _set_levels(side: dict[str, str], levels: list[list[str]]) -> None:
    for price, size in levels:
        if Decimal(size):
            side[price] = size
        else:
            side.pop(price, None)


def _best(side: dict[str, str], limit: int, *, descending: bool) -> list[list[str]]:
    prices = sorted(side, key=Decimal, reverse=descending)[:limit]
    return [[price, side[price]] for price in prices]
