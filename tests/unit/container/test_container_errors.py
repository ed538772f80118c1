"""Errors name what went wrong and the whole resolution chain that led there."""

from __future__ import annotations

from typing import Any

import pytest

from virtuoso.container import Lifetime, ServiceContainer
from virtuoso.errors import (
    AsyncFactoryError,
    ContainerError,
    DependencyCycleError,
    MissingRegistrationError,
    ScopeError,
    VirtuosoError,
)


class Clock:
    pass


class Replayer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


class EventBus:
    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer


class A:
    def __init__(self, b: B) -> None:
        self.b = b


class B:
    def __init__(self, c: C) -> None:
        self.c = c


class C:
    def __init__(self, a: A) -> None:
        self.a = a


class Run:
    """A scoped service."""


class Report:
    def __init__(self, run: Run) -> None:
        self.run = run


class Cache:
    def __init__(self, report: Report) -> None:
        self.report = report


@pytest.fixture
def container() -> ServiceContainer:
    c = ServiceContainer()
    yield c
    c.close()


def test_container_errors_are_virtuoso_errors() -> None:
    for error in (MissingRegistrationError, DependencyCycleError, ScopeError, AsyncFactoryError):
        assert issubclass(error, ContainerError)
    assert issubclass(ContainerError, VirtuosoError)


def test_a_missing_registration_names_the_whole_chain(container: ServiceContainer) -> None:
    container.register(EventBus)
    container.register(Replayer)
    with pytest.raises(MissingRegistrationError) as caught:
        container.resolve(EventBus)
    assert str(caught.value) == "no registration for Clock (needed by Replayer <- EventBus)"
    assert caught.value.service == "Clock"
    assert caught.value.chain == ["Replayer", "EventBus"]


def test_a_missing_root_registration_says_just_that(container: ServiceContainer) -> None:
    with pytest.raises(MissingRegistrationError, match=r"^no registration for Clock$"):
        container.resolve(Clock)
    with pytest.raises(MissingRegistrationError, match=r"^no registration for Clock named 'replay'$"):
        container.resolve(Clock, "replay")


def test_a_dependency_cycle_is_named(container: ServiceContainer) -> None:
    container.register(A)
    container.register(B)
    container.register(C)
    with pytest.raises(DependencyCycleError, match=r"^dependency cycle: B -> C -> A -> B$") as caught:
        container.resolve(B)
    assert caught.value.cycle == ["B", "C", "A", "B"]


def test_a_self_dependency_is_a_cycle(container: ServiceContainer) -> None:
    def make(clock: Clock) -> Clock:
        return clock

    container.register_factory(Clock, make)
    with pytest.raises(DependencyCycleError, match=r"^dependency cycle: Clock -> Clock$"):
        container.resolve(Clock)


def test_validate_finds_errors_before_anything_is_built(container: ServiceContainer) -> None:
    container.register(EventBus)
    container.register(Replayer)
    with pytest.raises(MissingRegistrationError, match="Clock"):
        container.validate()
    container.register(Clock)
    container.validate()
    assert container.undisposed() == []


def test_a_scoped_service_outside_a_scope_says_so(container: ServiceContainer) -> None:
    container.register(Run, lifetime=Lifetime.SCOPED)
    container.register(Report, lifetime=Lifetime.TRANSIENT)
    with pytest.raises(ScopeError, match=r"^Run is scoped: resolve it inside `async with container.scope\(\)`$"):
        container.resolve(Run)
    with pytest.raises(ScopeError) as caught:
        container.resolve(Report)
    assert str(caught.value).endswith("(needed by Report)")


@pytest.mark.asyncio
async def test_a_scoped_service_outside_a_scope_says_so_async(container: ServiceContainer) -> None:
    container.register(Run, lifetime=Lifetime.SCOPED)
    container.register(Report, lifetime=Lifetime.TRANSIENT)
    with pytest.raises(ScopeError, match=r"^Run is scoped: .* \(needed by Report\)$"):
        await container.aresolve(Report)


def test_a_singleton_cannot_capture_a_scoped_service(container: ServiceContainer) -> None:
    container.register(Run, lifetime=Lifetime.SCOPED)
    container.register(Report, lifetime=Lifetime.TRANSIENT)
    container.register(Cache)
    with pytest.raises(ScopeError, match=r"^Run is scoped and cannot be injected into singleton Cache"):
        container.validate()


@pytest.mark.asyncio
async def test_a_singleton_cannot_capture_a_scoped_service_even_inside_a_scope(container: ServiceContainer) -> None:
    container.register(Run, lifetime=Lifetime.SCOPED)
    container.register(Report, lifetime=Lifetime.TRANSIENT)
    container.register(Cache)
    async with container.scope() as scope:
        assert scope.resolve(Report).run is scope.resolve(Run)
        with pytest.raises(ScopeError, match="cannot be injected into singleton Cache"):
            scope.resolve(Cache)


def test_resolve_refuses_an_async_factory_that_has_not_run(container: ServiceContainer) -> None:
    async def make_clock() -> Clock:
        return Clock()

    container.register_factory(Clock, make_clock)
    container.register(Replayer)
    container.register(EventBus)
    with pytest.raises(AsyncFactoryError) as caught:
        container.resolve(EventBus)
    assert str(caught.value) == (
        "Clock has an async factory that has not run yet: use `await aresolve(...)` (needed by Replayer <- EventBus)"
    )


def test_a_sync_factory_returning_a_coroutine_is_caught(container: ServiceContainer) -> None:
    async def open_clock() -> Clock:
        return Clock()

    def not_marked_async() -> Any:
        return open_clock()

    container.register_factory(Clock, not_marked_async)
    with pytest.raises(AsyncFactoryError, match=r"^Clock has an async factory"):
        container.resolve(Clock)
    with pytest.raises(AsyncFactoryError):  # now known to be async: refused before it is called
        container.resolve(Clock)


def test_errors_raised_by_a_constructor_pass_through_unchanged(container: ServiceContainer) -> None:
    class Broken:
        def __init__(self) -> None:
            raise KeyError("boom")

    container.register(Broken)
    with pytest.raises(KeyError, match="boom"):
        container.resolve(Broken)


def test_a_closed_container_refuses_everything() -> None:
    container = ServiceContainer()
    container.register(Clock)
    container.resolve(Clock)
    container.close()
    with pytest.raises(ContainerError, match="the container is closed"):
        container.resolve(Clock)
    with pytest.raises(ContainerError, match="the container is closed"):
        container.register(Replayer)
    with pytest.raises(ContainerError, match="the container is closed"):
        container.scope()
