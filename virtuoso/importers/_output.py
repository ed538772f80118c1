"""What every importer shares: event ids, chunks, counts, and the checks for gaps.

:class:`Output` turns payloads into events of one file and cuts them into chunks;
:class:`Continuity` holds what must carry over from one file of a capture to the
next (the last trade id of each stream, the depth sync state of each book) and
turns breaks into :class:`~virtuoso.events.Gap` events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from virtuoso.book import DepthSync, Judgement, SyncRule, Verdict
from virtuoso.events import BookDelta, BookSnapshot, Event, EventIdFactory, Gap, Payload, event_problem

CHUNK = 5000
"""Events per chunk handed to the store (one hash-chain batch each)."""

MAX_NS = 2**63 - 1
"""The latest time the log holds (signed 64-bit ns), as in the value rules."""

PARSE_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, RecursionError)
"""What parsing a malformed line can raise (UnicodeDecodeError and msgspec's errors are ValueErrors):
each importer turns these into an ImportFormatError naming the file and line, at the line."""


class BadValue(ValueError):
    """An event's values break the log's rules (:func:`~virtuoso.events.event_problem`); the reason is the text."""

    def __init__(self, event: Event, problem: str) -> None:
        super().__init__(problem)
        self.stream = event.stream


def check_event(event: Event) -> None:
    """Raise :class:`BadValue` if ``event`` cannot enter the log; the importer names the line."""
    problem = event_problem(event)
    if problem is not None:
        raise BadValue(event, f"{event.type} {problem}")


MAX_PENDING_DELTAS = 20_000
"""Deltas kept while a book waits for its first snapshot; beyond that the oldest half is let go."""


class Output:
    """Events of one file of one session: deterministic ids, chunks, counts per type."""

    def __init__(self, session: str, file_key: str) -> None:
        self.session = session
        self._file_key = file_key
        self._ids: dict[str, EventIdFactory] = {}
        self.chunk: list[Event] = []
        self.counts: Counter[str] = Counter()
        self.last_recv = 0
        self.skipped = 0
        """Lines or rows left out on purpose (streams the format does not import)."""

    def ids(self, stream: str) -> EventIdFactory:
        """The id factory of ``stream`` for this file.

        The namespace holds the file's hash besides session and stream: a file's
        ids are then the same whether or not the files before it are imported in
        the same run, and never collide with another file's.
        """
        factory = self._ids.get(stream)
        if factory is None:
            factory = self._ids[stream] = EventIdFactory(f"{self.session}:{stream}:{self._file_key}")
        return factory

    def emit(self, stream: str, ts_event: int, ts_recv: int, payload: Payload) -> None:
        """Add one event to the current chunk, after checking its values (:class:`BadValue`)."""
        event = Event(self.ids(stream)(ts_event), stream, ts_event, ts_recv, self.session, payload)
        check_event(event)
        self.chunk.append(event)
        self.counts[payload.TYPE] += 1

    def take(self) -> list[Event]:
        """The events of the current chunk; the chunk list itself is emptied and reused."""
        chunk = self.chunk[:]
        self.chunk.clear()
        return chunk


@dataclass
class _Book:
    """The depth sync of one book stream and what the importer needs around it."""

    sync: DepthSync
    rule: SyncRule
    gaps: str
    chained: bool = False
    last_ts: int = 0
    pending: list[tuple[BookDelta, int]] = field(default_factory=list)


@dataclass
class _Trades:
    gaps: str
    last_id: int
    last_ts: int


_INT64_LOW = -(2**63) + 1
_INT64_HIGH = 2**63 - 2
"""Ids beyond these take the row-by-row rule: their neighbours (id - 1, id + 1) leave int64."""


def _next_trade(state: _Trades, stream: str, trade_id: int, ts_event: int) -> Gap | None:
    """Advance ``state`` past ``trade_id``; the Gap when ids were skipped before it."""
    gap = None
    if trade_id > state.last_id + 1:
        reason = f"trade ids {state.last_id + 1}..{trade_id - 1} missing"
        gap = Gap(stream, state.last_ts, ts_event, reason)
    if trade_id > state.last_id:
        state.last_id, state.last_ts = trade_id, ts_event
    return gap


class Continuity:
    """Trade-id and depth-sequence checks across the files of one import, emitting Gap events."""

    def __init__(self) -> None:
        self._books: dict[str, _Book] = {}
        self._trades: dict[str, _Trades] = {}
        self._resumed: dict[str, tuple[int, int]] = {}
        self._out = Output("", "")
        self._rule = SyncRule.SPOT

    def attach(self, out: Output, rule: SyncRule = SyncRule.SPOT) -> None:
        """Emit the Gap events of the next file to ``out``; its books follow ``rule``."""
        self._out = out
        self._rule = rule

    # -- trades ------------------------------------------------------------------

    def trade(self, stream: str, gaps: str, trade_id: int, ts_event: int, ts_recv: int) -> None:
        """Check that ``trade_id`` follows the stream's last id; a jump is a Gap event."""
        state = self._trades.get(stream)
        if state is None:
            resumed = self._resumed.pop(stream, None)
            if resumed is None:
                self._trades[stream] = _Trades(gaps, trade_id, ts_event)
                return
            state = self._trades[stream] = _Trades(gaps, *resumed)
        gap = _next_trade(state, stream, trade_id, ts_event)
        if gap is not None:
            self._out.emit(gaps, ts_event, ts_recv, gap)

    def trade_gaps(self, stream: str, gaps: str, trade_ids: np.ndarray, times: np.ndarray) -> list[tuple[int, Gap]]:
        """:meth:`trade` over a block of rows (int64 columns): the Gap of each jump, with the row it follows.

        The gaps are returned, not emitted: the caller puts each after its row. Column-wise
        (a running maximum), with the row-by-row rule kept for ids at the ends of int64.
        """
        state = self._trades.get(stream)
        start = 0
        if state is None:
            resumed = self._resumed.pop(stream, None)
            if resumed is None:
                resumed, start = (int(trade_ids[0]), int(times[0])), 1
            state = self._trades[stream] = _Trades(gaps, *resumed)
        ids, ts = trade_ids[start:], times[start:]
        if not len(ids):
            return []
        if ids.min() <= _INT64_LOW or ids.max() >= _INT64_HIGH or not _INT64_LOW < state.last_id < _INT64_HIGH:
            return self._trade_gaps_by_row(state, stream, ids.tolist(), ts.tolist(), start)
        before = np.maximum.accumulate(np.concatenate(([state.last_id], ids[:-1])))
        raised = np.flatnonzero(ids > before)
        jumps = np.flatnonzero(ids - 1 > before)
        since = np.searchsorted(raised, jumps) - 1  # the last row before each jump that raised the id
        found: list[tuple[int, Gap]] = []
        for jump, previous in zip(jumps.tolist(), since.tolist(), strict=True):
            last_ts = state.last_ts if previous < 0 else int(ts[raised[previous]])
            reason = f"trade ids {int(before[jump]) + 1}..{int(ids[jump]) - 1} missing"
            found.append((jump + start, Gap(stream, last_ts, int(ts[jump]), reason)))
        if len(raised):
            state.last_id, state.last_ts = int(ids[raised[-1]]), int(ts[raised[-1]])
        return found

    @staticmethod
    def _trade_gaps_by_row(
        state: _Trades, stream: str, ids: list[int], times: list[int], start: int
    ) -> list[tuple[int, Gap]]:
        found = []
        for row, (trade_id, ts) in enumerate(zip(ids, times, strict=True), start):
            gap = _next_trade(state, stream, trade_id, ts)
            if gap is not None:
                found.append((row, gap))
        return found

    # -- books -------------------------------------------------------------------

    def _book(self, stream: str, gaps: str) -> _Book:
        book = self._books.get(stream)
        if book is None:
            rule = self._rule
            book = self._books[stream] = _Book(DepthSync(rule), rule, gaps)
            resumed = self._resumed.pop(stream, None)
            if resumed is not None:
                book.sync = DepthSync.resume(rule, resumed[0])
                book.chained, book.last_ts = True, resumed[1]
        return book

    def snapshot(self, stream: str, gaps: str, snapshot: BookSnapshot, ts_event: int, ts_recv: int) -> None:
        """Put a snapshot in force; judge the deltas that waited for it."""
        book = self._book(stream, gaps)
        pending, book.pending = book.pending, []
        book.chained, book.last_ts = False, ts_event
        judged = book.sync.on_snapshot(snapshot)
        for (_, judgement), (_, delta_ts) in zip(judged, pending, strict=True):
            self._judged(stream, book, judgement, delta_ts, ts_recv)

    def delta(self, stream: str, gaps: str, delta: BookDelta, ts_event: int, ts_recv: int) -> None:
        """Judge one diff-depth delta; a broken chain is a Gap event."""
        book = self._book(stream, gaps)
        judgement = book.sync.on_delta(delta)
        if judgement.verdict is Verdict.BUFFERED:
            book.pending.append((delta, ts_event))
            if len(book.pending) > MAX_PENDING_DELTAS:
                self._forget_oldest(book)
            return
        self._judged(stream, book, judgement, ts_event, ts_recv)

    def _judged(self, stream: str, book: _Book, judgement: Judgement, ts_event: int, ts_recv: int) -> None:
        if judgement.verdict is Verdict.APPLY:
            book.chained, book.last_ts = True, ts_event
        elif judgement.verdict is Verdict.GAP:
            book.chained = False
            self._out.emit(book.gaps, ts_event, ts_recv, Gap(stream, book.last_ts, ts_event, judgement.reason))

    def _forget_oldest(self, book: _Book) -> None:
        # Flat memory while no snapshot comes: a snapshot only ever needs the deltas
        # just before it, so the older half of the waiting ones can go.
        book.pending = book.pending[len(book.pending) // 2 :]
        book.sync = DepthSync(book.rule)
        for delta, _ in book.pending:
            book.sync.on_delta(delta)

    # -- carrying over between files ---------------------------------------------

    def cursors(self) -> dict[str, tuple[int, int]]:
        """Per stream, the sequence number a following file continues from, and its exchange time."""
        cursors = dict(self._resumed)
        cursors.update({stream: (t.last_id, t.last_ts) for stream, t in self._trades.items()})
        cursors.update({s: (b.sync.last_sequence, b.last_ts) for s, b in self._books.items() if b.chained})
        return cursors

    def resume(self, cursors: Mapping[str, tuple[int, int]]) -> None:
        """Continue from a file imported earlier (and skipped now): forget the state, keep its cursors."""
        self._books.clear()
        self._trades.clear()
        self._resumed = {stream: (int(seq), int(ts)) for stream, (seq, ts) in cursors.items()}
