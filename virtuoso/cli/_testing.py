"""``virtuoso testing exchange --data DIR``: the loopback Binance exchange, standalone, until Ctrl-C.

It prints where it listens and the ccxt config to use, so a recording setup can be rehearsed
offline (see ``docs/loopback.md``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from virtuoso.cli._app import run
from virtuoso.errors import UsageError
from virtuoso.testing import DEFAULT_CAPTURES, FaultSchedule, LoopbackExchange

testing_app = typer.Typer(
    help="Test kit: a loopback exchange to rehearse recording offline.",
    no_args_is_help=True,
    add_completion=False,
)


def parse_speed(text: str) -> float:
    """``max`` (or 0) means as fast as possible; otherwise a positive factor of the recorded pace."""
    if text.strip().lower() in ("max", "0"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(f"--speed must be a positive number or 'max', got {text!r}")
    return value


@testing_app.command("exchange")
def exchange_command(
    *,
    data: Annotated[Path, typer.Option("--data", help="The shared data directory (see docs/loopback.md).")],
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0: a free one).")] = 0,
    faults: Annotated[str, typer.Option("--faults", help="Fault schedule, e.g. 'rest:/api/v3/depth#2=503'.")] = "",
    speed: Annotated[str, typer.Option("--speed", help="Pace: N times the recorded pace, or 'max'.")] = "1",
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Capture file (repeatable; default: BTCUSDT spot).")
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", help="Serve only the first N WebSocket frames.")
    ] = None,
    spot_info: Annotated[
        str, typer.Option("--spot-info", help="Spot exchange info: gct (2020, 786 symbols) or cryptofeed (2021).")
    ] = "gct",
    chaos: Annotated[
        int | None, typer.Option("--chaos", help="Draw faults at random from the whole catalogue, from this seed.")
    ] = None,
    chaos_rate: Annotated[
        float, typer.Option("--chaos-rate", help="With --chaos: the chance a request or frame goes wrong.")
    ] = 0.01,
    chaos_kinds: Annotated[
        str, typer.Option("--chaos-kinds", help="With --chaos: only these kinds, e.g. 'ws:cut,rest:429,malformed'.")
    ] = "",
    chaos_seconds: Annotated[
        float, typer.Option("--chaos-seconds", help="With --chaos: how long a slow answer or a stall lasts.")
    ] = 2.0,
    laps: Annotated[int, typer.Option("--laps", help="Serve the captures N times, ids and times shifted.")] = 1,
    loop: Annotated[bool, typer.Option("--loop", help="Serve the captures endlessly (see --laps).")] = False,
    connection_hours: Annotated[
        float, typer.Option("--connection-hours", help="Close a WebSocket open this long in playback time (0: never).")
    ] = 24.0,
) -> None:
    """Serve recorded Binance REST and WebSocket data on 127.0.0.1 until Ctrl-C."""

    async def work() -> None:
        exchange = LoopbackExchange(
            data,
            speed=parse_speed(speed),
            faults=FaultSchedule.parse(faults),
            capture_files=tuple(capture) if capture else DEFAULT_CAPTURES,
            max_messages=max_messages,
            spot_info=spot_info,
            port=port,
            chaos=chaos,
            chaos_rate=chaos_rate,
            chaos_kinds=tuple(kind.strip() for kind in chaos_kinds.split(",") if kind.strip()),
            chaos_seconds=chaos_seconds,
            laps=laps,
            loop=loop,
            connection_hours=connection_hours or None,
        )
        async with exchange:
            _announce(exchange, speed)
            await _until_signalled()
            served = exchange.served
            print(
                f"stopped: {len(served.requests)} REST requests, {served.ws_messages} WebSocket messages,"
                f" {len(served.faults)} faults, {served.laps} {'lap' if served.laps == 1 else 'laps'}",
                flush=True,
            )

    run(work)


def _announce(exchange: LoopbackExchange, speed: str) -> None:
    faults = len(exchange.faults.rest) + len(exchange.faults.ws)
    print(
        f"loopback exchange on {exchange.rest_url} (WebSocket {exchange.ws_url}), speed {speed}, {faults} fault rules"
        + _extras(exchange)
    )
    print("ccxt config (pass to ccxt.async_support.binance(...) or ccxt.pro.binance(...)):")
    print(json.dumps(exchange.ccxt_config(), indent=2))
    print("Ctrl-C to stop.", flush=True)


def _extras(exchange: LoopbackExchange) -> str:
    """``, chaos seed 7 at rate 0.01, endless laps`` or nothing."""
    parts = []
    if exchange.chaos is not None:
        parts.append(f"chaos seed {exchange.chaos.seed} at rate {exchange.chaos.rate:g}")
    count = exchange.laps.count
    if count != 1:
        parts.append("endless laps" if count is None else f"{count} laps")
    return "".join(f", {part}" for part in parts)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        sys.stdout.flush()
