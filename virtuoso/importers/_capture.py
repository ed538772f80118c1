"""``binance-capture``: raw Binance WebSocket captures, ``<receive time ns> <raw JSON>`` per line.

Lines are combined-stream frames ``{"stream": ..., "data": ...}`` (``trade``,
``aggTrade``, diff-depth ``depth``/``depth@100ms``/``depth@0ms``, ``bookTicker``,
``kline_*``) and the unwrapped REST depth snapshot the recorder fetched. Each
frame is decoded by msgspec straight into a typed struct of its channel (prices
from their strings to floats on the way), which is what keeps the import close
to the speed of merely parsing the lines. Frames of other streams are skipped
and counted.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, NoReturn

import msgspec

from virtuoso.book import SyncRule
from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import Bar, BookDelta, BookSnapshot, Event, Level, Quote, Trade, stream_name
from virtuoso.importers._output import CHUNK, MAX_NS, PARSE_ERRORS, BadValue, check_event
from virtuoso.importers._peek import PEEK_LINES, Peek, market_from_name, refuse_contradiction, symbol_at
from virtuoso.importers._plan import FileJob, FilePlan, Options
from virtuoso.importers._source import Opened, SourceFile, numbered_lines, open_source, text_blocks
from virtuoso.importers._symbols import EXCHANGES, Market, unified_symbol

MS = 1_000_000
INF = math.inf
_FRAME = b'{"stream":"'


# -- the wire shapes (unknown fields are ignored) ----------------------------------


class _Trade(msgspec.Struct, gc=False):
    T: int
    t: int
    p: float
    q: float
    m: bool


class _AggTrade(msgspec.Struct, gc=False):
    T: int
    a: int
    p: float
    q: float
    m: bool


# The levels of a diff-depth frame are checked by msgspec while it decodes them (in C):
# the value rules of a BookDelta's levels (a finite price > 0, a finite amount >= 0;
# NaN fails both), at no cost per level in Python.
_FINITE = sys.float_info.max
_DeltaLevel = tuple[Annotated[float, msgspec.Meta(gt=0, le=_FINITE)], Annotated[float, msgspec.Meta(ge=0, le=_FINITE)]]


class _Depth(msgspec.Struct, gc=False):
    E: int
    U: int
    u: int
    b: tuple[_DeltaLevel, ...]
    a: tuple[_DeltaLevel, ...]
    pu: int | None = None


class _BookTicker(msgspec.Struct, gc=False):
    u: int
    b: float
    B: float
    a: float
    A: float
    T: int | None = None
    E: int | None = None


class _Candle(msgspec.Struct, gc=False):
    t: int
    i: str
    o: float
    h: float
    l: float  # noqa: E741 - Binance's field name
    c: float
    v: float
    n: int
    x: bool


class _Kline(msgspec.Struct, gc=False):
    E: int
    k: _Candle


class _Snapshot(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    E: int | None = None


class _Head(msgspec.Struct, gc=False):
    stream: str = ""
    lastUpdateId: int | None = None


def _frame_decoder(data: type) -> msgspec.json.Decoder[Any]:
    frame = msgspec.defstruct(f"Frame{data.__name__}", [("data", data)], gc=False)
    # strict=False: Binance sends prices and amounts as strings; they decode straight to floats.
    return msgspec.json.Decoder(frame, strict=False)


_SHAPES: dict[str, type] = {
    "trade": _Trade, "aggtrades": _AggTrade, "depth": _Depth, "quotes": _BookTicker, "bars": _Kline,
}  # fmt: skip
_DECODERS = {kind: _frame_decoder(shape) for kind, shape in _SHAPES.items()}
_HEAD = msgspec.json.Decoder(_Head)
_SNAPSHOT = msgspec.json.Decoder(_Snapshot, strict=False)


# -- per-file state ----------------------------------------------------------------


@dataclass(slots=True)
class _Route:
    """Where the frames of one capture stream (``btcusdt@trade``) go, and how many went."""

    handle: Callable[[_Route, Any, int], None]
    decoder: msgspec.json.Decoder[Any] | None
    stream: str = ""
    gaps: str = ""
    ids: Callable[[int], str] = str
    type_name: str = ""
    count: int = 0


@dataclass
class _Market:
    """The unified symbol and streams of one market id (``BTCUSDT``) in a file."""

    symbol: str
    exchange: str
    streams: dict[str, str] = field(default_factory=dict)

    def stream(self, channel: str) -> str:
        name = self.streams.get(channel)
        if name is None:
            name = self.streams[channel] = stream_name(self.exchange, self.symbol, channel)
        return name


_CHANNEL_KINDS = {
    "trade": ("trade", "trades", "Trade"),
    "aggTrade": ("aggtrades", "aggtrades", "Trade"),
    "depth": ("depth", "book", "BookDelta"),
    "bookTicker": ("quotes", "quotes", "Quote"),
    "kline": ("bars", "bars", "Bar"),
}


class _FileImport:
    """The import of one capture file: lines to events, in chunks."""

    def __init__(self, job: FileJob) -> None:
        source, plan, options, out, continuity = job.source, job.plan, job.options, job.out, job.continuity
        self._label = source.label
        self._market: Market = "usdm" if plan.exchange == EXCHANGES["usdm"] else "spot"
        self._rule = SyncRule.FUTURES if self._market == "usdm" else SyncRule.SPOT
        self._exchange = plan.exchange
        self._symbol = options.symbol
        self._out = out
        self._session = out.session
        self._append = out.chunk.append
        self._continuity = continuity
        continuity.attach(out, self._rule)
        self._routes: dict[bytes, _Route] = {}
        self._markets: dict[str, _Market] = {}
        self._file_market = plan.market_id
        self._handlers: dict[str, Callable[[_Route, Any, int], None]] = {
            "trade": self._on_trade,
            "aggtrades": self._on_agg_trade,
            "depth": self._on_depth,
            "quotes": self._on_quote,
            "bars": self._on_bar,
        }
        self._line = 0

    def chunks(self, opened: Opened) -> Iterator[list[Event]]:
        """The file's events, a chunk at a time."""
        out = self._out
        chunk = out.chunk
        number = 0  # lines before the block at hand
        for text in text_blocks(opened.stream):
            lines = text.split(b"\n")
            self._lines(lines, number)
            number += len(lines)
            while len(chunk) >= CHUNK:
                yield out.take()
        for route in self._routes.values():
            if route.count:
                out.counts[route.type_name] += route.count
        if chunk:
            yield out.take()

    def _lines(self, lines: list[bytes], number: int) -> None:
        """Events of a block of lines; ``number`` lines came before it.

        Whatever a line makes go wrong (bad JSON, a value the log refuses, bytes
        that are not UTF-8, a number too large) becomes one ImportFormatError naming it.
        """
        routes = self._routes
        ts_recv = 0
        try:
            for line in lines:
                number += 1
                ts_text, _, body = line.partition(b" ")
                try:
                    ts_recv = int(ts_text)
                except ValueError:
                    if line.strip():
                        self._fail_at(number, "expected '<receive time in ns> <JSON message>'")
                    continue
                if not 0 < ts_recv <= MAX_NS:
                    self._fail_at(number, f"receive time {ts_recv} is not a time in ns from 1 to 2**63-1")
                # The stream name of a combined-stream frame, read without decoding: {"stream":"<name>",...
                route = routes.get(body[11 : body.find(b'"', 11)])
                if route is None:
                    self._line = number
                    route = self._new_route(body)
                if route.decoder is None:
                    self._line = number
                    route.handle(route, body, ts_recv)
                    continue
                frame = route.decoder.decode(body)
                route.handle(route, frame.data, ts_recv)
        except ImportFormatError:
            raise
        except BadValue as exc:
            self._fail_at(number, f"{exc.stream}: {exc}")
        except msgspec.DecodeError as exc:  # ValidationError is one too
            self._fail_at(number, f"{_stream_of(body)}: {exc}")
        except UnicodeDecodeError as exc:
            self._fail_at(number, f"not UTF-8 text ({exc.reason}, byte {exc.start})")
        except PARSE_ERRORS as exc:
            raise ImportFormatError(self._label, number, f"{type(exc).__name__}: {exc}") from exc
        self._out.last_recv = max(self._out.last_recv, ts_recv)

    def _new_route(self, body: bytes) -> _Route:
        if body.startswith(_FRAME):
            return self._route(body[11 : body.find(b'"', 11)])
        return self._unframed(body)

    # -- routing -------------------------------------------------------------------

    def _unframed(self, body: bytes) -> _Route:
        try:
            head = _HEAD.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._fail(f"invalid JSON: {exc}")
        if head.stream:
            key = head.stream.encode()
            return self._routes.get(key) or self._route(key)
        if head.lastUpdateId is not None:
            return _Route(self._on_snapshot, None)
        return self._fail("neither a combined-stream frame nor a REST depth snapshot")

    def _route(self, key: bytes) -> _Route:
        market_id, _, channel = key.decode().partition("@")
        base = (
            "depth"
            if channel.startswith("depth@")
            else channel.split("_")[0]
            if channel.startswith("kline_")
            else channel
        )
        known = _CHANNEL_KINDS.get(base)
        if known is None:
            route = self._routes[key] = _Route(self._on_unsupported, None)
            return route
        kind, out_channel, type_name = known
        market = self._market_of(market_id.upper())
        stream = market.stream(out_channel)
        route = _Route(
            self._handlers[kind],
            _DECODERS[kind],
            stream,
            market.stream("gaps"),
            self._out.ids(stream),
            type_name,
        )
        self._routes[key] = route
        return route

    def _market_of(self, market_id: str) -> _Market:
        market = self._markets.get(market_id)
        if market is None:
            if self._symbol and self._markets:
                self._fail(f"a second market {market_id} in a capture imported with --symbol {self._symbol}")
            symbol = self._symbol or self._unified(market_id)
            market = self._markets[market_id] = _Market(symbol, self._exchange)
        return market

    def _unified(self, market_id: str) -> str:
        try:
            return unified_symbol(market_id, self._market)
        except UsageError as exc:
            return self._fail(str(exc))

    # -- handlers (the hot path: each builds its event inline) ---------------------

    # The value rules (virtuoso.events.event_problem) written inline for the two payloads
    # that make most lines: the general check costs several times the event itself. Only
    # a value these comparisons doubt goes to event_problem, which then names the reason.

    def _on_trade(self, route: _Route, msg: _Trade, ts_recv: int) -> None:
        ts_event = msg.T * MS
        trade = Trade(msg.p, msg.q, "sell" if msg.m else "buy", str(msg.t))
        event = Event(route.ids(ts_event), route.stream, ts_event, ts_recv, self._session, trade)
        if not (0.0 < msg.p < INF and 0.0 < msg.q < INF and 0 < ts_event <= MAX_NS):
            check_event(event)
        self._append(event)
        route.count += 1
        self._continuity.trade(route.stream, route.gaps, msg.t, ts_event, ts_recv)

    def _on_agg_trade(self, route: _Route, msg: _AggTrade, ts_recv: int) -> None:
        ts_event = msg.T * MS
        trade = Trade(msg.p, msg.q, "sell" if msg.m else "buy", str(msg.a))
        event = Event(route.ids(ts_event), route.stream, ts_event, ts_recv, self._session, trade)
        if not (0.0 < msg.p < INF and 0.0 < msg.q < INF and 0 < ts_event <= MAX_NS):
            check_event(event)
        self._append(event)
        route.count += 1
        self._continuity.trade(route.stream, route.gaps, msg.a, ts_event, ts_recv)

    def _on_depth(self, route: _Route, msg: _Depth, ts_recv: int) -> None:
        ts_event = msg.E * MS
        delta = BookDelta(msg.b, msg.a, msg.U, msg.u, msg.pu)
        event = Event(route.ids(ts_event), route.stream, ts_event, ts_recv, self._session, delta)
        pu = msg.pu
        if not (0 <= msg.U <= msg.u <= MAX_NS and 0 < ts_event <= MAX_NS and (pu is None or 0 <= pu <= MAX_NS)):
            check_event(event)
        self._append(event)
        route.count += 1
        self._continuity.delta(route.stream, route.gaps, delta, ts_event, ts_recv)

    def _on_quote(self, route: _Route, msg: _BookTicker, ts_recv: int) -> None:
        # Spot bookTicker carries no exchange time: ts_event is then the receive time.
        exchange_ms = msg.T or msg.E
        ts_event = exchange_ms * MS if exchange_ms else ts_recv
        quote = Quote(msg.b, msg.B, msg.a, msg.A, msg.u)
        event = Event(route.ids(ts_event), route.stream, ts_event, ts_recv, self._session, quote)
        if not (
            0.0 < msg.b < INF
            and 0.0 <= msg.B < INF
            and 0.0 < msg.a < INF
            and 0.0 <= msg.A < INF
            and 0 <= msg.u <= MAX_NS
            and 0 < ts_event <= MAX_NS
        ):
            check_event(event)
        self._append(event)
        route.count += 1

    def _on_bar(self, route: _Route, msg: _Kline, ts_recv: int) -> None:
        k = msg.k
        ts_event = msg.E * MS
        bar = Bar(k.i, k.t * MS, k.o, k.h, k.l, k.c, k.v, k.n, k.x)
        event = Event(route.ids(ts_event), route.stream, ts_event, ts_recv, self._session, bar)
        check_event(event)
        self._append(event)
        route.count += 1

    def _on_unsupported(self, route: _Route, body: bytes, ts_recv: int) -> None:
        # Skipped, but only whole: a line cut inside its stream name lands here too.
        _HEAD.decode(body)
        self._out.skipped += 1

    def _on_snapshot(self, route: _Route, body: bytes, ts_recv: int) -> None:
        try:
            msg = _SNAPSHOT.decode(body)
        except msgspec.DecodeError as exc:  # ValidationError is one too
            self._fail(f"REST depth snapshot: {exc}")
        market = self._snapshot_market()
        # The spot REST snapshot carries no exchange time: ts_event is then the receive time.
        ts_event = msg.E * MS if msg.E else ts_recv
        snapshot = BookSnapshot(msg.bids, msg.asks, msg.lastUpdateId)
        book, gaps = market.stream("book"), market.stream("gaps")
        self._out.emit(book, ts_event, ts_recv, snapshot)
        self._continuity.snapshot(book, gaps, snapshot, ts_event, ts_recv)

    def _snapshot_market(self) -> _Market:
        # A REST snapshot names no market: it belongs to the one market of the capture.
        if len(self._markets) == 1:
            return next(iter(self._markets.values()))
        if self._markets:
            self._fail(f"a REST depth snapshot in a capture of several markets ({', '.join(sorted(self._markets))})")
        if self._file_market:
            return self._market_of(self._file_market)
        return self._fail("a REST depth snapshot before any frame names the market: pass --symbol")

    def _fail(self, what: str) -> NoReturn:
        raise ImportFormatError(self._label, self._line, what)

    def _fail_at(self, line: int, what: str) -> NoReturn:
        raise ImportFormatError(self._label, line, what)


# -- the format ----------------------------------------------------------------------


class CaptureFormat:
    """The ``binance-capture`` format."""

    name = "binance-capture"

    def inspect(self, source: SourceFile, options: Options) -> FilePlan:
        """Peek at the first lines: spot or USD-M, the markets and channels, the first receive time.

        A first line that is not ``<receive time> <JSON>`` (a fake or foreign file), a
        market id no symbol can be made of, and a ``--symbol`` or ``--exchange`` that
        contradicts what the file names (unless ``options.force``) are refused here,
        before anything is written.
        """
        peek = Peek(source.label)
        with open_source(source) as opened:
            for number, line in numbered_lines(opened.stream):
                if number > PEEK_LINES:
                    break
                peek.line(number, line)
        market: Market = options.market or peek.market or "spot"
        found = {m: symbol_at(source, line, m, market) for m, line in sorted(peek.markets.items())}
        if options.symbol and not options.force:
            refuse_contradiction(source, "--symbol", options.symbol, sorted(set(found.values())))
        if options.market and peek.market and options.market != peek.market and not options.force:
            named = EXCHANGES[peek.market]
            raise UsageError(
                f"{source.label}: the file is a {peek.market} capture ({named}), not {options.exchange}:"
                " pass --force to import it as that exchange anyway"
            )
        symbols = [options.symbol] if options.symbol else list(found.values())
        return FilePlan(
            exchange=EXCHANGES[market],
            symbols=tuple(symbols),
            channels=tuple(sorted(peek.channels)),
            first_ts=peek.first_ts,
            market_id=market_from_name(source) if not peek.markets else "",
        )

    def chunks(self, job: FileJob, opened: Opened) -> Iterator[list[Event]]:
        """The events of one file, in chunks."""
        return _FileImport(job).chunks(opened)


def _stream_of(body: bytes) -> str:
    """The stream a frame names, for an error message (``"message"`` when it names none)."""
    if not body.startswith(_FRAME):
        return "message"
    return body[11 : body.find(b'"', 11)].decode(errors="replace")
