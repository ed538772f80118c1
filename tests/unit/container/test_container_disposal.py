"""Scopes own what they build; disposal runs in reverse creation order, once, and never hides a failure."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from types import TracebackType

import pytest

from virtuoso.container import Lifetime, ServiceContainer
from virtuoso.errors import ContainerError, DisposalError
from virtuoso.events import Event, EventIdFactory, Trade
from virtuoso.store import BufferedWriter, EventStore, SQLiteEventStore, open_sqlite_store

LOG: list[str] = []


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()


class Closes:
    """Disposed by a sync close()."""

    def close(self) -> None:
        LOG.append(f"close {type(self).__name__}")


class AClose:
    def __init__(self, dep: Closes) -> None:
        self.dep = dep

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        LOG.append("aclose AClose")


class AsyncCloseMethod:
    """close() is a coroutine function, like EventStore.close()."""

    def __init__(self, dep: AClose) -> None:
        self.dep = dep

    async def close(self) -> None:
        LOG.append("async close AsyncCloseMethod")


class ExitOnly:
    def __exit__(self, *exc: object) -> None:
        LOG.append("exit ExitOnly")


class AExitOnly:
    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert (kind, error, tb) == (None, None, None)
        LOG.append("aexit AExitOnly")


class Plain:
    def __init__(self, a: ExitOnly, b: AExitOnly) -> None:
        self.a = a
        self.b = b


class Fails:
    def close(self) -> None:
        LOG.append("close Fails")
        raise RuntimeError("disk gone")


class Cancels:
    async def aclose(self) -> None:
        LOG.append("aclose Cancels")
        raise asyncio.CancelledError


class ScopedDep(Closes):
    pass


class Transient(Closes):
    def __init__(self, dep: ScopedDep) -> None:
        self.dep = dep


class Bar:
    """Has a ``close`` that is data, not a method: not disposable."""

    close = 101.5


def full_graph() -> ServiceContainer:
    container = ServiceContainer()
    container.register(Closes)
    container.register(AClose)
    container.register(AsyncCloseMethod)
    container.register(ExitOnly)
    container.register(AExitOnly)
    container.register(Plain)
    return container


@pytest.mark.asyncio
async def test_every_disposal_protocol_runs_in_reverse_creation_order() -> None:
    async with full_graph() as container:
        container.resolve(AsyncCloseMethod)
        container.resolve(Plain)
        assert LOG == []
    assert LOG == [
        "aexit AExitOnly",
        "exit ExitOnly",
        "async close AsyncCloseMethod",
        "aclose AClose",
        "close Closes",
    ]
    assert container.undisposed() == []


@pytest.mark.asyncio
async def test_disposing_twice_is_harmless() -> None:
    container = full_graph()
    container.resolve(Plain)
    await container.aclose()
    await container.aclose()
    container.close()
    assert LOG == ["aexit AExitOnly", "exit ExitOnly"]


def test_sync_close_disposes_sync_disposables() -> None:
    with ServiceContainer() as container:
        container.register(Closes)
        container.register(ExitOnly)
        container.resolve(ExitOnly)
        container.resolve(Closes)
    assert LOG == ["close Closes", "exit ExitOnly"]


def test_sync_close_refuses_async_only_disposables_and_disposes_nothing() -> None:
    container = full_graph()
    container.resolve(AsyncCloseMethod)
    with pytest.raises(ContainerError, match="AClose, AsyncCloseMethod can only be disposed by `await container"):
        container.close()
    assert LOG == []
    assert len(container.undisposed()) == 3
    asyncio.run(container.aclose())
    assert LOG == ["async close AsyncCloseMethod", "aclose AClose", "close Closes"]


@pytest.mark.asyncio
async def test_a_failing_disposer_does_not_stop_the_others() -> None:
    container = ServiceContainer()
    container.register(Closes)
    container.register(Fails)
    container.register(ExitOnly)
    container.resolve(Closes)
    container.resolve(Fails)
    container.resolve(ExitOnly)
    with pytest.raises(DisposalError) as caught:
        await container.aclose()
    assert LOG == ["exit ExitOnly", "close Fails", "close Closes"]
    assert str(caught.value) == "disposing 1 instance(s) failed: Fails (RuntimeError: disk gone)"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert [what for what, _ in caught.value.failures] == ["Fails"]
    await container.aclose()  # the failed one is not retried


@pytest.mark.asyncio
async def test_cancellation_in_a_disposer_is_reraised_after_the_others_ran() -> None:
    container = ServiceContainer()
    container.register(Closes)
    container.register(Cancels)
    container.register(Fails)
    container.resolve(Closes)
    container.resolve(Fails)
    container.resolve(Cancels)
    with pytest.raises(asyncio.CancelledError) as caught:
        await container.aclose()
    assert LOG == ["aclose Cancels", "close Fails", "close Closes"]
    assert isinstance(caught.value.__cause__, DisposalError)


@pytest.mark.asyncio
async def test_a_cancelled_aclose_is_not_swallowed() -> None:
    started = asyncio.Event()

    class Slow:
        async def aclose(self) -> None:
            started.set()
            await asyncio.Event().wait()

    container = ServiceContainer()
    container.register(Slow)
    container.register(Closes)
    container.resolve(Closes)
    container.resolve(Slow)
    task = asyncio.create_task(container.aclose())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert LOG == ["close Closes"]


@pytest.mark.asyncio
async def test_registered_instances_are_disposed_only_when_asked() -> None:
    kept, owned = Closes(), ExitOnly()
    async with ServiceContainer() as container:
        container.register_instance(Closes, kept)
        container.register_instance(ExitOnly, owned, dispose=True)
        assert container.undisposed() == [owned]
    assert LOG == ["exit ExitOnly"]


@pytest.mark.asyncio
async def test_an_instance_shared_by_two_registrations_is_disposed_once() -> None:
    def same(closes: Closes) -> ScopedDep:
        return closes  # type: ignore[return-value]

    async with ServiceContainer() as container:
        container.register(Closes)
        container.register_factory(ScopedDep, same)
        container.resolve(ScopedDep)
    assert LOG == ["close Closes"]


@pytest.mark.asyncio
async def test_data_named_close_is_not_a_disposer() -> None:
    async with ServiceContainer() as container:
        container.register(Bar)
        container.resolve(Bar)
        assert container.undisposed() == []


@pytest.mark.asyncio
async def test_scoped_instances_live_and_die_with_their_scope() -> None:
    async with ServiceContainer() as container:
        container.register(Closes)
        container.register(ScopedDep, lifetime=Lifetime.SCOPED)
        container.register(Transient, lifetime=Lifetime.TRANSIENT)
        async with container.scope() as first:
            t1 = first.resolve(Transient)
            assert first.resolve(ScopedDep) is t1.dep
            assert first.resolve(Transient) is not t1
            singleton = first.resolve(Closes)
        assert LOG == ["close Transient", "close Transient", "close ScopedDep"]
        async with container.scope() as second:
            assert await second.aresolve(ScopedDep) is not t1.dep
            assert second.resolve(Closes) is singleton  # singletons belong to the container
        assert LOG[3:] == ["close ScopedDep"]
    assert LOG[4:] == ["close Closes"]


@pytest.mark.asyncio
async def test_a_closed_scope_refuses_resolution_and_closes_once() -> None:
    async with ServiceContainer() as container:
        container.register(ScopedDep, lifetime=Lifetime.SCOPED)
        scope = container.scope()
        scope.resolve(ScopedDep)
        await scope.aclose()
        await scope.aclose()
        scope.close()
        with pytest.raises(ContainerError, match="the scope is closed"):
            scope.resolve(ScopedDep)
    assert LOG == ["close ScopedDep"]


@pytest.mark.asyncio
async def test_closing_the_container_closes_open_scopes_first() -> None:
    container = ServiceContainer()
    container.register(Closes)
    container.register(ScopedDep, lifetime=Lifetime.SCOPED)
    first, second = container.scope(), container.scope()
    first.resolve(ScopedDep)
    container.resolve(Closes)
    second.resolve(ScopedDep)
    assert len(container.undisposed()) == 3
    await container.aclose()
    assert LOG == ["close ScopedDep", "close ScopedDep", "close Closes"]
    assert container.undisposed() == []
    await first.aclose()
    assert len(LOG) == 3


def test_a_sync_scope_disposes_its_instances() -> None:
    with ServiceContainer() as container:
        container.register(ScopedDep, lifetime=Lifetime.SCOPED)
        with container.scope() as scope:
            scope.resolve(ScopedDep)
        assert LOG == ["close ScopedDep"]


def test_an_unclosed_container_that_built_instances_warns() -> None:
    def abandon_in_a_cycle() -> None:
        container = ServiceContainer()
        container.register_instance(ServiceContainer, container)  # a reference cycle: only gc frees it
        container.register(Closes)
        container.resolve(Closes)

    def abandon_and_collect() -> None:
        abandon_in_a_cycle()
        gc.collect()

    with pytest.warns(ResourceWarning, match="ServiceContainer was never closed; 1 instance"):
        abandon_and_collect()
    assert LOG == []


def test_a_closed_or_unused_container_does_not_warn() -> None:
    def close_it() -> None:
        container = ServiceContainer()
        container.register(Closes)
        container.resolve(Closes)
        container.close()

    def never_use() -> None:
        ServiceContainer().register(Closes)

    close_it()
    never_use()
    gc.collect()  # with warnings as errors (pytest.ini), a ResourceWarning here fails the test


# -- a full run on a real event log ---------------------------------------------------------------------------------


class Recording:
    """A scoped unit of work: appends trades through a writer of the shared store."""

    def __init__(self, store: EventStore, writer: BufferedWriter) -> None:
        self.store = store
        self.writer = writer


async def open_store(path: Path) -> SQLiteEventStore:
    return await open_sqlite_store(path)


@pytest.mark.asyncio
async def test_a_full_run_leaves_nothing_undisposed(tmp_path: Path) -> None:
    created: list[object] = []

    def writer(store: EventStore) -> BufferedWriter:
        created.append(w := store.writer(max_events=10))
        return w

    async def store_factory() -> SQLiteEventStore:
        created.append(s := await open_store(tmp_path / "events.sqlite"))
        return s

    async with ServiceContainer() as container:
        container.register_factory(EventStore, store_factory)
        container.register_factory(BufferedWriter, writer, lifetime=Lifetime.SCOPED)
        container.register(Recording, lifetime=Lifetime.SCOPED)
        store = await container.aresolve(EventStore)
        for run in range(2):
            session = await store.begin_session(f"run{run}", "test", started_ns=run + 1)
            ids = EventIdFactory(session.id)
            async with container.scope() as scope:
                recording = await scope.aresolve(Recording)
                trade = Trade(58000.0, 0.5, "buy", str(run))
                await recording.writer.write(Event(ids(10), "binance:BTC/USDT:trades", 10, 11, session.id, trade))
            assert recording.writer.written == 1  # closing the scope flushed and closed the writer
        assert container.undisposed() == [store]
    assert container.undisposed() == []
    assert [type(obj).__name__ for obj in created] == ["SQLiteEventStore", "BufferedWriter", "BufferedWriter"]
    with pytest.raises(Exception, match="closed"):
        await store.max_position()
    reopened = await open_sqlite_store(tmp_path / "events.sqlite", readonly=True)
    try:
        assert await reopened.max_position() == 4  # two SessionStarted and two trades
    finally:
        await reopened.close()
