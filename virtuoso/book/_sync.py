"""Binance's diff-depth synchronization rules as a small state machine.

A venue's diff-depth stream is only usable on top of a snapshot, and only while
every update follows the previous one. :class:`DepthSync` judges each delta
against the snapshot and the last applied delta, and says what to do with it;
it holds no prices, so the importer (to find gaps) and the book builder (to
build books) share it.

Rules (Binance's documentation):

* spot: drop deltas with ``u <= lastUpdateId``; the first applied delta must
  straddle the snapshot (``U <= lastUpdateId + 1 <= u``); afterwards each delta's
  ``U`` is the previous ``u + 1``.
* USD-M futures: drop deltas with ``u < lastUpdateId``; the first applied delta
  has ``U <= lastUpdateId <= u``; afterwards each delta's ``pu`` is the previous ``u``.

Deltas that arrive before any snapshot are kept (recorders fetch the snapshot
after subscribing, so the straddling delta usually arrives first) and released
by :meth:`DepthSync.on_snapshot`.

>>> from virtuoso.events import BookDelta, BookSnapshot
>>> sync = DepthSync(SyncRule.SPOT)
>>> sync.on_delta(BookDelta((), (), 10, 20)).verdict
<Verdict.BUFFERED: 'buffered'>
>>> [(d.last_sequence, j.verdict.value) for d, j in sync.on_snapshot(BookSnapshot((), (), 15))]
[(20, 'apply')]
>>> sync.on_delta(BookDelta((), (), 21, 25)).verdict
<Verdict.APPLY: 'apply'>
>>> sync.on_delta(BookDelta((), (), 27, 30))
Judgement(verdict=<Verdict.GAP: 'gap'>, reason='expected first update id 26, got 27')
>>> sync.in_sync
False
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from virtuoso.events import BookDelta, BookSnapshot


class SyncRule(enum.Enum):
    """Which venue rule chains deltas: ``U == previous u + 1`` (spot) or ``pu == previous u`` (futures)."""

    SPOT = "spot"
    FUTURES = "futures"


class Verdict(enum.Enum):
    """What to do with one delta."""

    APPLY = "apply"
    """Apply it to the book."""
    STALE = "stale"
    """Already contained in the snapshot: drop it."""
    BUFFERED = "buffered"
    """No snapshot yet: kept until one arrives."""
    GAP = "gap"
    """The chain broke: the book is out of sync until the next snapshot."""
    WAITING = "waiting"
    """Out of sync after a gap: ignored until the next snapshot."""


class Judgement(NamedTuple):
    """A verdict, and for a gap the reason in words."""

    verdict: Verdict
    reason: str = ""


_APPLY = Judgement(Verdict.APPLY)
_STALE = Judgement(Verdict.STALE)
_BUFFERED = Judgement(Verdict.BUFFERED)
_WAITING = Judgement(Verdict.WAITING)


class DepthSync:
    """The sync state of one symbol's diff-depth stream (see the module docstring)."""

    __slots__ = ("_anchor", "_last", "_pending", "_rule", "_state")

    def __init__(self, rule: SyncRule) -> None:
        self._rule = rule
        self._state = "no-snapshot"  # no-snapshot | first | chained | broken
        self._anchor = 0  # lastUpdateId of the snapshot in force
        self._last = 0  # u of the last applied delta
        self._pending: list[BookDelta] = []

    @classmethod
    def resume(cls, rule: SyncRule, last_sequence: int) -> DepthSync:
        """A sync state as it was right after applying a delta whose ``u`` is ``last_sequence``.

        This is how a book restored from a checkpoint goes on: the next delta must
        chain onto ``last_sequence`` by ``rule``.
        """
        sync = cls(rule)
        sync._state = "chained"
        sync._anchor = sync._last = last_sequence
        return sync

    @property
    def rule(self) -> SyncRule:
        """The venue rule this state follows."""
        return self._rule

    @property
    def chained(self) -> bool:
        """True once a delta has been applied on the snapshot in force, and no break since.

        Only then does :attr:`last_sequence` alone say what comes next (see :meth:`resume`).
        """
        return self._state == "chained"

    @property
    def in_sync(self) -> bool:
        """True once a snapshot is in force and no break has happened since."""
        return self._state in ("first", "chained")

    @property
    def last_sequence(self) -> int:
        """The update id the book reflects: the last applied ``u``, or the snapshot's id."""
        return self._last

    def on_snapshot(self, snapshot: BookSnapshot) -> list[tuple[BookDelta, Judgement]]:
        """Put ``snapshot`` in force and judge the buffered deltas against it, in arrival order.

        The caller applies those judged ``APPLY`` on top of the snapshot (and reports a ``GAP``).
        """
        self._state = "first"
        self._anchor = self._last = snapshot.sequence
        pending, self._pending = self._pending, []
        return [(delta, self.on_delta(delta)) for delta in pending]

    def on_delta(self, delta: BookDelta) -> Judgement:
        """Judge ``delta``; when the verdict is ``APPLY`` the caller must apply it."""
        if self._state == "chained":
            return self._follow(delta)
        if self._state == "first":
            return self._first(delta)
        if self._state == "no-snapshot":
            self._pending.append(delta)
            return _BUFFERED
        return _WAITING

    def _first(self, delta: BookDelta) -> Judgement:
        anchor = self._anchor
        target = anchor + 1 if self._rule is SyncRule.SPOT else anchor
        if delta.last_sequence < target:
            return _STALE
        if delta.first_sequence > target:
            return self._break(f"first update after snapshot {anchor} starts at {delta.first_sequence}")
        return self._accept(delta)

    def _follow(self, delta: BookDelta) -> Judgement:
        if self._rule is SyncRule.SPOT:
            if delta.first_sequence != self._last + 1:
                return self._break(f"expected first update id {self._last + 1}, got {delta.first_sequence}")
        elif delta.previous_sequence != self._last:
            return self._break(f"expected previous update id {self._last}, got {delta.previous_sequence}")
        return self._accept(delta)

    def _accept(self, delta: BookDelta) -> Judgement:
        self._state = "chained"
        self._last = delta.last_sequence
        return _APPLY

    def _break(self, reason: str) -> Judgement:
        self._state = "broken"
        return Judgement(Verdict.GAP, reason)
