"""REST faults as an aiohttp middleware: the N-th request to a path (or chaos's draw) goes wrong on purpose.

Status faults (429, 418, 5xx) answer in place of the handler; ``slow`` delays it. Body and
row faults are handed to the handler (:class:`~virtuoso.testing._rest.RestApi`) through the
request, because only it knows which trades a body holds: it spoils the body and notes which
trade ids were served wrong, and the middleware records the fault with them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from virtuoso.testing._chaos import Chaos
from virtuoso.testing._faults import FaultSchedule, RestFault
from virtuoso.testing._served import AppliedFault, Served

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ERROR_BODIES = {
    429: (-1003, "Too many requests; current limit is 6000 request weight per 1 MINUTE."),
    418: (-1003, "Way too many requests; IP banned until later."),
}
_MALFORMED = b'{"code": 0, "msg": <html>not json'
_HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudfront</body></html>"


@dataclass(frozen=True, slots=True)
class SpoiledAnswer:
    """What a body or row fault spoiled in one answer (set by the handler on the request)."""

    symbol: str = ""
    trade_ids: tuple[int, ...] = ()
    depth_ids: tuple[tuple[int, int], ...] = ()
    detail: str = ""


FAULT_KEY = web.RequestKey("virtuoso.loopback.fault", RestFault)
SPOILED_KEY = web.RequestKey("virtuoso.loopback.spoiled", SpoiledAnswer)


def fault_middleware(faults: FaultSchedule, served: Served, chaos: Chaos | None = None) -> Any:
    """Count requests per path, apply the scheduled (else drawn) fault, record every answer's status."""
    counts: dict[str, int] = {}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        path = request.path
        counts[path] = ordinal = counts.get(path, 0) + 1
        drawn = chaos.rest_fault(path, ordinal) if chaos is not None else None
        fault = faults.rest_fault(path, ordinal) or drawn
        response = await _respond(request, handler, fault, ordinal)
        if fault is not None:
            served.faults.append(_applied(f"rest:{path}#{ordinal}", fault, request.get(SPOILED_KEY)))
        served.requests.append((path, request.query_string, response.status))
        return response

    return middleware


async def _respond(request: web.Request, handler: Handler, fault: RestFault | None, ordinal: int) -> web.StreamResponse:
    if fault is None:
        return await handler(request)
    if fault.action == "slow":
        await asyncio.sleep(fault.seconds)  # real time: it is the client's real timeout that must expire
        return await handler(request)
    if fault.status >= 400:
        return _error(fault)
    request[FAULT_KEY] = dataclasses.replace(fault, first=ordinal, last=ordinal)  # the handler's turn
    return await handler(request)


def _applied(where: str, fault: RestFault, spoiled: SpoiledAnswer | None) -> AppliedFault:
    if spoiled is None:
        return AppliedFault(where, fault.action, json.dumps({"status": fault.status, "seconds": fault.seconds}))
    return AppliedFault(where, fault.action, spoiled.detail, spoiled.symbol, "", spoiled.trade_ids, spoiled.depth_ids)


def _error(fault: RestFault) -> web.Response:
    if fault.status in _ERROR_BODIES:
        code, msg = _ERROR_BODIES[fault.status]
        headers = {"Retry-After": f"{fault.seconds:g}"}
        return web.json_response({"code": code, "msg": msg}, status=fault.status, headers=headers)
    return web.Response(status=fault.status, text=f"<html><body>{fault.status} loopback fault</body></html>")


async def spoiled_body(request: web.Request, body: bytes, action: str) -> web.StreamResponse:
    """The answer a body fault (``malformed``, ``truncated``, ``empty``, ``html``, ``object``) sends for ``body``."""
    if action == "malformed":
        return web.Response(body=_MALFORMED, content_type="application/json")
    if action == "empty":
        return web.Response(body=b"", content_type="application/json")
    if action == "html":
        return web.Response(body=_HTML, content_type="text/html")
    if action == "object":
        wrapped = b'{"data":' + body + b"}" if body.startswith(b"[") else b"[" + body + b"]"
        return web.Response(body=wrapped, content_type="application/json")
    return await _truncated(request, body)


async def _truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """Announce the whole body's length, send half of it, then drop the connection."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response
