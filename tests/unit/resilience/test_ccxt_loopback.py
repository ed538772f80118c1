"""Real ccxt against a loopback HTTP server: what it raises, and the headers ResilientCall reads Retry-After from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from aiohttp import web

from tests.unit.resilience._fakes import FakeSleep
from virtuoso.clock import ReplayClock
from virtuoso.errors import AuthenticationFailed
from virtuoso.resilience import CircuitBreaker, ResilientCall, RetryPolicy

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


class Venue:
    """Answers 429 with Retry-After for the first ``limited`` requests to /time, then 200."""

    def __init__(self, limited: int) -> None:
        self.limited = limited
        self.requests = 0

    async def time(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.requests <= self.limited:
            body = '{"code":-1003,"msg":"Too many requests"}'
            return web.Response(status=429, text=body, content_type="application/json", headers={"Retry-After": "3"})
        return web.json_response({"serverTime": 1723161255000})

    async def account(self, request: web.Request) -> web.Response:
        body = f'{{"code":-2015,"msg":"Invalid API-key {API_KEY}"}}'
        return web.Response(status=401, text=body, content_type="application/json")


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[tuple[Venue, str]]:
    state = Venue(limited=2)
    app = web.Application()
    app.router.add_get("/time", state.time)
    app.router.add_get("/account", state.account)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_429_is_retried_after_the_venues_retry_after(venue: tuple[Venue, str]) -> None:
    state, base = venue
    exchange = ccxt_async.binance({"timeout": 3000})
    clock = ReplayClock(0)
    sleep = FakeSleep(clock)
    breaker = CircuitBreaker("binance:rest", clock)
    guard = ResilientCall(
        breaker,
        RetryPolicy(max_delay_s=0.5, seed=1),
        exchange="binance",
        operation_family="rest",
        sleep=sleep,
        headers=lambda: exchange.last_response_headers,
    )
    try:
        result = await asyncio.wait_for(guard(lambda: exchange.fetch(f"{base}/time", "GET", {}, None)), 10)
    finally:
        await exchange.close()

    assert result == {"serverTime": 1723161255000}
    assert state.requests == 3
    assert sleep.waits == [3.0, 3.0]
    assert breaker.failures == 2


@pytest.mark.asyncio
async def test_a_401_is_permanent_and_carries_no_credentials(venue: tuple[Venue, str]) -> None:
    _, base = venue
    exchange = ccxt_async.binance({"timeout": 3000, "apiKey": API_KEY, "secret": "s"})
    clock = ReplayClock(0)
    guard = ResilientCall(
        CircuitBreaker("binance:rest", clock),
        RetryPolicy(seed=1),
        exchange="binance",
        operation_family="rest",
        sleep=FakeSleep(clock),
        secrets=[API_KEY, "s"],
    )
    url = f"{base}/account?timestamp=1723161255000&signature=c8db56825ae71d6d79447849e617115f"
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await asyncio.wait_for(guard(lambda: exchange.fetch(url, "GET", {"X-MBX-APIKEY": API_KEY}, None)), 10)
    finally:
        await exchange.close()

    text = str(caught.value)
    assert API_KEY not in text
    assert "c8db56825ae71d6d79447849e617115f" not in text
    assert text == 'binance rest: binance {"code":-2015,"msg":"Invalid API-key ***"}'
