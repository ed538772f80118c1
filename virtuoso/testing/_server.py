"""``LoopbackExchange``: a Binance lookalike on 127.0.0.1 serving recorded payloads, with scheduled faults."""

from __future__ import annotations

import asyncio
import bisect
import functools
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from virtuoso.clock import Clock, LiveClock
from virtuoso.errors import UsageError
from virtuoso.testing._book import DepthState
from virtuoso.testing._capture import DEFAULT_CAPTURES, Capture, agg_trade, load_captures, rest_trade
from virtuoso.testing._ccxt import ccxt_config
from virtuoso.testing._chaos import Chaos, ChaosConfig
from virtuoso.testing._faults import FaultSchedule
from virtuoso.testing._laps import Laps
from virtuoso.testing._markets import MarketRules
from virtuoso.testing._rest import RestApi
from virtuoso.testing._restdata import SPOT_INFOS, RestData, load_rest_data
from virtuoso.testing._restfaults import fault_middleware
from virtuoso.testing._served import MarketChange, Served
from virtuoso.testing._trades import TradeList
from virtuoso.testing._ws import Playback, ws_handler

Sleep = Callable[[float], Awaitable[None]]
TRADE_SOURCES = ("capture", "gct")
_SHUTDOWN_S = 0.5  # stop() cancels handlers still running after this (a slow-answer fault's sleep)


class LoopbackExchange:
    """A local Binance (spot REST + WebSocket, futures where captures exist) that ccxt can talk to.

    ``data_dir`` is the shared data directory (see ``docs/loopback.md`` for which file serves what).
    ``speed`` divides the recorded gaps between WebSocket messages (0: as fast as possible) and
    paces when recorded trades appear on REST. ``faults`` schedules errors; ``chaos=SEED`` also
    draws faults at random from the whole catalogue (``chaos_rate``, ``chaos_kinds``,
    ``chaos_seconds``: see :class:`ChaosConfig`); ``laps=N`` (or ``loop=True``) serves the
    captures N times (endlessly), ids and times shifted each lap; ``connection_hours`` closes
    each WebSocket connection once open that long in playback time (Binance's 24 h; None: never).
    ``served`` records what went out. Use it as an async context manager::

        async with LoopbackExchange(data_dir, speed=0) as ex:
            exchange = ccxt.pro.binance(ex.ccxt_config())
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        speed: float = 1.0,
        faults: FaultSchedule | str | None = None,
        capture_files: tuple[str | Path, ...] = DEFAULT_CAPTURES,
        max_messages: int | None = None,
        trade_source: str = "capture",
        spot_info: str = "gct",
        port: int = 0,
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        chaos: int | None = None,
        chaos_rate: float = 0.01,
        chaos_kinds: tuple[str, ...] = (),
        chaos_seconds: float = 2.0,
        laps: int = 1,
        loop: bool = False,
        connection_hours: float | None = 24.0,
    ) -> None:
        if speed < 0:
            raise UsageError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        if spot_info not in SPOT_INFOS:
            raise UsageError(f"spot_info must be one of {', '.join(SPOT_INFOS)}, got {spot_info!r}")
        if trade_source not in TRADE_SOURCES:
            raise UsageError(f"trade_source must be one of {', '.join(TRADE_SOURCES)}, got {trade_source!r}")
        if isinstance(laps, bool) or not isinstance(laps, int) or laps < 1:
            raise UsageError(f"laps must be a whole number >= 1, got {laps!r}")
        if connection_hours is not None and not 0 < connection_hours < float("inf"):
            raise UsageError(f"connection_hours must be > 0 (None: never), got {connection_hours!r}")
        self.chaos = None if chaos is None else ChaosConfig(chaos, chaos_rate, tuple(chaos_kinds), chaos_seconds)
        self._lap_count: int | None = None if loop else laps
        self._max_age_ns = None if connection_hours is None else int(connection_hours * 3_600_000_000_000)
        self.laps = Laps(Capture(), 1)
        self.data_dir = Path(data_dir)
        self.speed = speed
        self.faults = FaultSchedule.parse(faults) if isinstance(faults, str) else faults or FaultSchedule()
        self._capture_files = capture_files
        self._max_messages = max_messages
        self._trade_source = trade_source
        self._spot_info = spot_info
        self._host = host
        self._port = port
        self._clock = clock or LiveClock()
        self._sleep = sleep
        self._runner: web.AppRunner | None = None
        self._playback: Playback | None = None
        self._rules: MarketRules | None = None
        self._stamps: list[int] = []
        self._started_ns = 0
        self.served = Served()
        self.capture = Capture()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Load the data and start listening (``port=0``: a free port, see :attr:`port`)."""
        loop = asyncio.get_running_loop()
        rest_data, self.capture = await loop.run_in_executor(None, self._load)
        self.served.recorded_snapshots.update(self.capture.snapshots)
        self._stamps = [frame.ts_ns for frame in self.capture.frames]
        self.laps = Laps(self.capture, self._lap_count)
        self._started_ns = self._clock.now_ns()
        app = self._app(rest_data)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_S)
        await self._runner.setup()
        listener = socket.create_server((self._host, self._port))
        self._port = listener.getsockname()[1]
        await web.SockSite(self._runner, listener).start()

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> LoopbackExchange:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- where it is ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        return self._port

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:<port>``: REST paths are Binance's (``/api/v3/...``, ``/fapi/v1/...``)."""
        return f"http://{self._host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``: ``/ws``, ``/stream?streams=...`` (spot); ``/fapi/...`` (futures)."""
        return f"ws://{self._host}:{self._port}"

    def ccxt_config(self, **extra: Any) -> dict[str, Any]:
        """The config dict for ``ccxt.async_support.binance(...)`` / ``ccxt.pro.binance(...)``; see ``_ccxt.py``."""
        return ccxt_config(self.rest_url, self.ws_url, **extra)

    def resume(self) -> None:
        """Let the WebSocket playback go on after a ``ws:pause@N`` fault."""
        if self._playback is None:
            raise UsageError("resume() before start(): the loopback exchange is not running")
        self._playback.resumed.set()

    def change_market(
        self,
        symbol: str,
        *,
        tick_size: str | float | Decimal | None = None,
        step_size: str | float | Decimal | None = None,
        min_qty: str | float | Decimal | None = None,
        min_notional: str | float | Decimal | None = None,
        status: str | None = None,
        market: str = "spot",
    ) -> MarketChange:
        """Change a market's rules: from the next request on, its exchangeInfo serves ``symbol`` with them.

        ``symbol`` is the Binance id (``BTCUSDT``); ``market`` is ``spot`` (``/api/v3/exchangeInfo``)
        or ``linear`` (``/fapi/v1/exchangeInfo``). The values replace ``PRICE_FILTER.tickSize``,
        ``LOT_SIZE.stepSize`` / ``minQty``, ``MIN_NOTIONAL`` (or ``NOTIONAL``) ``minNotional``
        (USDT-M: ``notional``) and ``status``; give them as numbers or decimal text, they are
        written as Binance does (spot: 8 decimals, ``0.10000000``; USDT-M: trimmed, ``0.1``).
        Calls accumulate; each is recorded in ``served.market_changes``. Other fields (``minPrice``,
        ``pricePrecision``, ...) stay as recorded. An unknown symbol, a bad value, or a call before
        :meth:`start` raises :class:`~virtuoso.errors.UsageError`.
        """
        if self._rules is None:
            raise UsageError("change_market() before start(): the loopback exchange is not running")
        values = {"tick_size": tick_size, "step_size": step_size, "min_qty": min_qty, "min_notional": min_notional}
        return self._rules.change(symbol, market, {**values, "status": status})

    def book_at_end(self, symbol: str) -> Any:
        """The book implied by what was served for ``symbol`` (see :meth:`Served.book_at_end`)."""
        return self.served.book_at_end(symbol)

    # -- wiring --------------------------------------------------------------------

    def _load(self) -> tuple[RestData, Capture]:
        return load_rest_data(self.data_dir, self._spot_info), load_captures(
            self.data_dir, self._capture_files, self._max_messages
        )

    def _app(self, rest_data: RestData) -> web.Application:
        chaos = None if self.chaos is None else Chaos(self.chaos)
        playback = Playback(
            self.capture,
            self.faults,
            self.served,
            speed=self.speed,
            clock=self._clock,
            laps=self.laps,
            chaos=chaos,
            max_age_ns=self._max_age_ns,
        )
        self._playback = playback
        api = RestApi(
            rest_data,
            trades=self._trade_lists(rest_data),
            depth=self._depth_states(),
            served=self.served,
            horizon=functools.partial(self._horizon, playback),
            now_ms=self._now_ms,
            depth_offset=lambda key: playback.offsets.get(key, 0),
        )
        self._rules = api.rules
        app = web.Application(middlewares=[fault_middleware(self.faults, self.served, chaos)])
        for market, prefixes in (("linear", ("/fapi", "/fapi/{category}")), ("spot", ("", "/stream"))):
            raw = ws_handler(playback, self._sleep, market=market, combined=False)
            combined = ws_handler(playback, self._sleep, market=market, combined=True)
            for prefix in prefixes:
                app.router.add_get(prefix + "/ws", raw)
                app.router.add_get(prefix + "/ws/{tail:.*}", raw)
                app.router.add_get(prefix + "/stream", combined)
        app.router.add_route("*", "/{path:.*}", api.handle)
        return app

    def _trade_lists(self, rest_data: RestData) -> dict[tuple[str, str], TradeList]:
        if self._trade_source == "gct":
            return {
                ("raw", "BTCUSDT"): TradeList(_gct_rows(rest_data, "/api/v3/trades"), laps=self._lap_count),
                ("agg", "BTCUSDT"): TradeList(_gct_rows(rest_data, "/api/v3/aggTrades"), laps=self._lap_count),
            }
        lapped = functools.partial(TradeList, laps=self._lap_count, lap_ms=self.laps.time_ms, lap_ns=self.laps.time_ns)
        lists: dict[tuple[str, str], TradeList] = {}
        origin = self.capture.frames[0].ts_ns if self.capture.frames else 0
        for key in {frame.key for frame in self.capture.frames if frame.event == "trade"}:
            frames = self.capture.trades(key)
            rows = [rest_trade(frame.data) for frame in frames]
            release = [frame.ts_ns - origin for frame in frames]
            lists[("raw", key)] = lapped(rows, release)
            lists[("agg", key)] = lapped([agg_trade(row) for row in rows], release)
        return lists

    def _depth_states(self) -> dict[str, DepthState]:
        return {
            key: DepthState(snapshot, self.capture.depth(key), futures="T" in snapshot, laps=self.laps)
            for key, snapshot in self.capture.snapshots.items()
        }

    def _horizon(self, playback: Playback, key: str) -> tuple[int | None, int]:
        """How far the recording has got for ``key``: elapsed recorded ns for REST trades, depth frame ordinal.

        At speed 0 every trade exists from the start, except in an endless loop: there, those of
        the lap the playback has reached.
        """
        playhead = playback.depth_playhead.get(key, -1)
        if self.speed <= 0:
            if self._lap_count is not None:
                return None, playhead
            lap = self.laps.lap_of(max(playback.cursors.values(), default=0))
            return (lap + 1) * self.laps.time_ns - 1, playhead
        elapsed = int((self._clock.now_ns() - self._started_ns) * self.speed)
        return elapsed, max(playhead, self._frame_at(elapsed))

    def _frame_at(self, elapsed_ns: int) -> int:
        """The ordinal of the last frame recorded within ``elapsed_ns`` of the first (-1: none)."""
        stamps, laps = self._stamps, self.laps
        if not stamps:
            return -1
        lap = elapsed_ns // laps.time_ns if laps.looping and laps.time_ns else 0
        if laps.count is not None:
            lap = min(lap, laps.count - 1)
        index = bisect.bisect_right(stamps, stamps[0] + elapsed_ns - lap * laps.time_ns) - 1
        return laps.ordinal(lap, index)

    def _now_ms(self) -> int:
        return self._clock.now_ns() // 1_000_000


def _gct_rows(rest_data: RestData, path: str) -> list[dict[str, Any]]:
    """The GoCryptoTrader mock's 1000-row BTCUSDT list for ``path`` (the other entries were hand-edited)."""
    for recorded in rest_data.routes.get(path, []):
        if recorded["queryString"] == "limit=1000&symbol=BTCUSDT":
            rows: list[dict[str, Any]] = recorded["data"]
            return rows
    return []
