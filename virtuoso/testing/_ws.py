"""The WebSocket half of the loopback exchange: recorded frames played to subscribers.

Endpoints: ``/ws`` and ``/ws/<anything>`` send raw payloads (what ccxt.pro connects to, then
``SUBSCRIBE``s); ``/stream?streams=a/b`` and ``/stream`` send combined frames
``{"stream": ..., "data": ...}``; ``/ws/btcusdt@trade`` subscribes by path. Futures
captures are served under ``/fapi/...`` (ccxt.pro's linear URLs), spot ones everywhere else.

Each subscription plays the capture's frames of its streams in recorded order (lap after lap,
see ``_laps.py``), paced by the recorded receive times divided by ``speed`` (0: as fast as the
client reads). Each stream has one cursor for the whole server, so a client that reconnects
after a disconnect goes on where the stream stopped, minus what the fault withheld, as with a
live exchange. The faults themselves are applied by :mod:`virtuoso.testing._wsplay`.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from array import array
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterator
from operator import attrgetter
from typing import Any

from aiohttp import WSMsgType, web

from virtuoso.clock import Clock
from virtuoso.testing._capture import Capture, Frame
from virtuoso.testing._chaos import Chaos
from virtuoso.testing._faults import FaultSchedule, WsFault
from virtuoso.testing._laps import Laps
from virtuoso.testing._served import Served, Withheld
from virtuoso.testing._wsplay import deliver

Sleep = Callable[[float], Awaitable[None]]
_YIELD_EVERY = 64
_TRADE_IDS = {"trade": "t", "aggTrade": "a"}
_RENUMBERED = ("depth", "bookTicker")  # the events a depth sequence reset renumbers
_BY_INDEX = attrgetter("index")


def topic_of(stream: str) -> str:
    """``btcusdt@depth@100ms`` and ``btcusdt@depth`` -> ``btcusdt@depth``: one topic for every depth rate."""
    parts = stream.lower().split("@")
    return "@".join(parts[:2]) if len(parts) > 1 and parts[1] == "depth" else stream.lower()


class Playback:
    """What every connection shares: the frames, stream cursors, message counters, faults and the record.

    Cursors and playheads are frame ordinals (see ``_laps.py``; in the first lap, capture indices).
    """

    def __init__(
        self,
        capture: Capture,
        faults: FaultSchedule,
        served: Served,
        *,
        speed: float,
        clock: Clock,
        laps: Laps | None = None,
        chaos: Chaos | None = None,
        max_age_ns: int | None = None,
    ) -> None:
        self.capture = capture
        self.faults = faults
        self.chaos = chaos
        self.served = served
        self.speed = speed
        self.clock = clock
        self.laps = laps or Laps(capture, 1)
        self.max_age_ns = max_age_ns
        self.cursors: dict[tuple[str, str], int] = {}
        self.depth_playhead: dict[str, int] = {}
        self.offsets: dict[str, int] = {}
        self.next_depth_id: dict[str, int] = {}
        self.playback_ns: int | None = None
        self.faulty = bool(faults.ws) or chaos is not None
        self.messages = 0
        self.depth_updates = 0
        self.resumed = asyncio.Event()
        self.resumed.set()
        self._topics: dict[tuple[str, str], tuple[list[Frame], list[int]]] = {}
        self._first_depth: dict[str, Frame] = {}
        for frame in capture.frames:
            frames, indices = self._topics.setdefault((frame.market, frame.topic), ([], []))
            frames.append(frame)
            indices.append(frame.index)
            if frame.event == "depth":
                self._first_depth.setdefault(frame.key, frame)

    # -- frames --------------------------------------------------------------------

    def pending(self, market: str, topics: set[str]) -> Iterator[Frame]:
        """The frames of ``topics`` after their cursors, in order, rendered lap by lap as they are taken."""
        streams = [self._stream(market, topic) for topic in sorted(topics) if (market, topic) in self._topics]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_BY_INDEX)

    def _stream(self, market: str, topic: str) -> Iterator[Frame]:
        frames, indices = self._topics[(market, topic)]
        laps = self.laps
        cursor = self.cursors.get((market, topic), -1)
        lap = laps.lap_of(cursor)
        bridged = frames[0].event == "depth" and frames[0].key in self.capture.snapshots and laps.looping
        while laps.count is None or lap < laps.count:
            if lap > self.served.laps - 1:
                self.served.laps = lap + 1
            if bridged and lap >= 1 and laps.ordinal(lap, 0) - 1 > cursor:
                yield laps.bridge(frames[0].key, lap, self._first_depth[frames[0].key])
            start = bisect_right(indices, cursor - laps.ordinal(lap, 0))
            for frame in frames[start:]:
                yield laps.render(frame, lap)
            lap += 1

    def renumbered(self, frame: Frame) -> Frame:
        """``frame`` with its depth ids moved by the symbol's sequence resets so far."""
        offset = self.offsets.get(frame.key) if frame.event in _RENUMBERED else None
        if not offset:
            return frame
        data = dict(frame.data)
        for name in ("U", "u", "pu"):
            if name in data:
                data[name] += offset
        return frame.moved(frame.index, frame.ts_ns, data)

    # -- bookkeeping ---------------------------------------------------------------

    def handled(self, frame: Frame) -> None:
        """Move the frame's stream cursor (and its symbol's depth playhead) past ``frame``."""
        self.cursors[(frame.market, frame.topic)] = frame.index
        self.playback_ns = frame.ts_ns
        if frame.event == "depth":
            self.depth_playhead[frame.key] = frame.index
            self.next_depth_id[frame.key] = int(frame.data["u"]) + 1

    def sent(self, frame: Frame) -> None:
        """Note a data frame that went out intact."""
        served = self.served
        served.ws_messages += 1
        if frame.event in _TRADE_IDS:
            ids = served.ws_trades.get(frame.key)
            if ids is None:
                ids = served.ws_trades[frame.key] = array("q")
            ids.append(int(frame.data[_TRADE_IDS[frame.event]]))
        elif frame.event == "depth":
            served.sent_depth(frame.key, frame.data)
        self.handled(frame)

    def spoiled(self, frame: Frame, reason: str) -> Withheld:
        """Note a frame that did not reach the client intact: its trade id or depth ids are spoiled."""
        self.handled(frame)
        withheld = _withheld(reason, frame.key, frame.stream, [frame])
        if withheld.trade_ids:
            self.served.sent_trades("ws", frame.key, withheld.trade_ids, spoiled=True)
        return withheld

    def withhold(self, frames: list[Frame], reason: str) -> None:
        """Record ``frames`` as kept from the client by ``reason``, one entry per symbol and stream."""
        groups: dict[tuple[str, str], list[Frame]] = {}
        for frame in frames:
            groups.setdefault((frame.key, frame.stream), []).append(frame)
            self.handled(frame)
            if self.chaos is not None:  # a lost frame draws too: a channel's draws never depend on the others
                self.chaos.ws_fault(frame.market, frame.topic, frame.event, frame.index)
        for (key, stream), group in groups.items():
            withheld = _withheld(reason, key, stream, group)
            self.served.withheld.append(withheld)
            if withheld.trade_ids:
                self.served.sent_trades("ws", key, withheld.trade_ids, spoiled=True)

    def faults_for(self, frame: Frame, number: int, depth_number: int) -> tuple[WsFault, ...]:
        """The scheduled faults of message ``number``, else chaos's draw for ``frame`` (if chaos is on)."""
        scheduled = self.faults.ws_at(number, depth_number) if self.faults.ws else ()
        if scheduled or self.chaos is None:
            return scheduled
        drawn = self.chaos.ws_fault(frame.market, frame.topic, frame.event, frame.index, number)
        return () if drawn is None else (drawn,)

    def reset(self, key: str) -> tuple[int, int] | None:
        """Restart ``key``'s depth update ids lower; ``(next id as it was, next id now)``, None without depth."""
        if key not in self._first_depth:
            return None
        first = self._first_depth[key].data
        upcoming = self.next_depth_id.get(key, int(first.get("pu", int(first["U"]) - 1)) + 1)
        restarted = max(1, upcoming // 2)
        self.offsets[key] = self.offsets.get(key, 0) + restarted - upcoming
        self.next_depth_id[key] = restarted
        self.served.depth_reset(key)
        return upcoming, restarted


def _withheld(reason: str, key: str, stream: str, frames: list[Frame]) -> Withheld:
    trades = tuple(int(f.data[_TRADE_IDS[f.event]]) for f in frames if f.event in _TRADE_IDS)
    depth = tuple((int(f.data["U"]), int(f.data["u"])) for f in frames if f.event == "depth")
    return Withheld(reason, key, stream, tuple(f.index for f in frames), trades, depth)


class Connection:
    """One WebSocket client: its subscriptions and their players."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, playback: Playback, *, market: str, combined: bool
    ) -> None:
        self.ws = ws
        self.request = request
        self.playback = playback
        self.market = market
        self.combined = combined
        self.topics: set[str] = set()
        self.closed = False
        playback.served.ws_connections += 1
        self.number = playback.served.ws_connections
        self.opened_ns = playback.playback_ns
        self._players: set[asyncio.Task[None]] = set()

    async def serve(self, initial: list[str], sleep: Sleep) -> None:
        """Play ``initial`` streams (from the URL), answer (UN)SUBSCRIBE requests until the client goes."""
        if initial:
            self._subscribe(initial, sleep)
        try:
            async for message in self.ws:
                if message.type is WSMsgType.TEXT:
                    await self._request(message.data, sleep)
        finally:
            self.closed = True
            for player in self._players:
                player.cancel()
            await asyncio.gather(*self._players, return_exceptions=True)

    async def send(self, text: str) -> None:
        """Send one text frame."""
        await self.ws.send_str(text)

    async def close(self, code: int, message: str) -> None:
        """Close the connection from the server's side; every player stops."""
        self.closed = True
        self.topics.clear()
        await self.ws.close(code=code, message=message.encode())

    def abort(self, tail: bytes) -> None:
        """Write ``tail`` straight to the socket and drop it (no close handshake)."""
        self.closed = True
        self.topics.clear()
        transport = self.request.transport
        if transport is not None:
            transport.write(tail)
            transport.close()

    async def _request(self, text: str, sleep: Sleep) -> None:
        try:
            request = json.loads(text)
            method, params, ident = request["method"], request.get("params", []), request.get("id")
        except (ValueError, TypeError, KeyError):
            await self.send(json.dumps({"error": {"code": 2, "msg": "Invalid request"}}))
            return
        if method == "SUBSCRIBE":
            await self.send(json.dumps({"result": None, "id": ident}))
            self._subscribe([str(p) for p in params], sleep)
        elif method == "UNSUBSCRIBE":
            self.topics -= {topic_of(str(p)) for p in params}
            await self.send(json.dumps({"result": None, "id": ident}))
        else:
            await self.send(json.dumps({"result": sorted(self.topics), "id": ident}))

    def _subscribe(self, streams: list[str], sleep: Sleep) -> None:
        topics = {topic_of(stream) for stream in streams} - self.topics
        self.topics |= topics
        player = asyncio.create_task(self._play(topics, sleep))
        self._players.add(player)
        player.add_done_callback(self._players.discard)

    async def _play(self, topics: set[str], sleep: Sleep) -> None:
        pacer = _Pacer(self.playback, sleep)
        frames = self.playback.pending(self.market, topics)
        cursors = self.playback.cursors
        try:
            for position, frame in enumerate(frames):
                if frame.topic not in self.topics:
                    if self.closed or not topics & self.topics:
                        return
                    continue
                if frame.index <= cursors.get((frame.market, frame.topic), -1):
                    continue  # handled already, by another subscription to the stream
                await pacer.wait(frame, position)
                if not await deliver(self, frame, frames, sleep):
                    return
        except ConnectionResetError:
            return  # the client went away mid-stream: what it did not get stays unsent


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
        connection = Connection(ws, request, playback, market=market, combined=combined)
        await connection.serve(_url_streams(request), sleep)
        return ws

    return handle


def _url_streams(request: web.Request) -> list[str]:
    named = request.query.get("streams")
    if named:
        return [s for s in named.split("/") if s]
    tail = request.match_info.get("tail", "").strip("/")
    return [s for s in tail.split("/") if "@" in s]
