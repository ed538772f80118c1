"""What the loopback exchange actually sent, so a test can compare a recording with it.

Trade ids and depth update ids are kept in ``array('q')`` columns (8 bytes an id), and the
book a client would hold is kept up to date as updates go out, so a run of many laps keeps
its record small.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from virtuoso.book import DepthSync, OrderBook, SyncRule, Verdict
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot

_CHANNELS = ("ws", "rest")
_FOLD_EVERY = 4096


@dataclass(frozen=True, slots=True)
class Withheld:
    """Recorded data a fault kept from the client: the capture frames, and the trade ids and depth updates in them."""

    reason: str
    symbol: str
    stream: str
    frames: tuple[int, ...]
    trade_ids: tuple[int, ...] = ()
    depth_ids: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class AppliedFault:
    """One fault as it happened.

    ``where``: ``rest:/api/v3/aggTrades#3`` (path and request ordinal) or ``ws#500`` (message
    number over the server); ``action``: its kind; ``detail``: what it did, in words.
    ``symbol`` and ``stream``: what it hit (empty when not a symbol's data); ``trade_ids``: the
    trades whose served form it corrupted or withheld; ``depth_ids``: the ``(U, u)`` of the
    depth updates it corrupted, withheld or (``reset``) renumbered (the first after the reset,
    as it would have been and as it was sent); ``connection``: the WebSocket connection it
    closed or silenced (numbered from 1 in opening order, 0: none); ``frame``: the ordinal of
    the WebSocket frame that drew it (see ``docs/loopback.md``; -1 for REST).
    """

    where: str
    action: str
    detail: str = ""
    symbol: str = ""
    stream: str = ""
    trade_ids: tuple[int, ...] = ()
    depth_ids: tuple[tuple[int, int], ...] = ()
    connection: int = 0
    frame: int = -1


@dataclass(frozen=True, slots=True)
class MarketChange:
    """One :meth:`~virtuoso.testing.LoopbackExchange.change_market` call as applied.

    ``fields`` and ``previous``: ``(name, text)`` of each field changed (``tick_size``,
    ``step_size``, ``min_qty``, ``min_notional``, ``status``), as served after and before.
    ``requests_before``: how many exchangeInfo bodies of this market had been served before it.
    """

    symbol: str
    market: str
    fields: tuple[tuple[str, str], ...]
    previous: tuple[tuple[str, str], ...]
    requests_before: int


class UpdateIds(Sequence[tuple[int, int]]):
    """The ``(U, u)`` of depth updates, in sending order: a sequence of pairs kept in two id columns."""

    __slots__ = ("_first", "_last")

    def __init__(self) -> None:
        self._first = array("q")
        self._last = array("q")

    def append(self, pair: tuple[int, int]) -> None:
        """Add one update's ``(U, u)``."""
        self._first.append(pair[0])
        self._last.append(pair[1])

    def __len__(self) -> int:
        return len(self._first)

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(index, slice):
            return list(zip(self._first[index], self._last[index], strict=True))
        return self._first[index], self._last[index]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._first, self._last, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UpdateIds | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"UpdateIds({list(self)!r})"


class _RunningBook:
    """The book a client holds: the last snapshot plus the updates since, by Binance's sync rules.

    Updates wait in a short list and are folded in by the batch (or when the book is asked
    for): most tests never ask, and a long run's memory stays bounded. Levels stay the served
    strings (price -> size) until :meth:`book` builds an :class:`OrderBook`.
    """

    __slots__ = ("asks", "bids", "pending", "stopped", "sync")

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.bids: dict[str, str] = dict(_pairs(snapshot["bids"]))
        self.asks: dict[str, str] = dict(_pairs(snapshot["asks"]))
        self.sync = DepthSync(SyncRule.FUTURES if "T" in snapshot else SyncRule.SPOT)
        self.sync.on_snapshot(BookSnapshot((), (), int(snapshot["lastUpdateId"])))
        self.stopped = False
        self.pending: list[dict[str, Any]] = []

    def update(self, data: dict[str, Any]) -> None:
        self.pending.append(data)
        if len(self.pending) >= _FOLD_EVERY:
            self.fold()

    def fold(self) -> None:
        pending, self.pending = self.pending, []
        for data in pending:
            self._apply(data)

    def _apply(self, data: dict[str, Any]) -> None:
        if self.stopped:
            return
        verdict = self.sync.on_delta(_delta(data)).verdict
        if verdict is Verdict.APPLY:
            _set(self.bids, data["b"])
            _set(self.asks, data["a"])
        elif verdict is not Verdict.STALE:
            self.stopped = True  # a gap: a client must resync from a new snapshot

    def book(self) -> OrderBook:
        self.fold()
        return OrderBook(_levels(self.bids.items()), _levels(self.asks.items()))


def _pairs(levels: list[list[str]]) -> Iterator[tuple[str, str]]:
    return ((price, size) for price, size in levels if float(size))


def _set(side: dict[str, str], levels: list[list[str]]) -> None:
    for price, size in levels:
        if float(size):
            side[price] = size
        else:
            side.pop(price, None)


@dataclass(slots=True)
class Served:
    """The record of everything sent and withheld. Symbols are named by :func:`~virtuoso.testing.symbol_key`.

    ``ws_trades`` / ``rest_trades``: trade ids (``array('q')``) in the order they went out in
    their correct form (``aggTrades`` rows and ``aggTrade`` events count by their ``a`` id,
    which equals the trade id for capture-derived lists). ``ws_spoiled`` / ``rest_spoiled``:
    the ids of trades sent corrupted or withheld. ``ws_depth``: ``(U, u)`` of each depth update
    sent intact. ``snapshots``: every intact REST depth body sent. ``requests``: ``(path,
    query, status)`` of every REST request. ``exchange_infos``: exchangeInfo bodies served per
    path (a fault answering in their place is not one). ``market_changes``: every market
    change, in order (see :meth:`changes_seen`). ``ws_connections``: WebSocket connections
    opened. ``laps``: laps of the capture begun (1 for the first).
    """

    rest_trades: dict[str, array[int]] = field(default_factory=dict)
    ws_trades: dict[str, array[int]] = field(default_factory=dict)
    rest_spoiled: dict[str, array[int]] = field(default_factory=dict)
    ws_spoiled: dict[str, array[int]] = field(default_factory=dict)
    ws_depth: dict[str, UpdateIds] = field(default_factory=dict)
    snapshots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    faults: list[AppliedFault] = field(default_factory=list)
    ws_messages: int = 0
    ws_connections: int = 0
    laps: int = 1
    exchange_infos: dict[str, int] = field(default_factory=dict)
    market_changes: list[MarketChange] = field(default_factory=list)
    recorded_snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    _books: dict[str, _RunningBook] = field(default_factory=dict)

    # -- questions -----------------------------------------------------------------

    def trade_ids(self, symbol: str, channel: str = "ws") -> list[int]:
        """The ids of ``symbol``'s trades sent intact over ``channel`` (``ws`` or ``rest``), in sending order."""
        return list(self._column(channel, spoiled=False).get(symbol, ()))

    def withheld_trade_ids(self, symbol: str) -> list[int]:
        """The ids of ``symbol``'s trades that WebSocket faults kept from the client (not sent at all)."""
        return [tid for item in self.withheld if item.symbol == symbol for tid in item.trade_ids]

    def clean_trade_ids(self, symbol: str, channel: str | None = None) -> list[int]:
        """The ids of ``symbol``'s trades served intact at least once over ``channel`` (None: either), sorted.

        Each must be in a recording of that channel exactly once.
        """
        return sorted(self._ids(symbol, channel, spoiled=False))

    def spoiled_trade_ids(self, symbol: str, channel: str | None = None) -> list[int]:
        """The ids of ``symbol``'s trades that faults corrupted or withheld and that were never served intact, sorted.

        Over ``channel`` (``ws``, ``rest``, None: either). A recording of that channel cannot
        hold them: it must show a declared gap over them instead (see ``docs/loopback.md``).
        """
        return sorted(self._ids(symbol, channel, spoiled=True) - self._ids(symbol, channel, spoiled=False))

    def faults_of(self, action: str) -> list[AppliedFault]:
        """The faults applied of one kind (``disconnect``, ``429``, ...), in order."""
        return [fault for fault in self.faults if fault.action == action]

    def changes_seen(self, load: int, market: str = "spot") -> list[MarketChange]:
        """The changes of ``market`` in the body of its ``load``-th exchangeInfo served (counted from 1)."""
        return [c for c in self.market_changes if c.market == market and c.requests_before < load]

    def book_at_end(self, symbol: str) -> OrderBook:
        """The book a client holds after the last intact REST snapshot sent plus every depth update sent after it.

        Without a REST snapshot the recorded one is the base. Updates are judged by Binance's
        sync rules; at the first gap (or a sequence reset) the book stops there (a client must resync).
        """
        running = self._books.get(symbol)
        if running is not None:
            return running.book()
        sent = self.snapshots.get(symbol)
        if not sent and symbol not in self.recorded_snapshots:
            raise UsageError(f"no depth snapshot of {symbol!r} was served or recorded")
        return _RunningBook(sent[-1] if sent else self.recorded_snapshots[symbol]).book()

    # -- recording -----------------------------------------------------------------

    def sent_trades(self, channel: str, symbol: str, ids: Iterable[int], *, spoiled: bool = False) -> None:
        """Note trade ids sent over ``channel``, intact or (``spoiled``) corrupted or withheld."""
        column = self._column(channel, spoiled=spoiled)
        if symbol not in column:
            column[symbol] = array("q")
        column[symbol].extend(ids)

    def sent_depth(self, symbol: str, data: dict[str, Any]) -> None:
        """Note a depth update sent intact: its ids, and the client's book moved by it."""
        self.ws_depth.setdefault(symbol, UpdateIds()).append((int(data["U"]), int(data["u"])))
        running = self._books.get(symbol)
        if running is None and symbol in self.recorded_snapshots:
            running = self._books[symbol] = _RunningBook(self.recorded_snapshots[symbol])
        if running is not None:
            running.update(data)

    def sent_snapshot(self, symbol: str, body: dict[str, Any]) -> None:
        """Note an intact REST depth body: the client's book starts again from it."""
        self.snapshots.setdefault(symbol, []).append(body)
        self._books[symbol] = _RunningBook(body)

    def depth_reset(self, symbol: str) -> None:
        """The depth stream's ids restarted lower: a client's book from before cannot follow."""
        running = self._books.get(symbol)
        if running is None and symbol in self.recorded_snapshots:
            running = self._books[symbol] = _RunningBook(self.recorded_snapshots[symbol])
        if running is not None:
            running.fold()
            running.stopped = True

    def _column(self, channel: str, *, spoiled: bool) -> dict[str, array[int]]:
        if channel not in _CHANNELS:
            raise UsageError(f"channel must be 'ws' or 'rest', got {channel!r}")
        if channel == "ws":
            return self.ws_spoiled if spoiled else self.ws_trades
        return self.rest_spoiled if spoiled else self.rest_trades

    def _ids(self, symbol: str, channel: str | None, *, spoiled: bool) -> set[int]:
        channels = _CHANNELS if channel is None else (channel,)
        return {tid for name in channels for tid in self._column(name, spoiled=spoiled).get(symbol, ())}


def _levels(levels: Iterable[tuple[str, str]] | list[list[str]]) -> list[tuple[float, float]]:
    return [(float(price), float(size)) for price, size in levels]


def _delta(update: dict[str, Any]) -> BookDelta:
    previous = update.get("pu")
    return BookDelta((), (), int(update["U"]), int(update["u"]), None if previous is None else int(previous))
