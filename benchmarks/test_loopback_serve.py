"""Serving the BTCUSDT spot capture over loopback WebSocket at maximum speed, against a bare aiohttp server.

Ours: a started :class:`~virtuoso.testing.LoopbackExchange` (``speed=0``), one client on
``/stream?streams=btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker``: timed from the
connect to the last frame received, so the subscription, the per-frame fault checks, the
stream cursors and the served record are all included.

Baseline: an aiohttp WebSocket handler that sends the same frames (the recorded combined
lines, pre-built) with ``send_str`` in a loop, to the same client code.

The unit is the WebSocket frame. Full size: both capture files, 99,573 frames (the capture
is that long, whatever N is); ``--quick``: the first 20,000 frames.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from benchmarks.harness import Prepared, RatioCase, Scale, Side, measure
from virtuoso.testing import DEFAULT_CAPTURES, LoopbackExchange, load_captures

pytestmark = pytest.mark.timeout(3600)

TARGET = 0.5
DATA = Path(os.environ.get("VIRTUOSO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
STREAMS = "btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker"
QUICK_FRAMES = 20_000


async def receive_all(url: str, count: int) -> None:
    """The client both sides serve: connect, read ``count`` text frames."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
        for _ in range(count):
            await ws.receive_str()


def ours(runner: asyncio.Runner, max_frames: int | None, count: int) -> Side:
    """A fresh exchange per round (stream cursors are per server), started untimed."""

    def side(_: Path) -> Prepared:
        exchange = LoopbackExchange(DATA, speed=0, max_messages=max_frames)
        runner.run(exchange.start())
        url = f"{exchange.ws_url}/stream?streams={STREAMS}"
        return Prepared(run=lambda: runner.run(receive_all(url, count)), cleanup=lambda: runner.run(exchange.stop()))

    return side


def baseline(runner: asyncio.Runner, frames: list[str]) -> Side:
    """A bare aiohttp server sending the pre-built frames, started untimed."""

    def side(_: Path) -> Prepared:
        site_runner, url = runner.run(_bare_server(frames))
        return Prepared(
            run=lambda: runner.run(receive_all(url, len(frames))), cleanup=lambda: runner.run(site_runner.cleanup())
        )

    return side


async def _bare_server(frames: list[str]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _send(ws.send_str, frames)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/stream", handle)
    site_runner = web.AppRunner(app, access_log=None)
    await site_runner.setup()
    site = web.TCPSite(site_runner, "127.0.0.1", 0)
    await site.start()
    port = site_runner.addresses[0][1]
    return site_runner, f"ws://127.0.0.1:{port}/stream"


async def _send(send: Callable[[str], Awaitable[None]], frames: list[str]) -> None:
    for number, frame in enumerate(frames):
        if number % 64 == 0:
            await asyncio.sleep(0)  # the same yield as ours: the client runs in this loop too
        await send(frame)


def test_loopback_serve_max_speed(benchmark: object, runner: asyncio.Runner, scale: Scale, tmp_path: Path) -> None:
    missing = [name for name in DEFAULT_CAPTURES if not (DATA / name).exists()]
    if missing or not (DATA / "gocryptotrader").exists():
        pytest.skip(f"real data under {DATA} is absent (set VIRTUOSO_SHARED_DATA)")
    max_frames = QUICK_FRAMES if scale.quick else None
    frames = [frame.combined for frame in load_captures(DATA, DEFAULT_CAPTURES, max_frames).frames]
    case = RatioCase(
        "loopback serve (ws, max speed)",
        target=TARGET,
        events=len(frames),
        rounds=scale.rounds,
        ours=ours(runner, max_frames, len(frames)),
        baseline=baseline(runner, frames),
    )
    result = measure(benchmark, case, tmp_path)
    assert len(result.ours_s) == len(result.baseline_s) >= 1
