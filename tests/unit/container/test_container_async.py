"""Async factories: awaited once per singleton or scope, even when several tasks ask at the same time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from virtuoso.container import Lifetime, ServiceContainer
from virtuoso.errors import ContainerError


class Connection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class Session:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class Opener:
    """An async factory that counts its calls and can be held open by a gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()

    async def __call__(self) -> Connection:
        self.calls += 1
        self.entered.set()
        await self.gate.wait()
        return Connection(self.calls)


@pytest.mark.asyncio
async def test_an_async_factory_is_awaited_and_then_resolvable_synchronously() -> None:
    opener = Opener()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener)
        container.register(Session, lifetime=Lifetime.TRANSIENT)
        session = await container.aresolve(Session)
        assert session.connection.number == 1
        assert container.resolve(Session).connection is session.connection  # the async singleton exists now
    assert session.connection.closed
    assert opener.calls == 1


@pytest.mark.asyncio
async def test_concurrent_resolutions_of_an_async_singleton_build_it_once() -> None:
    opener = Opener()
    opener.gate.clear()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener)
        tasks = [asyncio.create_task(container.aresolve(Connection)) for _ in range(5)]
        await opener.entered.wait()
        opener.gate.set()
        results = await asyncio.gather(*tasks)
    assert opener.calls == 1
    assert all(result is results[0] for result in results)


@pytest.mark.asyncio
async def test_concurrent_scopes_each_get_their_own_scoped_instance() -> None:
    opener = Opener()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener, lifetime=Lifetime.SCOPED)
        async with container.scope() as first, container.scope() as second:
            a, b, a2 = await asyncio.gather(
                first.aresolve(Connection), second.aresolve(Connection), first.aresolve(Connection)
            )
            assert a is a2
            assert a is not b
        assert a.closed
        assert b.closed
    assert opener.calls == 2


@pytest.mark.asyncio
async def test_a_failing_async_factory_fails_every_waiter_and_can_be_retried() -> None:
    attempts = []

    async def flaky() -> Connection:
        attempts.append(1)
        await asyncio.sleep(0)
        if len(attempts) == 1:
            raise ConnectionError("exchange down")
        return Connection(len(attempts))

    async with ServiceContainer() as container:
        container.register_factory(Connection, flaky)
        results = await asyncio.gather(*(container.aresolve(Connection) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(result, ConnectionError) for result in results)
        assert (await container.aresolve(Connection)).number == 2


@pytest.mark.asyncio
async def test_when_the_creating_task_is_cancelled_a_waiter_creates_it_instead() -> None:
    opener = Opener()
    opener.gate.clear()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener)
        creator = asyncio.create_task(container.aresolve(Connection))
        await opener.entered.wait()
        waiter = asyncio.create_task(container.aresolve(Connection))
        await asyncio.sleep(0)
        creator.cancel()
        with pytest.raises(asyncio.CancelledError):
            await creator
        opener.gate.set()
        connection = await waiter
    assert opener.calls == 2
    assert connection.number == 2
    assert connection.closed


@pytest.mark.asyncio
async def test_a_cancelled_waiter_does_not_cancel_the_creation() -> None:
    opener = Opener()
    opener.gate.clear()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener)
        creator = asyncio.create_task(container.aresolve(Connection))
        await opener.entered.wait()
        waiter = asyncio.create_task(container.aresolve(Connection))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        opener.gate.set()
        assert (await creator).number == 1
    assert opener.calls == 1


@pytest.mark.asyncio
async def test_a_lambda_returning_a_coroutine_is_awaited_by_aresolve() -> None:
    async def open_connection(number: int) -> Connection:
        return Connection(number)

    async with ServiceContainer() as container:

        def not_marked_async() -> Any:
            return open_connection(9)

        container.register_factory(Connection, not_marked_async)
        assert (await container.aresolve(Connection)).number == 9


@pytest.mark.asyncio
async def test_an_instance_built_after_its_scope_closed_is_disposed_at_once() -> None:
    opener = Opener()
    opener.gate.clear()
    async with ServiceContainer() as container:
        container.register_factory(Connection, opener, lifetime=Lifetime.SCOPED)
        scope = container.scope()
        pending = asyncio.create_task(scope.aresolve(Connection))
        await opener.entered.wait()
        await scope.aclose()
        opener.gate.set()
        with pytest.raises(ContainerError, match="Connection was built after its scope or container closed"):
            await pending
        assert container.undisposed() == []


@pytest.mark.asyncio
async def test_async_scoped_and_transient_instances_belong_to_the_scope() -> None:
    async def connect() -> Connection:
        return Connection(1)

    async with ServiceContainer() as container:
        container.register_factory(Connection, connect, lifetime=Lifetime.TRANSIENT)
        container.register(Session, lifetime=Lifetime.SCOPED)
        async with container.scope() as scope:
            session = await scope.aresolve(Session)
            assert await scope.aresolve(Session) is session
            extra = await scope.aresolve(Connection)
            assert container.undisposed() == [session.connection, extra]
        assert session.connection.closed
        assert extra.closed
