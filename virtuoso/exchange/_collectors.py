"""Collectors: one loop per (symbol, channel), over WebSocket (ccxt.pro ``watch_*``) or REST polls.

Each loop calls the exchange through its guard, checks what comes back (see
``_validate``), normalizes it and publishes it. Any failure of one call (see
``_faults``: network, a bad answer, a stall; after the guard's retries) or an
open breaker marks the stream interrupted: books report a Gap and record a
fresh snapshot next (the resync); trade streams report a Gap where trade ids
turn out to be missing. Other errors leave :meth:`Collector.run` for the
channel's supervisor (``_supervisor``), which stops the symbol, ends the
recording, or restarts the channel, by whose fault it was.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from virtuoso.events import Bar, Event, Ticker, Trade, payload_problem
from virtuoso.exchange._books import BookDiffer
from virtuoso.exchange._config import Channel, RecordConfig
from virtuoso.exchange._emit import Emitter, timestamp_ns
from virtuoso.exchange._faults import CALL, BadAnswer, as_call_fault, fault_scope
from virtuoso.exchange._guard import Guard, is_transient, reopens_at_ns
from virtuoso.exchange._normalize import MS, bar_payload, ticker_payload
from virtuoso.exchange._secrets import Secrets
from virtuoso.exchange._stall import within_stall
from virtuoso.exchange._trades import TradePager, TradeTracker, numeric_id
from virtuoso.exchange._validate import (
    Rejections,
    candle_problem,
    event_time_problem,
    expect_book,
    expect_list,
    expect_mapping,
    time_problem,
    trade_problem,
)

T = TypeVar("T")
log = logging.getLogger("virtuoso.exchange")
NS = 1_000_000_000
FUTURES_CHAINED = frozenset({"binanceusdm", "binancecoinm"})
"""Exchanges whose first delta after a snapshot must contain the snapshot's update id (``pu`` chaining)."""


@dataclass(frozen=True)
class Wiring:
    """What every collector of one recording shares."""

    exchange: Any
    emitter: Emitter
    config: RecordConfig
    secrets: Secrets
    rejections: Rejections


class Collector(ABC):
    """The loop of one stream: :meth:`step` until cancelled; a failed call interrupts the stream, it does not stop."""

    channel_name = ""

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        self.w = wiring
        self.symbol = symbol
        self.channel = channel
        self.guard = guard
        self.websocket = websocket
        self.stream = wiring.emitter.stream(symbol, self.channel_name)
        self.stream_key = f"{self.stream}:{channel.timeframe}" if channel.timeframe else self.stream
        """The stream, with the timeframe of a bars channel: one name per channel of a symbol."""
        self.steps = 0
        """Calls answered and recorded so far (the supervisor resets its backoff when this moves)."""

    async def run(self) -> None:
        """Collect until cancelled; a failed call is waited out, anything else propagates to the supervisor."""
        while True:
            try:
                await self.step()
            except Exception as exc:
                if fault_scope(exc) != CALL:
                    raise
                log.warning("%s: %s; retrying", self.stream, self.reason(exc))
                await self.interrupt(exc)
                await asyncio.sleep(self._pause_s(exc))
            else:
                self.steps += 1

    @abstractmethod
    async def step(self) -> None:
        """One call to the exchange, and what it returned recorded."""

    async def interrupt(self, error: BaseException) -> None:  # noqa: B027  (a hook: most streams need nothing)
        """Data may be missing from now on (override to remember it or report a gap)."""

    async def drain(self) -> None:  # noqa: B027  (a hook: most streams need nothing)
        """At the end: record what ccxt received but no watch call has returned yet."""

    def reason(self, error: BaseException) -> str:
        """One line about ``error`` with every secret scrubbed out."""
        text = str(error).splitlines()[0] if str(error) else ""
        return self.w.secrets.scrub(f"{type(error).__name__}: {text}"[:300])

    async def call(
        self, operation: str, fn: Callable[[], Awaitable[Any]], check: Callable[[Any, str], T] | None = None
    ) -> T:
        """``fn`` through the guard, its answer's shape checked by ``check`` inside the guard.

        Whatever fails inside one call (ccxt's errors, a parse error inside
        ccxt, a wrong shape, a stall) is that call's fault: retried by the
        guard, counted by the breaker, and it interrupts the stream first.
        """
        config = self.w.config

        async def attempt() -> T:
            try:
                answer = await within_stall(
                    fn,
                    timeout_s=config.stall_timeout_s,
                    exchange=self.w.exchange,
                    websocket=self.websocket,
                    operation=operation,
                )
                return answer if check is None else check(answer, operation)
            except Exception as exc:
                fault = as_call_fault(exc, operation)
                if is_transient(fault):
                    await self.interrupt(fault)
                if fault is exc:
                    raise
                raise fault from exc

        result: T = await self.guard(attempt, operation=operation)
        return result

    async def reject(self, reason: str, sample: Any) -> None:
        """Count and note one item of an answer that is not recorded, for ``reason``."""
        await self.w.rejections.reject(self.stream, reason, sample)

    def time_problem(self, ts_event: int, ts_recv: int) -> str | None:
        """Why an exchange time is absurd next to its receive time (``[record] max_time_*_s``), or None."""
        config = self.w.config
        return time_problem(ts_event, ts_recv, ahead_s=config.max_time_ahead_s, behind_s=config.max_time_behind_s)

    async def pause(self) -> None:
        """Wait between REST polls (a WebSocket watch waits by itself)."""
        if not self.websocket:
            await asyncio.sleep(self.w.config.poll_interval_s)

    def _pause_s(self, error: BaseException) -> float:
        reopens = reopens_at_ns(error)
        if reopens is not None:
            return max(reopens - self.w.emitter.now_ns(), 0) / NS
        return min(self.w.config.poll_interval_s, 5.0)


class TradeCollector(Collector):
    """Trades: ``watch_trades``, or ``fetch_trades`` paged by id (or time) so each trade is recorded once."""

    channel_name = "trades"

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        super().__init__(wiring, symbol, channel, guard, websocket=websocket)
        self.tracker = TradeTracker(self.stream)
        config = wiring.config
        self.pager = TradePager(cursor_param=config.trades_cursor, limit=config.trades_limit)

    def restore(self, last_id: int | None, last_ts: int) -> None:
        """Continue after the last trade an earlier session of this log recorded on the stream."""
        self.tracker.last_id, self.tracker.last_ts = last_id, last_ts
        self.pager.last_id, self.pager.last_ms = last_id, (last_ts // MS if last_ts else None)

    async def interrupt(self, error: BaseException) -> None:
        self.tracker.interrupt(self.w.emitter.now_ns(), self.reason(error))

    async def step(self) -> None:
        exchange, symbol = self.w.exchange, self.symbol
        if self.websocket:
            await self.record(await self.call("watch_trades", lambda: exchange.watch_trades(symbol), expect_list))
            return
        since, params = self.pager.request()
        limit = self.pager.limit
        trades = await self.call(
            "fetch_trades", lambda: exchange.fetch_trades(symbol, since, limit, params), expect_list
        )
        before = (self.pager.last_id, self.pager.last_ms)
        accepted = await self.record(trades)
        self.pager.advance([{"id": _trade_id(e), "timestamp": e.ts_event // MS} for e in accepted])
        moved = (self.pager.last_id, self.pager.last_ms) != before
        if not (moved and len(trades) >= limit):  # a full page that moved the cursor: more is waiting
            await self.pause()

    async def drain(self) -> None:
        # ccxt.pro hands trades that arrive while nobody waits to the *next* watch
        # call, which never comes once we stop: take them from its cache.
        cached = (getattr(self.w.exchange, "trades", None) or {}).get(self.symbol) if self.websocket else None
        if cached:
            await self.record(list(cached))

    async def record(self, trades: Sequence[Any]) -> list[Event]:
        """Publish the new trades among ``trades`` (and the gaps they reveal); the valid ones, in id order.

        Invalid trades are rejected (counted and noted, never stored); the rest
        are taken in trade-id order when the venue numbers its trades, so a
        page out of order loses nothing and an id seen before is dropped.
        """
        emitter, tracker = self.w.emitter, self.tracker
        events = await self._valid_events(trades)
        for event in events:
            payload = event.payload
            assert isinstance(payload, Trade)  # _valid_events builds trade events only
            new, gap = tracker.accept(payload.trade_id, event.ts_event)
            if gap is not None:
                await emitter.gap(self.symbol, gap)
            if new:
                await emitter.publish(event)
        return events

    async def _valid_events(self, trades: Sequence[Any]) -> list[Event]:
        events: list[Event] = []
        for trade in trades:
            problem = trade_problem(trade)
            event = None if problem is not None else self.w.emitter.trade_event(self.stream, trade)
            if event is not None:
                problem = event_time_problem(
                    event, ahead_s=self.w.config.max_time_ahead_s, behind_s=self.w.config.max_time_behind_s
                )
            if problem is not None or event is None:
                await self.reject(problem or "not a trade", trade)
                continue
            events.append(event)
        return sorted(events, key=_trade_order)


class BookCollector(Collector):
    """Order books: ``watch_order_book`` or ``fetch_order_book`` polls, recorded as a snapshot, then deltas."""

    channel_name = "book"

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        super().__init__(wiring, symbol, channel, guard, websocket=websocket)
        config = wiring.config
        self.differ = BookDiffer(
            self.stream,
            snapshot_every_ns=int(config.book_snapshot_every_s * NS),
            futures_chain=config.exchange in FUTURES_CHAINED,
        )

    async def interrupt(self, error: BaseException) -> None:
        self.differ.interrupt(self.reason(error))

    async def drain(self) -> None:
        book = (getattr(self.w.exchange, "orderbooks", None) or {}).get(self.symbol) if self.websocket else None
        if book is not None and self.differ.in_sync and book.get("nonce") is not None:
            try:
                checked = expect_book(book, "drain")
            except BadAnswer as exc:
                await self.reject(str(exc), {"nonce": book.get("nonce")})
                return
            await self._record(checked)

    async def step(self) -> None:
        exchange, symbol, limit = self.w.exchange, self.symbol, self.w.config.book_limit
        if self.websocket:
            book = await self.call("watch_order_book", lambda: exchange.watch_order_book(symbol, limit), expect_book)
        else:
            book = await self.call("fetch_order_book", lambda: exchange.fetch_order_book(symbol, limit), expect_book)
        await self._record(book)
        await self.pause()

    async def _record(self, book: Mapping[str, Any]) -> None:
        emitter = self.w.emitter
        now = emitter.now_ns()
        stamp = book.get("timestamp")
        ts_event = timestamp_ns(book, now) if isinstance(stamp, int | None) else now
        problem = self.time_problem(ts_event, now)
        if problem is not None:
            await self.reject(problem, {k: book.get(k) for k in ("timestamp", "nonce")})
            self.differ.interrupt(f"book rejected: {problem}")
            return
        gap, payload = self.differ.on_book(book, now, ts_event)
        if gap is not None:
            await emitter.gap(self.symbol, gap)
        problem = None if payload is None else payload_problem(payload)
        if problem is not None:
            await self.reject(problem, {k: book.get(k) for k in ("timestamp", "nonce")})
            self.differ.interrupt(f"book rejected: {problem}")
        elif payload is not None:
            await emitter.emit(self.stream, payload, ts_event)


class BarCollector(Collector):
    """OHLCV candles of one timeframe; a candle is recorded once, closed, when the next one opens."""

    channel_name = "bars"

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        super().__init__(wiring, symbol, channel, guard, websocket=websocket)
        self.timeframe = channel.timeframe or "1m"
        self._current: Sequence[Any] | None = None
        self._last_open: int | None = None

    async def step(self) -> None:
        exchange, symbol, timeframe = self.w.exchange, self.symbol, self.timeframe
        if self.websocket:
            candles = await self.call("watch_ohlcv", lambda: exchange.watch_ohlcv(symbol, timeframe), expect_list)
        else:
            since = self._last_open
            candles = await self.call(
                "fetch_ohlcv", lambda: exchange.fetch_ohlcv(symbol, timeframe, since), expect_list
            )
        for bar in self.closed_bars(await self._valid(candles)):
            problem = payload_problem(bar) or self.time_problem(bar.open_ns, self.w.emitter.now_ns())
            if problem is not None:
                await self.reject(problem, bar)
                continue
            await self.w.emitter.emit(self.stream, bar, bar.open_ns, key=f"{self.timeframe}:{bar.open_ns}")
        await self.pause()

    async def _valid(self, candles: Sequence[Any]) -> list[Sequence[Any]]:
        valid = []
        for candle in candles:
            problem = candle_problem(candle)
            if problem is None:
                valid.append(candle)
            else:
                await self.reject(problem, candle)
        return valid

    def closed_bars(self, candles: Sequence[Sequence[Any]]) -> list[Bar]:
        """The candles that closed: each candle older than the newest one seen, once."""
        closed: list[Bar] = []
        for candle in sorted(candles, key=lambda c: int(c[0])):
            opened = int(candle[0])
            if self._last_open is not None and opened <= self._last_open:
                continue
            current = self._current
            if current is not None and opened > int(current[0]):
                closed.append(bar_payload(current, self.timeframe))
                self._last_open = int(current[0])
            self._current = candle
        return closed


class TickerCollector(Collector):
    """Tickers: ``watch_ticker`` or ``fetch_ticker`` polls; an unchanged ticker is not recorded again."""

    channel_name = "ticker"

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        super().__init__(wiring, symbol, channel, guard, websocket=websocket)
        self._last: Ticker | None = None

    async def step(self) -> None:
        exchange, symbol = self.w.exchange, self.symbol
        if self.websocket:
            ticker = await self.call("watch_ticker", lambda: exchange.watch_ticker(symbol), expect_mapping)
        else:
            ticker = await self.call("fetch_ticker", lambda: exchange.fetch_ticker(symbol), expect_mapping)
        await self._record(ticker)
        await self.pause()

    async def _record(self, ticker: Mapping[str, Any]) -> None:
        emitter = self.w.emitter
        now = emitter.now_ns()
        try:
            payload = ticker_payload(ticker)
            ts_event = timestamp_ns(ticker, now)
        except (TypeError, ValueError, OverflowError) as exc:
            await self.reject(f"ticker field is not a number: {exc}", ticker)
            return
        problem = payload_problem(payload) or self.time_problem(ts_event, now)
        if problem is not None:
            await self.reject(problem, ticker)
        elif payload != self._last:
            self._last = payload
            await emitter.emit(self.stream, payload, ts_event)


def _trade_id(event: Event) -> str:
    payload = event.payload
    return payload.trade_id if isinstance(payload, Trade) else ""


def _trade_order(event: Event) -> int:
    """Trade-id order for venues that number trades (unnumbered ones keep their order: the sort is stable)."""
    payload = event.payload
    number = numeric_id(payload.trade_id) if isinstance(payload, Trade) else None
    return -1 if number is None else number


COLLECTORS: dict[str, type[Collector]] = {
    "trades": TradeCollector,
    "book": BookCollector,
    "ohlcv": BarCollector,
    "ticker": TickerCollector,
}

WATCH_METHODS = {"trades": "watchTrades", "book": "watchOrderBook", "ohlcv": "watchOHLCV", "ticker": "watchTicker"}
"""The ccxt ``has`` capability each channel needs for WebSocket mode."""
