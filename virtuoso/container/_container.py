"""ServiceContainer and Scope: registrations in, instances out, disposal in reverse order."""

from __future__ import annotations

import inspect
import types
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from virtuoso.container._lifespan import Failure, Lifespan, dispose_async, is_disposable, raise_failures
from virtuoso.container._plan import NO_PLAN, compile_plan
from virtuoso.container._registration import Key, Lifetime, Plan, Registration, describe, key_of
from virtuoso.errors import (
    AsyncFactoryError,
    ContainerError,
    MissingRegistrationError,
    RegistrationError,
    ResolutionError,
    ScopeError,
)

T = TypeVar("T")

# Services are typed as ``Callable[..., T]`` rather than ``type[T]``: mypy refuses
# protocols and abstract classes where ``type[T]`` is expected (error code type-abstract),
# and a Clock protocol is exactly what one registers.
Service = Callable[..., T]

_MISSING: Any = object()
_SINGLETON = Lifetime.SINGLETON
_TRANSIENT = Lifetime.TRANSIENT


class ServiceContainer:
    """Registrations of services and the singletons built from them; see :mod:`virtuoso.container`."""

    def __init__(self) -> None:
        self._registry: dict[Key, Registration] = {}
        self._tracked: set[int] = set()
        self._root = Lifespan(self._tracked)
        self._singletons = self._root.instances
        self._scopes: dict[Scope, None] = {}
        self._disposable: dict[type, bool] = {}
        self._compiled = False
        self._created = False
        self._closed = False

    # -- registering ---------------------------------------------------------------------------------------------

    def register(
        self,
        service: Service[T],
        implementation: Service[T] | None = None,
        *,
        lifetime: Lifetime = Lifetime.SINGLETON,
        name: str | None = None,
    ) -> None:
        """Register a class (``implementation``, or ``service`` itself): its constructor's parameters are injected."""
        provider = service if implementation is None else implementation
        if not isinstance(provider, type):
            raise RegistrationError(f"{describe(service, name)}: register() takes a class; use register_factory()")
        self._add(Registration(service, name, provider, lifetime))

    def register_factory(
        self,
        service: Service[T],
        factory: Callable[..., T] | Callable[..., Any],
        *,
        lifetime: Lifetime = Lifetime.SINGLETON,
        name: str | None = None,
    ) -> None:
        """Register a sync or async callable that returns the instance; its parameters are injected too."""
        label = describe(service, name)
        if not callable(factory):
            raise RegistrationError(f"{label}: the factory {factory!r} is not callable")
        if inspect.isgeneratorfunction(factory) or inspect.isasyncgenfunction(factory):
            raise RegistrationError(f"{label}: the factory is a generator; it must return the instance")
        is_async = inspect.iscoroutinefunction(factory) or inspect.iscoroutinefunction(type(factory).__call__)
        self._add(Registration(service, name, factory, lifetime, is_async=is_async, is_factory=True))

    def register_instance(
        self, service: Service[T], instance: T, *, name: str | None = None, dispose: bool = False
    ) -> None:
        """Register a ready instance; the container disposes it on closing only with ``dispose=True``."""
        registration = Registration(service, name, None, Lifetime.SINGLETON)
        registration.plan = NO_PLAN
        self._add(registration)
        self._singletons[registration.key] = instance
        if dispose:
            self._root.track(registration.label, instance)

    def is_registered(self, service: Service[Any], name: str | None = None) -> bool:
        """Whether ``service`` (under ``name``) has a registration."""
        return key_of(service, name) in self._registry

    def validate(self) -> None:
        """Compile every registration now: missing registrations, cycles and captured scoped services raise here."""
        for registration in list(self._registry.values()):
            self._compile(registration)

    def _add(self, registration: Registration) -> None:
        if self._closed:
            raise ContainerError("the container is closed")
        if registration.key in self._registry and self._created:
            raise RegistrationError(
                f"{registration.label} is already registered and instances were built: replace it before resolving"
            )
        self._registry[registration.key] = registration
        self._singletons.pop(registration.key, None)
        if self._compiled:
            for other in self._registry.values():
                other.plan = NO_PLAN if other.provider is None else None
            self._compiled = False

    def _compile(self, registration: Registration) -> Plan:
        self._compiled = True
        return compile_plan(registration, self._registry, [])

    # -- resolving -----------------------------------------------------------------------------------------------

    def resolve(self, service: Service[T], name: str | None = None) -> T:
        """The instance of ``service``; raises AsyncFactoryError if building it needs an async factory not yet run."""
        instance = self._singletons.get(service if name is None else (service, name), _MISSING)
        if instance is _MISSING:
            instance = self._resolve(service, name, None)
        return instance  # type: ignore[no-any-return]

    async def aresolve(self, service: Service[T], name: str | None = None) -> T:
        """The instance of ``service``, running async factories as needed."""
        instance = self._singletons.get(service if name is None else (service, name), _MISSING)
        if instance is _MISSING:
            instance = await self._aresolve(service, name, None)
        return instance  # type: ignore[no-any-return]

    def _lookup(self, service: object, name: str | None, scope: Lifespan | None) -> Registration:
        if self._closed or (scope is not None and scope.closed):
            raise ContainerError("the scope is closed" if not self._closed else "the container is closed")
        registration = self._registry.get(key_of(service, name))
        if registration is None:
            raise MissingRegistrationError(describe(service, name))
        if registration.plan is None:
            self._compile(registration)
        return registration

    def _resolve(self, service: object, name: str | None, scope: Lifespan | None) -> Any:
        return self._get(self._lookup(service, name, scope), scope)

    async def _aresolve(self, service: object, name: str | None, scope: Lifespan | None) -> Any:
        return await self._aget(self._lookup(service, name, scope), scope)

    def _get(self, reg: Registration, scope: Lifespan | None) -> Any:
        lifetime = reg.lifetime
        if lifetime is _SINGLETON:
            instance = self._singletons.get(reg.key, _MISSING)
            return self._create(reg, None, self._root) if instance is _MISSING else instance
        if lifetime is _TRANSIENT:
            return self._create(reg, scope, scope or self._root)
        if scope is None:
            raise ScopeError(reg.label)
        instance = scope.instances.get(reg.key, _MISSING)
        return self._create(reg, scope, scope) if instance is _MISSING else instance

    def _create(self, reg: Registration, scope: Lifespan | None, owner: Lifespan) -> Any:
        plan = reg.plan or self._compile(reg)
        if reg.is_async:
            raise AsyncFactoryError(reg.label)
        try:
            args = [self._get(dep, scope) for dep in plan.args] if plan.args else ()
            kwargs = self._kwargs(plan, scope)
        except ResolutionError as error:
            error.needed_by(reg.label)
            raise
        instance = reg.provider(*args, **kwargs)  # type: ignore[misc]
        if reg.is_factory and type(instance) is types.CoroutineType:
            instance.close()  # never started: closing it avoids a "never awaited" warning
            reg.is_async = True
            raise AsyncFactoryError(reg.label)
        return self._keep(reg, instance, owner)

    def _kwargs(self, plan: Plan, scope: Lifespan | None) -> dict[str, Any]:
        # Only singletons are ever in self._singletons: a hit there needs no dispatch on the lifetime.
        singletons, get = self._singletons, self._get
        kwargs = {}
        for name, dep in plan.kwargs:
            instance = singletons.get(dep.key, _MISSING)
            kwargs[name] = get(dep, scope) if instance is _MISSING else instance
        return kwargs

    async def _aget(self, reg: Registration, scope: Lifespan | None) -> Any:
        lifetime = reg.lifetime
        if lifetime is _TRANSIENT:
            return await self._acreate(reg, scope, scope or self._root)
        owner = self._root if lifetime is _SINGLETON else scope
        if owner is None:
            raise ScopeError(reg.label)
        instance = owner.instances.get(reg.key, _MISSING)
        if instance is not _MISSING:
            return instance
        return await owner.once(reg.key, lambda: self._acreate(reg, scope if owner is scope else None, owner))

    async def _acreate(self, reg: Registration, scope: Lifespan | None, owner: Lifespan) -> Any:
        plan = reg.plan or self._compile(reg)
        try:
            args = [await self._aget(dep, scope) for dep in plan.args]
            kwargs = {name: await self._aget(dep, scope) for name, dep in plan.kwargs}
        except ResolutionError as error:
            error.needed_by(reg.label)
            raise
        instance = reg.provider(*args, **kwargs)  # type: ignore[misc]
        if reg.is_async or (reg.is_factory and inspect.isawaitable(instance)):
            instance = await instance
        if owner.closed:
            await dispose_async(instance)
            raise ContainerError(f"{reg.label} was built after its scope or container closed, and was disposed")
        return self._keep(reg, instance, owner)

    def _keep(self, reg: Registration, instance: Any, owner: Lifespan) -> Any:
        self._created = True
        if reg.lifetime is not _TRANSIENT:
            owner.instances[reg.key] = instance
        cls = type(instance)
        disposable = self._disposable.get(cls)
        if disposable is None:
            disposable = self._disposable[cls] = is_disposable(cls)
        if disposable:
            owner.track(reg.label, instance)
        return instance

    # -- scopes and disposal -------------------------------------------------------------------------------------

    def scope(self) -> Scope:
        """A new scope (``async with container.scope() as scope:``) for scoped services."""
        if self._closed:
            raise ContainerError("the container is closed")
        scope = Scope(self)
        self._scopes[scope] = None
        return scope

    def undisposed(self) -> list[object]:
        """Instances waiting for disposal by this container or its open scopes, in creation order per owner."""
        owners = [self._root, *(scope._lifespan for scope in self._scopes)]
        return [instance for owner in owners for _, instance in owner.disposables]

    async def aclose(self) -> None:
        """Close open scopes, then dispose every instance the container created, last created first.

        Closing twice is harmless. Every disposer runs even when others fail; the
        failures are then raised as one DisposalError, and a cancellation is
        re-raised after the rest were disposed.
        """
        self._close()
        failures: list[Failure] = []
        cancelled = None
        for owner in self._owners():
            cancelled = await owner.dispose_async(failures) or cancelled
        raise_failures(failures, cancelled)

    def close(self) -> None:
        """Synchronous :meth:`aclose`, for containers whose disposables all close synchronously.

        If one needs an async disposer, nothing is disposed and ContainerError
        names it: use ``await container.aclose()``.
        """
        waiting = [label for owner in self._owners() for label in owner.async_only()]
        if waiting:
            raise ContainerError(f"{', '.join(waiting)} can only be disposed by `await container.aclose()`")
        self._close()
        failures: list[Failure] = []
        for owner in self._owners():
            owner.dispose_sync(failures)
        raise_failures(failures)

    def _close(self) -> None:
        self._closed = True
        for owner in self._owners():
            owner.close()

    def _owners(self) -> list[Lifespan]:
        """Open scopes, last opened first, then the container's own instances."""
        return [*(scope._lifespan for scope in reversed(self._scopes)), self._root]

    def _forget(self, scope: Scope) -> None:
        self._scopes.pop(scope, None)

    async def __aenter__(self) -> ServiceContainer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> ServiceContainer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) or not (self._created or self._root.disposables):
            return
        warnings.warn(
            f"ServiceContainer was never closed; {len(self.undisposed())} instance(s) were not disposed:"
            " use `async with ServiceContainer()` or `await container.aclose()`",
            ResourceWarning,
            source=self,
            stacklevel=1,
        )


class Scope:
    """One unit of work (a recording, a replay run): owns its scoped instances and disposes them on exit.

    Singletons resolved through a scope belong to the container; transients
    resolved through it (or built for its scoped services) belong to the scope.
    """

    def __init__(self, container: ServiceContainer) -> None:
        self._container = container
        self._lifespan = Lifespan(container._tracked)
        self._instances = self._lifespan.instances
        self._singletons = container._singletons

    def resolve(self, service: Service[T], name: str | None = None) -> T:
        """The instance of ``service`` for this scope (see :meth:`ServiceContainer.resolve`)."""
        key = service if name is None else (service, name)
        instance = self._instances.get(key, _MISSING)
        if instance is _MISSING:
            instance = self._singletons.get(key, _MISSING)
            if instance is _MISSING:
                instance = self._container._resolve(service, name, self._lifespan)
        return instance  # type: ignore[no-any-return]

    async def aresolve(self, service: Service[T], name: str | None = None) -> T:
        """The instance of ``service`` for this scope, running async factories as needed."""
        key = service if name is None else (service, name)
        instance = self._instances.get(key, _MISSING)
        if instance is _MISSING:
            instance = self._singletons.get(key, _MISSING)
            if instance is _MISSING:
                instance = await self._container._aresolve(service, name, self._lifespan)
        return instance  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Dispose this scope's instances, last created first (see :meth:`ServiceContainer.aclose`)."""
        self._container._forget(self)
        self._lifespan.close()
        failures: list[Failure] = []
        cancelled = await self._lifespan.dispose_async(failures)
        raise_failures(failures, cancelled)

    def close(self) -> None:
        """Synchronous :meth:`aclose`, for scopes whose disposables all close synchronously."""
        waiting = self._lifespan.async_only()
        if waiting:
            raise ContainerError(f"{', '.join(waiting)} can only be disposed by `await scope.aclose()`")
        self._container._forget(self)
        self._lifespan.close()
        failures: list[Failure] = []
        self._lifespan.dispose_sync(failures)
        raise_failures(failures)

    async def __aenter__(self) -> Scope:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
