"""Scheduled REST faults as an aiohttp middleware: the N-th request to a path goes wrong on purpose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from virtuoso.testing._faults import FaultSchedule, RestFault
from virtuoso.testing._served import AppliedFault, Served

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ERROR_BODIES = {
    429: (-1003, "Too many requests; current limit is 6000 request weight per 1 MINUTE."),
    418: (-1003, "Way too many requests; IP banned until later."),
}
_MALFORMED = b'{"code": 0, "msg": <html>not json'


def fault_middleware(faults: FaultSchedule, served: Served) -> Any:
    """Count requests per path, apply the scheduled fault (if any), record every answer's status."""
    counts: dict[str, int] = {}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        counts[request.path] = ordinal = counts.get(request.path, 0) + 1
        fault = faults.rest_fault(request.path, ordinal)
        if fault is not None:
            served.faults.append(AppliedFault(f"rest:{request.path}#{ordinal}", fault.action, _detail(fault)))
        response = await _respond(request, handler, fault)
        served.requests.append((request.path, request.query_string, response.status))
        return response

    return middleware


async def _respond(request: web.Request, handler: Handler, fault: RestFault | None) -> web.StreamResponse:
    if fault is None:
        return await handler(request)
    if fault.action == "slow":
        await asyncio.sleep(fault.seconds)  # real time: it is the client's real timeout that must expire
        return await handler(request)
    if fault.status >= 400:
        return _error(fault)
    if fault.action == "malformed":
        return web.Response(body=_MALFORMED, content_type="application/json")
    return await _truncated(request, await handler(request))


def _error(fault: RestFault) -> web.Response:
    if fault.status in _ERROR_BODIES:
        code, msg = _ERROR_BODIES[fault.status]
        headers = {"Retry-After": f"{fault.seconds:g}"}
        return web.json_response({"code": code, "msg": msg}, status=fault.status, headers=headers)
    return web.Response(status=fault.status, text=f"<html><body>{fault.status} loopback fault</body></html>")


async def _truncated(request: web.Request, full: web.StreamResponse) -> web.StreamResponse:
    """Announce the whole body's length, send half of it, then drop the connection."""
    body = full.body if isinstance(full, web.Response) and isinstance(full.body, bytes) else b"{}"
    response = web.StreamResponse(status=full.status, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


def _detail(fault: RestFault) -> str:
    return json.dumps({"status": fault.status, "seconds": fault.seconds})
