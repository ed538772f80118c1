"""Collectors: one loop per (symbol, channel), over WebSocket (ccxt.pro ``watch_*``) or REST polls.

Each loop calls the exchange through its guard, normalizes what comes back and
publishes it. A transient failure (after the guard's retries) or an open
breaker marks the stream interrupted: books report a Gap at once and record a
fresh snapshot next (the resync); trade streams report a Gap where trade ids
turn out to be missing. Any other error ends the recording.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from virtuoso.events import Bar, Ticker
from virtuoso.exchange._books import BookDiffer
from virtuoso.exchange._config import Channel, RecordConfig
from virtuoso.exchange._emit import Emitter, timestamp_ns
from virtuoso.exchange._guard import Guard, is_transient, reopens_at_ns
from virtuoso.exchange._normalize import MS, bar_payload, ticker_payload
from virtuoso.exchange._secrets import Secrets
from virtuoso.exchange._trades import TradePager, TradeTracker

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


class Collector(ABC):
    """The loop of one stream: :meth:`step` until cancelled; transient trouble interrupts, it does not stop."""

    channel_name = ""

    def __init__(self, wiring: Wiring, symbol: str, channel: Channel, guard: Guard, *, websocket: bool) -> None:
        self.w = wiring
        self.symbol = symbol
        self.channel = channel
        self.guard = guard
        self.websocket = websocket
        self.stream = wiring.emitter.stream(symbol, self.channel_name)

    async def run(self) -> None:
        """Collect until cancelled; a permanent error propagates."""
        while True:
            try:
                await self.step()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("%s: %s; retrying", self.stream, self.reason(exc))
                await self.interrupt(exc)
                await asyncio.sleep(self._pause_s(exc))

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

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn`` through the guard; each failed attempt interrupts the stream before the guard retries."""

        async def attempt() -> T:
            try:
                return await fn()
            except Exception as exc:
                if is_transient(exc):
                    await self.interrupt(exc)
                raise

        return await self.guard(attempt, operation=operation)

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
            await self.record(await self.call("watch_trades", lambda: exchange.watch_trades(symbol)))
            return
        since, params = self.pager.request()
        limit = self.pager.limit
        trades = await self.call("fetch_trades", lambda: exchange.fetch_trades(symbol, since, limit, params))
        await self.record(trades)
        if not self.pager.advance(trades):
            await self.pause()

    async def drain(self) -> None:
        # ccxt.pro hands trades that arrive while nobody waits to the *next* watch
        # call, which never comes once we stop: take them from its cache.
        cached = (getattr(self.w.exchange, "trades", None) or {}).get(self.symbol) if self.websocket else None
        if cached:
            await self.record(list(cached))

    async def record(self, trades: Sequence[Mapping[str, Any]]) -> None:
        """Publish the new trades among ``trades`` (and the gaps they reveal)."""
        emitter, tracker = self.w.emitter, self.tracker
        for trade in trades:
            event = emitter.trade_event(self.stream, trade)
            new, gap = tracker.accept(event.payload.trade_id, event.ts_event)  # type: ignore[attr-defined]
            if gap is not None:
                await emitter.gap(self.symbol, gap)
            if new:
                await emitter.publish(event)


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
            await self._record(book)

    async def step(self) -> None:
        exchange, symbol, limit = self.w.exchange, self.symbol, self.w.config.book_limit
        if self.websocket:
            book = await self.call("watch_order_book", lambda: exchange.watch_order_book(symbol, limit))
        else:
            book = await self.call("fetch_order_book", lambda: exchange.fetch_order_book(symbol, limit))
        await self._record(book)
        await self.pause()

    async def _record(self, book: Mapping[str, Any]) -> None:
        emitter = self.w.emitter
        now = emitter.now_ns()
        ts_event = timestamp_ns(book, now)
        gap, payload = self.differ.on_book(book, now, ts_event)
        if gap is not None:
            await emitter.gap(self.symbol, gap)
        if payload is not None:
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
            candles = await self.call("watch_ohlcv", lambda: exchange.watch_ohlcv(symbol, timeframe))
        else:
            since = self._last_open
            candles = await self.call("fetch_ohlcv", lambda: exchange.fetch_ohlcv(symbol, timeframe, since))
        for bar in self.closed_bars(candles):
            await self.w.emitter.emit(self.stream, bar, bar.open_ns, key=f"{self.timeframe}:{bar.open_ns}")
        await self.pause()

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
            ticker = await self.call("watch_ticker", lambda: exchange.watch_ticker(symbol))
        else:
            ticker = await self.call("fetch_ticker", lambda: exchange.fetch_ticker(symbol))
        payload = ticker_payload(ticker)
        if payload != self._last:
            self._last = payload
            emitter = self.w.emitter
            await emitter.emit(self.stream, payload, timestamp_ns(ticker, emitter.now_ns()))
        await self.pause()


COLLECTORS: dict[str, type[Collector]] = {
    "trades": TradeCollector,
    "book": BookCollector,
    "ohlcv": BarCollector,
    "ticker": TickerCollector,
}

WATCH_METHODS = {"trades": "watchTrades", "book": "watchOrderBook", "ohlcv": "watchOHLCV", "ticker": "watchTicker"}
"""The ccxt ``has`` capability each channel needs for WebSocket mode."""
