"""Stall timeout: a watch or poll that returns nothing for ``[record] stall_timeout_s`` is a fault.

Quiet markets are the catch: the trades of an illiquid symbol may not change
for minutes while the connection is fine. So a WebSocket watch that has
returned nothing for the timeout is a fault only when the connection itself is
silent: no frame of *any* stream on it for that long (ccxt.pro notes each
frame's arrival in ``client.last_message_at``). Then the silent connections are
failed the way ccxt fails a missed pong (``client.on_error``): ccxt rejects the
pending watches with ``RequestTimeout``, drops the connection, and the next
watch opens a fresh one and subscribes again. A connection that carries other
streams' frames keeps the watch waiting: that market is just quiet.

A REST poll (and a watch of an exchange object without ccxt.pro's
``clients``) that takes longer than the timeout is cancelled and fails with
:class:`~virtuoso.exchange._faults.ChannelStalled`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.exchange._faults import ChannelStalled

T = TypeVar("T")
MS = 1_000
_FIRST_SEEN: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
"""When the watchdog first saw each ccxt.pro connection (wall-clock ms), without keeping it alive."""


async def within_stall(
    fn: Callable[[], Awaitable[T]], *, timeout_s: float, exchange: Any, websocket: bool, operation: str
) -> T:
    """``await fn()``, failing a silent connection (or the call) when nothing comes for ``timeout_s`` (0: never).

    The watch is awaited inline (not in a task of its own): ccxt.pro hands the
    trades that arrive between two watch calls to the next call only, so a
    watch must be waiting again as soon as the previous one returned.
    """
    if not timeout_s:
        return await fn()
    if websocket and isinstance(getattr(exchange, "clients", None), dict):
        watchdog = _Watchdog(exchange, timeout_s)
        try:
            return await fn()
        finally:
            watchdog.cancel()
    try:
        async with asyncio.timeout(timeout_s):
            return await fn()
    except TimeoutError as exc:
        raise ChannelStalled(f"nothing for {timeout_s:g} s", operation=operation) from exc


class _Watchdog:
    """Every ``timeout_s`` while a watch waits, fail the exchange's connections that were silent that long."""

    def __init__(self, exchange: Any, timeout_s: float) -> None:
        self._exchange, self._timeout_s = exchange, timeout_s
        self._handle = asyncio.get_running_loop().call_later(timeout_s, self._tick)

    def _tick(self) -> None:
        fail_silent_clients(self._exchange, self._timeout_s)
        self._handle = asyncio.get_running_loop().call_later(self._timeout_s, self._tick)

    def cancel(self) -> None:
        self._handle.cancel()


def _clients(exchange: Any) -> list[Any]:
    clients = getattr(exchange, "clients", None)
    return list(clients.values()) if isinstance(clients, dict) else []


def fail_silent_clients(exchange: Any, timeout_s: float, *, now_ms: float | None = None) -> int:
    """Fail every WebSocket connection of ``exchange`` that received nothing for ``timeout_s``; how many.

    ccxt's own timestamps are wall-clock milliseconds, so this compares them with the wall clock.
    """
    now = time.time() * MS if now_ms is None else now_ms
    failed = 0
    for client in _clients(exchange):
        last = getattr(client, "last_message_at", None)
        opened = _FIRST_SEEN.setdefault(client, now)  # a connection that never received a frame: silent since then
        if now - (last or opened) >= timeout_s * MS and hasattr(client, "on_error"):
            client.on_error(ccxt_module().RequestTimeout(f"{client.url}: no frame for {timeout_s:g} s (stall)"))
            failed += 1
    return failed
