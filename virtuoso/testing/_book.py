"""The exchange-side book of one symbol while its capture plays, for ``/api/v3/depth`` answers.

A live exchange answers a depth request with the book as it is now. The loopback exchange's
"now" is how far its WebSocket playback has got: the recorded snapshot plus every depth update
played (sent or withheld) since. Levels stay the exact strings of the recording.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from virtuoso.testing._capture import Frame


class DepthState:
    """A symbol's book: the recorded snapshot, moved forward through the capture's depth updates."""

    __slots__ = ("_asks", "_bids", "_futures", "_last", "_next", "_stamp", "_updates")

    def __init__(self, snapshot: dict[str, Any], updates: list[Frame], *, futures: bool) -> None:
        self._bids: dict[str, str] = dict(snapshot["bids"])
        self._asks: dict[str, str] = dict(snapshot["asks"])
        self._last = int(snapshot["lastUpdateId"])
        self._stamp: dict[str, Any] = {key: snapshot[key] for key in ("E", "T") if key in snapshot}
        self._futures = futures
        self._updates = updates
        self._next = 0

    @property
    def last_update_id(self) -> int:
        """The update id the book reflects."""
        return self._last

    def advance_to(self, frame_index: int) -> None:
        """Apply every depth update recorded at or before capture frame ``frame_index``."""
        updates = self._updates
        while self._next < len(updates) and updates[self._next].index <= frame_index:
            self._apply(updates[self._next].data)
            self._next += 1

    def _apply(self, update: dict[str, Any]) -> None:
        last_id = int(update["u"])
        if last_id < self._last or (last_id == self._last and not self._futures):
            return  # already contained in the book
        _set_levels(self._bids, update["b"])
        _set_levels(self._asks, update["a"])
        self._last = last_id
        self._stamp = {key: update[key] for key in ("E", "T") if key in update}

    def body(self, limit: int) -> dict[str, Any]:
        """The REST depth body: the best ``limit`` levels a side, Binance's field order."""
        body: dict[str, Any] = {"lastUpdateId": self._last}
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
