"""The WebSocket half of the loopback exchange: recorded frames played to subscribers.

Endpoints: ``/ws`` and ``/ws/<anything>`` send raw payloads (what ccxt.pro connects to, then
``SUBSCRIBE``s); ``/stream?streams=a/b`` and ``/stream`` send combined frames
``{"stream": ..., "data": ...}``; ``/ws/btcusdt@trade`` subscribes by path. Futures
captures are served under ``/fapi/...`` (ccxt.pro's linear URLs), spot ones everywhere else.

Each subscription plays the capture's frames of its streams in recorded order, paced by the
recorded receive times divided by ``speed`` (0: as fast as the client reads). Each stream has one
cursor for the whole server, so a client that reconnects after a disconnect goes on where the
stream stopped, minus what the fault withheld, as with a live exchange.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from virtuoso.clock import Clock
from virtuoso.testing._capture import Capture, Frame
from virtuoso.testing._faults import FaultSchedule
from virtuoso.testing._served import AppliedFault, Served, Withheld

Sleep = Callable[[float], Awaitable[None]]
_YIELD_EVERY = 64
_BROKEN_FRAME = '{"stream":"broken","data":{"e":"trade","E":'


def topic_of(stream: str) -> str:
    """``btcusdt@depth@100ms`` and ``btcusdt@depth`` -> ``btcusdt@depth``: one topic for every depth rate."""
    parts = stream.lower().split("@")
    return "@".join(parts[:2]) if len(parts) > 1 and parts[1] == "depth" else stream.lower()


class Playback:
    """What every connection shares: the frames, stream cursors, message counters, faults and the record."""

    def __init__(self, capture: Capture, faults: FaultSchedule, served: Served, *, speed: float, clock: Clock) -> None:
        self.capture = capture
        self.faults = faults
        self.served = served
        self.speed = speed
        self.clock = clock
        self.cursors: dict[tuple[str, str], int] = {}
        self.depth_playhead: dict[str, int] = {}
        self.messages = 0
        self.depth_updates = 0
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pending(self, market: str, topics: set[str]) -> list[Frame]:
        """The frames of ``topics`` not yet handled for their stream, in recorded order."""
        cursors = self.cursors
        return [
            frame
            for frame in self.capture.frames
            if frame.market == market and frame.topic in topics and frame.index > cursors.get((market, frame.topic), -1)
        ]

    def handled(self, frame: Frame) -> None:
        """Move the frame's stream cursor (and its symbol's depth playhead) past ``frame``."""
        self.cursors[(frame.market, frame.topic)] = frame.index
        if frame.event == "depth":
            self.depth_playhead[frame.key] = frame.index

    def withhold(self, frames: list[Frame], reason: str) -> None:
        """Record ``frames`` as kept from the client by ``reason``, one entry per symbol and stream."""
        groups: dict[tuple[str, str], list[Frame]] = {}
        for frame in frames:
            groups.setdefault((frame.key, frame.stream), []).append(frame)
            self.handled(frame)
        for (key, stream), group in groups.items():
            self.served.withheld.append(_withheld(reason, key, stream, group))


def _withheld(reason: str, key: str, stream: str, frames: list[Frame]) -> Withheld:
    trades = tuple(int(f.data["t" if f.event == "trade" else "a"]) for f in frames if f.event in ("trade", "aggTrade"))
    depth = tuple((int(f.data["U"]), int(f.data["u"])) for f in frames if f.event == "depth")
    return Withheld(reason, key, stream, tuple(f.index for f in frames), trades, depth)


class Connection:
    """One WebSocket client: its subscriptions and their players."""

    def __init__(self, ws: web.WebSocketResponse, playback: Playback, *, market: str, combined: bool) -> None:
        self._ws = ws
        self._playback = playback
        self._market = market
        self._combined = combined
        self._topics: set[str] = set()
        self._players: set[asyncio.Task[None]] = set()

    async def serve(self, initial: list[str], sleep: Sleep) -> None:
        """Play ``initial`` streams (from the URL), answer (UN)SUBSCRIBE requests until the client goes."""
        if initial:
            self._subscribe(initial, sleep)
        try:
            async for message in self._ws:
                if message.type is WSMsgType.TEXT:
                    await self._request(message.data, sleep)
        finally:
            for player in self._players:
                player.cancel()
            await asyncio.gather(*self._players, return_exceptions=True)

    async def _request(self, text: str, sleep: Sleep) -> None:
        try:
            request = json.loads(text)
            method, params, ident = request["method"], request.get("params", []), request.get("id")
        except (ValueError, TypeError, KeyError):
            await self._ws.send_str(json.dumps({"error": {"code": 2, "msg": "Invalid request"}}))
            return
        if method == "SUBSCRIBE":
            await self._ws.send_str(json.dumps({"result": None, "id": ident}))
            self._subscribe([str(p) for p in params], sleep)
        elif method == "UNSUBSCRIBE":
            self._topics -= {topic_of(str(p)) for p in params}
            await self._ws.send_str(json.dumps({"result": None, "id": ident}))
        else:
            await self._ws.send_str(json.dumps({"result": sorted(self._topics), "id": ident}))

    def _subscribe(self, streams: list[str], sleep: Sleep) -> None:
        topics = {topic_of(stream) for stream in streams} - self._topics
        self._topics |= topics
        player = asyncio.create_task(self._play(topics, sleep))
        self._players.add(player)
        player.add_done_callback(self._players.discard)

    async def _play(self, topics: set[str], sleep: Sleep) -> None:
        pacer = _Pacer(self._playback, sleep)
        frames = self._playback.pending(self._market, topics)
        try:
            for position, frame in enumerate(frames):
                if not self._wanted(frame):
                    continue
                await pacer.wait(frame, position)
                if not await self._deliver(frame, frames, position):
                    return
        except ConnectionResetError:
            return  # the client went away mid-stream: what it did not get stays unsent

    def _wanted(self, frame: Frame) -> bool:
        """Still subscribed here, and not yet handled for its stream (by this or another subscription)."""
        return frame.topic in self._topics and frame.index > self._playback.cursors.get((frame.market, frame.topic), -1)

    async def _deliver(self, frame: Frame, frames: list[Frame], position: int) -> bool:
        """Send (or withhold) ``frame``; False once a fault has closed the connection."""
        playback = self._playback
        playback.messages += 1
        number = playback.messages
        if frame.event == "depth":
            playback.depth_updates += 1
        faults = bool(playback.faults.ws)
        if faults and await self._consumed_by_fault(frame, number):
            return True
        await self._ws.send_str(frame.combined if self._combined else frame.raw)
        playback.served.sent_frame(frame.key, frame)
        playback.handled(frame)
        return not faults or await self._maybe_disconnect(number, frames, position)

    async def _consumed_by_fault(self, frame: Frame, number: int) -> bool:
        """Apply pause, skip and malformed rules; True if ``frame`` must not be sent."""
        playback = self._playback
        await self._maybe_pause(frame, number)
        if self._skipped(frame, number):
            return True
        if playback.faults.ws_fault("malformed", number) is None:
            return False
        await self._ws.send_str(_BROKEN_FRAME)
        playback.served.faults.append(AppliedFault(f"ws#{number}", "malformed", frame.stream))
        playback.withhold([frame], f"malformed@{number}")
        return True

    async def _maybe_pause(self, frame: Frame, number: int) -> None:
        playback = self._playback
        if playback.faults.ws_fault("pause", number) is not None:
            playback.served.faults.append(AppliedFault(f"ws#{number}", "pause", frame.stream))
            playback.resumed.clear()
        await playback.resumed.wait()

    def _skipped(self, frame: Frame, number: int) -> bool:
        playback = self._playback
        depth = frame.event == "depth"
        if playback.faults.ws_fault("skip", number) is not None:
            reason = f"skip@{number}"
        elif depth and playback.faults.ws_fault("skip-depth", playback.depth_updates) is not None:
            reason = f"skip-depth@{playback.depth_updates}"
        else:
            return False
        playback.served.faults.append(AppliedFault(f"ws#{number}", reason.split("@")[0], frame.stream))
        playback.withhold([frame], reason)
        return True

    async def _maybe_disconnect(self, number: int, frames: list[Frame], position: int) -> bool:
        fault = self._playback.faults.ws_fault("disconnect", number)
        if fault is None:
            return True
        lost = [frame for frame in frames[position + 1 :] if frame.topic in self._topics][: fault.count]
        self._playback.served.faults.append(AppliedFault(f"ws#{number}", "disconnect", f"withheld {len(lost)}"))
        if lost:
            self._playback.withhold(lost, f"disconnect@{number}")
        self._topics.clear()
        await self._ws.close(code=1001, message=b"loopback fault: disconnect")
        return False


class _Pacer:
    """Waits until a frame's recorded offset, divided by the speed, has passed (speed 0: never waits)."""

    def __init__(self, playback: Playback, sleep: Sleep) -> None:
        self._speed = playback.speed
        self._clock = playback.clock
        self._sleep = sleep
        self._start_ns = playback.clock.now_ns()
        self._base_ns: int | None = None

    async def wait(self, frame: Frame, position: int) -> None:
        if self._speed <= 0:
            if position % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the client (often in this same loop) read
            return
        if self._base_ns is None:
            self._base_ns = frame.ts_ns
        due_ns = self._start_ns + (frame.ts_ns - self._base_ns) / self._speed
        delay_ns = due_ns - self._clock.now_ns()
        if delay_ns > 0:
            await self._sleep(delay_ns / 1e9)


def ws_handler(playback: Playback, sleep: Sleep, *, market: str, combined: bool) -> Callable[..., Any]:
    """An aiohttp handler for one WebSocket endpoint family."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws, playback, market=market, combined=combined)
        await connection.serve(_url_streams(request), sleep)
        return ws

    return handle


def _url_streams(request: web.Request) -> list[str]:
    named = request.query.get("streams")
    if named:
        return [s for s in named.split("/") if s]
    tail = request.match_info.get("tail", "").strip("/")
    return [s for s in tail.split("/") if "@" in s]
