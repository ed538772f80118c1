"""What the loopback exchange actually sent, so a test can compare a recording with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from virtuoso.book import DepthSync, OrderBook, SyncRule, Verdict
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot
from virtuoso.testing._capture import Frame

_TRADE_IDS = {"trade": "t", "aggTrade": "a"}


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
    """One fault as it happened: where (``rest:/api/v3/aggTrades#3``, ``ws#500``), what, and details."""

    where: str
    action: str
    detail: str = ""


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


@dataclass(slots=True)
class Served:
    """The record of everything sent and withheld. Symbols are named by :func:`~virtuoso.testing.symbol_key`.

    ``ws_trades`` / ``rest_trades``: trade ids in the order they went out (``aggTrades`` rows and
    ``aggTrade`` events count by their ``a`` id, which equals the trade id for capture-derived lists).
    ``ws_depth``: ``(U, u)`` of each depth update sent. ``snapshots``: every REST depth body sent.
    ``requests``: ``(path, query, status)`` of every REST request.
    ``exchange_infos``: exchangeInfo bodies served per path (a fault answering in their place is not one).
    ``market_changes``: every market change, in order (see :meth:`changes_seen`).
    """

    rest_trades: dict[str, list[int]] = field(default_factory=dict)
    ws_trades: dict[str, list[int]] = field(default_factory=dict)
    ws_depth: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    snapshots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    faults: list[AppliedFault] = field(default_factory=list)
    ws_messages: int = 0
    exchange_infos: dict[str, int] = field(default_factory=dict)
    market_changes: list[MarketChange] = field(default_factory=list)
    recorded_snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    _depth_frames: dict[str, list[Frame]] = field(default_factory=dict)

    def trade_ids(self, symbol: str, channel: str = "ws") -> list[int]:
        """The ids of ``symbol``'s trades sent over ``channel`` (``ws`` or ``rest``), in sending order."""
        return list((self.ws_trades if channel == "ws" else self.rest_trades).get(symbol, []))

    def withheld_trade_ids(self, symbol: str) -> list[int]:
        """The ids of ``symbol``'s trades that faults kept from the client."""
        return [tid for item in self.withheld if item.symbol == symbol for tid in item.trade_ids]

    def changes_seen(self, load: int, market: str = "spot") -> list[MarketChange]:
        """The changes of ``market`` in the body of its ``load``-th exchangeInfo served (counted from 1)."""
        return [c for c in self.market_changes if c.market == market and c.requests_before < load]

    def sent_frame(self, key: str, frame: Frame) -> None:
        """Note a WebSocket data frame that went out."""
        self.ws_messages += 1
        if frame.event in _TRADE_IDS:
            self.ws_trades.setdefault(key, []).append(int(frame.data[_TRADE_IDS[frame.event]]))
        elif frame.event == "depth":
            self.ws_depth.setdefault(key, []).append((int(frame.data["U"]), int(frame.data["u"])))
            self._depth_frames.setdefault(key, []).append(frame)

    def book_at_end(self, symbol: str) -> OrderBook:
        """The book a client holds after the last REST snapshot sent plus every depth update sent.

        Without a REST snapshot the recorded one is the base. Updates are judged by Binance's
        sync rules; at the first gap the book stops there (a client must resync).
        """
        sent = self.snapshots.get(symbol)
        if not sent and symbol not in self.recorded_snapshots:
            raise UsageError(f"no depth snapshot of {symbol!r} was served or recorded")
        base = sent[-1] if sent else self.recorded_snapshots[symbol]
        book = OrderBook(_levels(base["bids"]), _levels(base["asks"]))
        sync = DepthSync(SyncRule.FUTURES if "T" in base else SyncRule.SPOT)
        sync.on_snapshot(BookSnapshot((), (), int(base["lastUpdateId"])))
        for frame in self._depth_frames.get(symbol, []):
            verdict = sync.on_delta(_delta(frame.data)).verdict
            if verdict is Verdict.APPLY:
                book.apply(_levels(frame.data["b"]), _levels(frame.data["a"]))
            elif verdict is not Verdict.STALE:
                break
        return book


def _levels(levels: list[list[str]]) -> list[tuple[float, float]]:
    return [(float(price), float(size)) for price, size in levels]


def _delta(update: dict[str, Any]) -> BookDelta:
    previous = update.get("pu")
    return BookDelta((), (), int(update["U"]), int(update["u"]), None if previous is None else int(previous))
