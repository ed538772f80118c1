"""ServiceContainer: registrations are recipes; scopes own what they build and dispose it in reverse order.

Register classes (their constructor parameters are injected from type hints),
factories (sync or async; their parameters are injected the same way) or ready
instances, each as a singleton, a transient or a scoped service. A scope is one
unit of work (a recording, a replay run); what it builds dies with it.

>>> import asyncio
>>> from typing import Annotated
>>> class Clock:
...     def __init__(self, start_ns: int = 0) -> None:
...         self.start_ns = start_ns
>>> class Feed:
...     def __init__(self, clock: Annotated[Clock, Named("replay")]) -> None:
...         self.clock = clock
...     async def aclose(self) -> None:
...         print("feed closed")
>>> async def main() -> None:
...     async with ServiceContainer() as container:
...         container.register_instance(Clock, Clock(42), name="replay")
...         container.register(Feed, lifetime=Lifetime.SCOPED)
...         async with container.scope() as run:
...             feed = run.resolve(Feed)
...             print(feed.clock.start_ns, feed is run.resolve(Feed))
...         print("run over")
>>> asyncio.run(main())
42 True
feed closed
run over

See ``docs/container.md`` for lifetimes, disposal and the errors.
"""

from virtuoso.container._container import Scope, ServiceContainer
from virtuoso.container._registration import Lifetime, Named
from virtuoso.errors import (
    AsyncFactoryError,
    ContainerError,
    DependencyCycleError,
    DisposalError,
    MissingRegistrationError,
    RegistrationError,
    ResolutionError,
    ScopeError,
)

__all__ = [
    "AsyncFactoryError",
    "ContainerError",
    "DependencyCycleError",
    "DisposalError",
    "Lifetime",
    "MissingRegistrationError",
    "Named",
    "RegistrationError",
    "ResolutionError",
    "Scope",
    "ScopeError",
    "ServiceContainer",
]
