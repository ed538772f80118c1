"""Building a book from a stream of BookSnapshot and BookDelta events, by the venue's sync rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from virtuoso.book._book import OrderBook
from virtuoso.book._sync import DepthSync, SyncRule, Verdict
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot, Event, Gap, Level

EXCHANGE_RULES: dict[str, SyncRule] = {
    "binance": SyncRule.SPOT,
    "binanceusdm": SyncRule.FUTURES,
    "synthetic": SyncRule.SPOT,  # virtuoso.synthetic publishes its book by Binance spot's update-id rule
}
"""The sync rule of each exchange whose book streams we know (ccxt exchange ids, and ``synthetic``)."""

CHECKPOINT_SUFFIX = ".checkpoints"


def rule_for_stream(stream: str, override: SyncRule | None = None) -> SyncRule:
    """The sync rule for book stream ``stream`` (by its exchange), or ``override`` when given.

    >>> rule_for_stream("binanceusdm:BTC/USDT:USDT:book")
    <SyncRule.FUTURES: 'futures'>
    """
    if override is not None:
        return override
    exchange = stream.split(":", 1)[0]
    try:
        return EXCHANGE_RULES[exchange]
    except KeyError:
        known = ", ".join(sorted(EXCHANGE_RULES))
        raise UsageError(f"no known book sync rule for exchange {exchange!r} (known: {known}); name one") from None


def checkpoint_stream(book_stream: str) -> str:
    """The stream holding the checkpoints of ``book_stream``: ``binance:BTC/USDT:book.checkpoints``."""
    return book_stream + CHECKPOINT_SUFFIX


@dataclass(frozen=True, slots=True)
class BookState:
    """The book of one stream as of some moment, as :func:`book_at` and ``virtuoso book`` give it.

    When ``in_sync`` is False the levels are empty and ``sequence`` is None:
    there is no valid book to show, and ``reason`` says why.
    """

    stream: str
    session: str
    at_ns: int | None
    """The time asked for (ns, exchange time), if any."""
    ts_event: int | None
    """The latest exchange time among the book events reflected; None when there were none."""
    sequence: int | None
    """The venue update id the book reflects (last applied ``u``, or the snapshot's id)."""
    in_sync: bool
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    position: int
    """The log position of the last book event reflected (0 when none)."""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``virtuoso book --json`` prints (levels as ``[price, size]`` lists, best first)."""
        return {
            "symbol": symbol_of(self.stream),
            "stream": self.stream,
            "session": self.session,
            "at_ns": self.at_ns,
            "ts_event": self.ts_event,
            "sequence": self.sequence,
            "in_sync": self.in_sync,
            "position": self.position,
            "reason": self.reason,
            "bids": [[price, size] for price, size in self.bids],
            "asks": [[price, size] for price, size in self.asks],
        }


def symbol_of(stream: str) -> str:
    """The symbol part of a stream name: ``binanceusdm:BTC/USDT:USDT:book`` -> ``BTC/USDT:USDT``."""
    parts = stream.split(":")
    return ":".join(parts[1:-1]) if len(parts) > 2 else stream


class BookBuilder:
    """One stream's book, built event by event: snapshots reset it, deltas are judged by :class:`DepthSync`.

    A break in the delta chain returns a :class:`Gap`, clears the levels and
    leaves the builder out of sync until the next snapshot. Events of other
    types are ignored, so a mixed read can be fed in as it comes.

    >>> from virtuoso.events import Event
    >>> builder = BookBuilder(SyncRule.SPOT, "binance:BTC/USDT:book")
    >>> def event(ts, payload): return Event(str(ts), builder.stream, ts, ts, "s", payload)
    >>> builder.apply(event(1, BookSnapshot(((100.0, 1.0),), ((101.0, 1.0),), 10)))
    >>> builder.apply(event(2, BookDelta(((100.5, 2.0),), (), 11, 12)))
    >>> builder.book.best_bid, builder.sequence
    ((100.5, 2.0), 12)
    >>> builder.apply(event(3, BookDelta((), ((101.0, 0.0),), 14, 15)))
    Gap(stream='binance:BTC/USDT:book', start_ns=2, end_ns=3, reason='expected first update id 13, got 14')
    >>> builder.in_sync, builder.sequence, builder.book.best_bid
    (False, None, None)
    """

    __slots__ = ("_gap_reason", "_good_ts", "book", "position", "stream", "sync", "ts_event", "ts_recv")

    def __init__(self, rule: SyncRule, stream: str = "") -> None:
        self.stream = stream
        self.sync = DepthSync(rule)
        self.book = OrderBook()
        self.ts_event: int | None = None
        """The latest exchange time among the events applied (events are not always in time order)."""
        self.ts_recv = 0
        self.position = 0
        """The log position of the last event given to :meth:`apply`."""
        self._good_ts = 0
        self._gap_reason = ""

    @classmethod
    def for_stream(cls, stream: str, rule: SyncRule | None = None) -> BookBuilder:
        """A builder for book stream ``stream``, its rule picked from the exchange unless given."""
        return cls(rule_for_stream(stream, rule), stream)

    @classmethod
    def from_checkpoint(cls, checkpoint: Event, rule: SyncRule, stream: str) -> BookBuilder:
        """A builder in the state a checkpoint event (see :func:`write_checkpoints`) recorded."""
        payload = checkpoint.payload
        if not isinstance(payload, BookSnapshot) or checkpoint.causation is None:
            raise UsageError(f"event {checkpoint.id} on {checkpoint.stream} is not a book checkpoint")
        builder = cls(rule, stream)
        builder.sync = DepthSync.resume(rule, payload.sequence)
        builder.book.reset(payload.bids, payload.asks)
        builder.ts_event = builder._good_ts = checkpoint.ts_event
        builder.ts_recv = checkpoint.ts_recv
        builder.position = checkpoint.causation
        return builder

    # -- state ---------------------------------------------------------------------

    @property
    def in_sync(self) -> bool:
        """True while the book is valid: a snapshot is in force and no break has happened since."""
        return self.sync.in_sync

    @property
    def sequence(self) -> int | None:
        """The venue update id the book reflects; None when it is not in sync."""
        return self.sync.last_sequence if self.sync.in_sync else None

    @property
    def reason(self) -> str:
        """Why the book is not in sync ("" when it is)."""
        if self.sync.in_sync:
            return ""
        if self._gap_reason:
            return f"out of sync until the next snapshot: {self._gap_reason}"
        return "no snapshot yet"

    def state(self, depth: int | None = None, *, session: str = "", at_ns: int | None = None) -> BookState:
        """The book as a :class:`BookState`: the best ``depth`` levels a side (all when None)."""
        in_sync = self.sync.in_sync
        bids, asks = self.book.depth(depth) if in_sync else ([], [])
        return BookState(
            stream=self.stream,
            session=session,
            at_ns=at_ns,
            ts_event=self.ts_event,
            sequence=self.sequence,
            in_sync=in_sync,
            bids=tuple(bids),
            asks=tuple(asks),
            position=self.position,
            reason=self.reason,
        )

    # -- events --------------------------------------------------------------------

    def apply(self, event: Event) -> Gap | None:
        """Take one book event; a :class:`Gap` when it reveals a break in the delta chain."""
        payload = event.payload
        ts = event.ts_event
        if self.ts_event is None or ts > self.ts_event:
            self.ts_event = ts
        self.ts_recv = event.ts_recv
        self.position = event.position
        if type(payload) is BookDelta:
            verdict, reason = self.sync.on_delta(payload)
            if verdict is Verdict.APPLY:
                self.book.apply(payload.bids, payload.asks)
                self._good_ts = ts
            elif verdict is Verdict.GAP:
                return self._gap(ts, reason)
            return None
        if type(payload) is BookSnapshot:
            return self._snapshot(payload, ts)
        return None

    def _snapshot(self, snapshot: BookSnapshot, ts: int) -> Gap | None:
        released = self.sync.on_snapshot(snapshot)
        self.book.reset(snapshot.bids, snapshot.asks)
        self._gap_reason = ""
        self._good_ts = ts
        for delta, judgement in released:
            if judgement.verdict is Verdict.APPLY:
                self.book.apply(delta.bids, delta.asks)
            elif judgement.verdict is Verdict.GAP:
                return self._gap(ts, judgement.reason)
        return None

    def _gap(self, ts: int, reason: str) -> Gap:
        self.book.clear()
        self._gap_reason = reason
        return Gap(self.stream, min(self._good_ts, ts), ts, reason)
