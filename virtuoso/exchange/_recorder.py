"""Recorder: the live :class:`~virtuoso.app.EventSource`, one collector per (symbol, channel).

The recorder publishes through the runtime like any source, so its events go
over the same bus, reach the same processor handlers and are written by the
same :class:`~virtuoso.bus.StoreRecorder` as in every other run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from virtuoso.clock import Clock
from virtuoso.events import ComponentHealth, Trade
from virtuoso.exchange._collectors import (
    COLLECTORS,
    WATCH_METHODS,
    BookCollector,
    Collector,
    TradeCollector,
    Wiring,
)
from virtuoso.exchange._config import Channel, RecordConfig
from virtuoso.exchange._emit import Emitter, Publisher
from virtuoso.exchange._faults import as_call_fault
from virtuoso.exchange._guard import GuardFactory, passthrough_factory
from virtuoso.exchange._marketdata import TICK_SIZE
from virtuoso.exchange._markets import MarketsCache, markets_stream
from virtuoso.exchange._marketswatch import MarketsWatch
from virtuoso.exchange._secrets import Secrets
from virtuoso.exchange._supervisor import Supervisor
from virtuoso.exchange._trades import numeric_id
from virtuoso.exchange._validate import Rejections
from virtuoso.store import DroppedSpan, EventFilter, EventStore


class Recorder:
    """Records ``config``'s symbols and channels from the ccxt instance ``exchange`` until :meth:`stop`.

    ``guards`` makes the guard of each stream (breaker, retries, error
    translation); ``store``, when given, is read at the start so a trade poll
    continues after the last trade an earlier session recorded, and so the
    markets can come from the log when the exchange cannot be asked;
    ``markets_cache`` is the markets cache file (see :class:`MarketsCache`).
    """

    def __init__(
        self,
        config: RecordConfig,
        exchange: Any,
        clock: Clock,
        *,
        guards: GuardFactory = passthrough_factory,
        store: EventStore | None = None,
        markets_cache: Path | None = None,
    ) -> None:
        self.config = config
        self.exchange = exchange
        self._clock = clock
        self._guards = guards
        self._store = store
        self._markets_cache = markets_cache
        self._stop = asyncio.Event()
        self.secrets = Secrets.of(config)
        self.collectors: list[Collector] = []
        self.markets: MarketsWatch | None = None
        self.supervisor: Supervisor | None = None
        self.rejections: Rejections | None = None
        self.emitter: Emitter | None = None

    def use_guards(self, guards: GuardFactory) -> None:
        """Guard the exchange calls with ``guards`` from now on (before :meth:`run`)."""
        self._guards = guards

    def stop(self) -> None:
        """End the recording: the collectors are cancelled and :meth:`run` returns (safe to call from a signal)."""
        self._stop.set()

    async def run(self, runtime: Publisher, session: str) -> None:
        """Load and write the markets, then collect every stream until :meth:`stop`.

        Each channel runs under the :class:`Supervisor`: a symbol the exchange
        no longer lists stops alone; an error for the whole recording (refused
        credentials), or every symbol stopped, is raised.
        """
        config = self.config
        emitter = self.emitter = Emitter(runtime, self._clock, session=session, exchange=config.exchange)
        self.rejections = Rejections(emitter, self.secrets, config.rejected_note_interval_s)
        wiring = Wiring(self.exchange, emitter, config, self.secrets, self.rejections)
        self.collectors = [
            self._collector(wiring, symbol, channel) for symbol in config.symbols for channel in config.channels
        ]
        self.supervisor = Supervisor(
            self.collectors, emitter, self._clock, base_s=config.restart_base_s, max_s=config.restart_max_s
        )
        self.markets = MarketsWatch(
            self._markets_cache_of(), emitter, self.exchange, config.symbols, self.secrets, on_gone=self._gone
        )
        await self.markets.start()
        await self._restore()
        await self._supervise()

    def switch_session(self, session: str) -> None:
        """Stamp what is received from now on with ``session`` (a rotation), the collectors running on: trades
        carry on where they are, and each book starts the new session with a full snapshot."""
        if self.emitter is not None:
            self.emitter.switch_session(session)
        for collector in self.collectors:
            if isinstance(collector, BookCollector):
                collector.differ.snapshot_next()

    async def _gone(self, symbol: str, reason: str) -> None:
        if self.supervisor is not None:
            await self.supervisor.stop_symbol(symbol, reason)

    def channels_health(self) -> list[ComponentHealth]:
        """One health entry per channel (none before the recording started)."""
        return [] if self.supervisor is None else self.supervisor.health()

    def _markets_cache_of(self) -> MarketsCache:
        return MarketsCache(
            self.config.exchange,
            self._load_markets,
            self._clock,
            guard=self._guards(markets_stream(self.config.exchange)),
            store=self._store,
            cache_file=self._markets_cache,
            ttl_s=self.config.markets_ttl_s,
            precision_mode=getattr(self.exchange, "precisionMode", TICK_SIZE),
        )

    async def _load_markets(self) -> Any:
        # An answer ccxt cannot read (truncated, an HTML page with status 200) is that call's fault, retried
        # like any channel's call; raised as ccxt's bare ExchangeError it would have ended the recording.
        try:
            return await self.exchange.load_markets(reload=True)
        except Exception as exc:
            fault = as_call_fault(exc, "load_markets")
            if fault is exc:
                raise
            raise fault from exc

    def log_dropped(self, spans: Sequence[DroppedSpan]) -> None:
        """The log refused writes long enough for events of ``spans`` to be dropped (each declared as a Gap):
        books on those streams start again from a fresh snapshot, since their dropped deltas are gone."""
        streams = {span.stream for span in spans}
        for collector in self.collectors:
            if isinstance(collector, BookCollector) and collector.stream in streams:
                collector.differ.interrupt("deltas dropped while the log refused writes")

    def markets_health(self) -> list[ComponentHealth]:
        """The markets' health entry (none before the recording has loaded them)."""
        return [] if self.markets is None else self.markets.health()

    def websocket_for(self, channel: Channel) -> bool:
        """Whether ``channel`` is watched over WebSocket (``ws`` mode and the exchange can), else polled."""
        if self.config.mode != "ws":
            return False
        has = getattr(self.exchange, "has", {}) or {}
        return bool(has.get(WATCH_METHODS[channel.kind]))

    def _collector(self, wiring: Wiring, symbol: str, channel: Channel) -> Collector:
        kind = COLLECTORS[channel.kind]
        stream = wiring.emitter.stream(symbol, kind.channel_name)
        name = f"{stream}:{channel.timeframe}" if channel.timeframe else stream
        return kind(wiring, symbol, channel, self._guards(name), websocket=self.websocket_for(channel))

    async def _restore(self) -> None:
        if self._store is None:
            return
        for collector in self.collectors:
            if isinstance(collector, TradeCollector):
                last = await last_trade(self._store, collector.stream)
                if last is not None:
                    collector.restore(*last)

    async def _supervise(self) -> None:
        assert self.supervisor is not None  # run() built it
        tasks = [asyncio.create_task(self.supervisor.run(), name="channels")]
        if self.markets is not None:
            tasks.append(asyncio.create_task(self.markets.refresh_forever(), name=self.markets.stream))
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, stopper]:
                task.cancel()
            results = await asyncio.gather(*tasks, stopper, return_exceptions=True)
        failure = next((result for result in results if isinstance(result, Exception)), None)
        if failure is None:
            for collector in self.collectors:
                await collector.drain()
        if self.rejections is not None:
            await self.rejections.flush()
        if failure is not None:
            raise failure


async def last_trade(store: EventStore, stream: str) -> tuple[int | None, int] | None:
    """The numeric id and exchange time of the last trade recorded on ``stream`` by any session, if any."""
    event = await store.last_event(EventFilter(streams=(stream,), types=(Trade.TYPE,)))
    if event is None or not isinstance(event.payload, Trade):
        return None
    return numeric_id(event.payload.trade_id), event.ts_event
