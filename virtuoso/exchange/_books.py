"""Books: a first snapshot, then deltas computed from successive ccxt order books, and periodic snapshots.

ccxt (and ccxt.pro) keep each order book whole and hand it back after every
update; the venue's raw diff is not part of the unified API. So the recorder
diffs two successive books: levels whose amount changed, and removed levels
with amount 0. The diff runs on dicts (C-speed set operations on their items),
so a 1000-level book costs tens of microseconds.

Sequence numbers come from ccxt's ``nonce`` (the venue's update id); a delta
from update ``a`` to ``b`` covers ``a + 1 .. b`` and names ``a`` as its previous
id, so :class:`~virtuoso.book.BookBuilder` chains it under the spot rule
(``U == previous u + 1``). With ``futures_chain`` (Binance USD-M and COIN-M,
whose first delta after a snapshot must contain the snapshot's id) it covers
``a .. b`` instead, and chains by ``pu == previous u``.

>>> differ = BookDiffer("binance:BTC/USDT:book", snapshot_every_ns=10**12)
>>> differ.on_book({"bids": [[100.0, 1.0]], "asks": [[101.0, 2.0]], "nonce": 7}, 0)
(None, BookSnapshot(bids=((100.0, 1.0),), asks=((101.0, 2.0),), sequence=7))
>>> _, delta = differ.on_book({"bids": [[100.0, 1.5]], "asks": [[102.0, 1.0]], "nonce": 9}, 1)
>>> delta.bids, delta.asks, (delta.first_sequence, delta.last_sequence, delta.previous_sequence)
(((100.0, 1.5),), ((101.0, 0.0), (102.0, 1.0)), (8, 9, 7))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virtuoso.events import BookDelta, BookSnapshot, Gap, Level

SideDict = dict[float, float]


def side_dict(side: Sequence[Sequence[Any]]) -> SideDict:
    """A ccxt book side as ``{price: amount}``, without levels at amount 0.

    A venue may send a level whose amount is 0 (a removed level it has not
    pruned yet); it holds nothing, so it is not part of the book.
    """
    return {float(level[0]): amount for level in side if (amount := float(level[1])) > 0.0}


def diff_side(old: SideDict, new: SideDict, *, descending: bool) -> tuple[Level, ...]:
    """The levels that turn ``old`` into ``new``: changed or added levels, and removed ones at amount 0."""
    changed = dict(new.items() - old.items())
    for price in old.keys() - new.keys():
        changed[price] = 0.0
    return tuple(sorted(changed.items(), reverse=descending))


def _sorted(side: SideDict, *, descending: bool) -> tuple[Level, ...]:
    return tuple(sorted(side.items(), reverse=descending))


class BookDiffer:
    """One book stream: what to record for each ccxt order book received.

    The first book (and the first after :meth:`interrupt`, with the Gap) is a
    :class:`BookSnapshot`; later ones are :class:`BookDelta` of the changed
    levels; every ``snapshot_every_ns`` (by the times given) or
    ``snapshot_every_updates`` deltas, a full snapshot again. A book whose
    update id goes backwards means the venue's sequence was reset: what came
    between cannot be chained, so it is a Gap and a fresh snapshot (a resync).
    Venues without update ids get a local counter.
    """

    def __init__(
        self, stream: str, *, snapshot_every_ns: int, snapshot_every_updates: int = 0, futures_chain: bool = False
    ) -> None:
        self.stream = stream
        self._first_offset = 0 if futures_chain else 1
        self._every_ns = snapshot_every_ns
        self._every_updates = snapshot_every_updates
        self._bids: SideDict = {}
        self._asks: SideDict = {}
        self._sequence: int | None = None
        self._snapshot_ns = 0
        self._updates = 0
        self._good_ns = 0
        self._interrupted: str | None = None
        self._fresh_snapshot = False
        self.in_sync = False

    def snapshot_next(self) -> None:
        """Record the next book as a full snapshot, without a Gap (a new session begins: its book starts whole)."""
        self._fresh_snapshot = True

    def interrupt(self, reason: str) -> None:
        """The book can no longer be trusted (disconnect, sequence break): the next book resyncs, after a Gap."""
        if self.in_sync:
            self.in_sync = False
            self._interrupted = reason

    def on_book(
        self, book: Mapping[str, Any], now_ns: int, ts_event: int | None = None
    ) -> tuple[Gap | None, BookSnapshot | BookDelta | None]:
        """What to record for ``book`` received at ``now_ns`` (exchange time ``ts_event``).

        A :class:`Gap` (from the last good update to this book) when the book
        resyncs after :meth:`interrupt`, and the payload (``None``: nothing changed).
        """
        ts = now_ns if ts_event is None else ts_event
        sequence = self._sequence_of(book)
        if self.in_sync and self._sequence is not None and sequence < self._sequence:
            self.interrupt(f"update id went back from {self._sequence} to {sequence} (sequence reset)")
        if not self.in_sync or self._sequence is None or sequence < self._sequence or self._snapshot_due(now_ns):
            return self._resync_gap(ts), self._snapshot(book, sequence, now_ns, ts)
        if sequence == self._sequence:
            return None, None
        return None, self._delta(book, sequence, ts)

    def _resync_gap(self, ts: int) -> Gap | None:
        if self._interrupted is None:
            return None
        start = min(self._good_ns, ts) if self._good_ns else ts
        return Gap(self.stream, start, ts, self._interrupted)

    def _sequence_of(self, book: Mapping[str, Any]) -> int:
        nonce = book.get("nonce")
        if nonce is not None:
            return int(nonce)
        return 0 if self._sequence is None else self._sequence + 1

    def _snapshot_due(self, now_ns: int) -> bool:
        if self._fresh_snapshot:
            return True
        if self._every_updates and self._updates >= self._every_updates:
            return True
        return bool(self._every_ns) and now_ns - self._snapshot_ns >= self._every_ns

    def _snapshot(self, book: Mapping[str, Any], sequence: int, now_ns: int, ts: int) -> BookSnapshot:
        self._bids, self._asks = side_dict(book["bids"]), side_dict(book["asks"])
        self._sequence, self._snapshot_ns, self._updates = sequence, now_ns, 0
        self._good_ns, self.in_sync, self._interrupted, self._fresh_snapshot = ts, True, None, False
        return BookSnapshot(_sorted(self._bids, descending=True), _sorted(self._asks, descending=False), sequence)

    def _delta(self, book: Mapping[str, Any], sequence: int, ts: int) -> BookDelta | None:
        bids, asks = side_dict(book["bids"]), side_dict(book["asks"])
        bid_changes = diff_side(self._bids, bids, descending=True)
        ask_changes = diff_side(self._asks, asks, descending=False)
        if not bid_changes and not ask_changes and book.get("nonce") is None:
            return None
        previous = self._sequence
        assert previous is not None  # on_book only diffs once a snapshot set it
        self._bids, self._asks, self._sequence = bids, asks, sequence
        self._updates += 1
        self._good_ns = ts
        return BookDelta(bid_changes, ask_changes, previous + self._first_offset, sequence, previous)
