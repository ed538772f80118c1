"""Disposal order for random dependency graphs, lifetimes, disposal protocols and scope sequences.

The model assigns each created instance to its owner the way the container
documents it: singletons (and what is built for them) to the container, scoped
instances to their scope, transients to whoever they were built for. Then it
checks that every created disposable is disposed exactly once, that each close
disposes exactly its owner's instances in reverse creation order, and that no
instance is disposed after one of its dependencies.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.container import Lifetime, ServiceContainer
from virtuoso.errors import ScopeError

SYNC_KINDS = ("none", "close", "exit")
ASYNC_KINDS = (*SYNC_KINDS, "aclose", "async close", "aexit")
ROOT = "root"


class Node:
    """An instance of a graph node: records its creation and disposal in the shared log."""

    def __init__(self, log: list[tuple[str, int]], serial: int, node: int, deps: list[Node]) -> None:
        self.log = log
        self.serial = serial
        self.node = node
        self.deps = deps
        log.append(("create", serial))

    def _disposed(self) -> None:
        self.log.append(("dispose", self.serial))


def _close(self: Node) -> None:
    self._disposed()


async def _aclose(self: Node) -> None:
    await asyncio.sleep(0)
    self._disposed()


def _exit(self: Node, *exc: object) -> None:
    self._disposed()


async def _aexit(self: Node, *exc: object) -> None:
    self._disposed()


METHODS: dict[str, dict[str, Callable[..., Any]]] = {
    "none": {},
    "close": {"close": _close},
    "exit": {"__exit__": _exit},
    "aclose": {"aclose": _aclose},
    "async close": {"close": _aclose},
    "aexit": {"__aexit__": _aexit},
}


@dataclass(frozen=True)
class Spec:
    lifetime: Lifetime
    kind: str
    deps: tuple[int, ...]
    is_async: bool


@dataclass
class Graph:
    specs: list[Spec]
    reaches_scope: list[bool]
    use_async: bool


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A random DAG (node i depends on nodes below i) with lifetimes a container accepts."""
    use_async = draw(st.booleans())
    specs: list[Spec] = []
    reaches: list[bool] = []
    for i in range(draw(st.integers(1, 7))):
        deps = tuple(sorted(draw(st.sets(st.integers(0, i - 1), max_size=3)))) if i else ()
        lifetime = draw(st.sampled_from(list(Lifetime)))
        reached = any(reaches[d] for d in deps)
        if lifetime is Lifetime.SINGLETON and reached:
            lifetime = Lifetime.SCOPED  # a singleton may not capture a scoped service; scoped may need anything
        kind = draw(st.sampled_from(ASYNC_KINDS if use_async else SYNC_KINDS))
        specs.append(Spec(lifetime, kind, deps, use_async and draw(st.booleans())))
        reaches.append(lifetime is Lifetime.SCOPED or (lifetime is Lifetime.TRANSIENT and reached))
    return Graph(specs, reaches, use_async)


Step = tuple[str, int, int]
"""("resolve", scope or -1 for the container, node) or ("close", scope, 0)."""

_resolve_step = st.tuples(st.just("resolve"), st.integers(-1, 2), st.integers(0, 6))
steps = st.lists(
    st.one_of(_resolve_step, _resolve_step, _resolve_step, st.tuples(st.just("close"), st.integers(0, 2), st.just(0))),
    min_size=1,
    max_size=20,
)


@dataclass
class World:
    """The container under test, the log its instances write, and the model of who owns what."""

    graph: Graph
    container: ServiceContainer = field(default_factory=ServiceContainer)
    log: list[tuple[str, int]] = field(default_factory=list)
    types: list[type] = field(default_factory=list)
    owner: dict[int, str] = field(default_factory=dict)
    created: dict[int, Node] = field(default_factory=dict)
    scopes: dict[int, tuple[Any, str]] = field(default_factory=dict)
    """Open scopes by slot, with the name the model gives each opening."""
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    def register(self) -> None:
        for i, spec in enumerate(self.graph.specs):
            self.types.append(type(f"N{i}", (Node,), dict(METHODS[spec.kind])))
            self.container.register_factory(self.types[i], self._factory(i, spec), lifetime=spec.lifetime)

    def _factory(self, i: int, spec: Spec) -> Callable[..., Any]:
        def build(**deps: Node) -> Node:
            serial = len(self.created)
            node = self.types[i](self.log, serial, i, [deps[f"d{d}"] for d in spec.deps])
            self.created[serial] = node
            return node

        async def abuild(**deps: Node) -> Node:
            await asyncio.sleep(0)
            return build(**deps)

        factory = abuild if spec.is_async else build
        params = [inspect.Parameter(f"d{d}", inspect.Parameter.KEYWORD_ONLY) for d in spec.deps]
        factory.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        factory.__annotations__ = {f"d{d}": self.types[d] for d in spec.deps}
        return factory

    def claim(self, node: Node, context: str) -> None:
        """Assign ``node`` and what was built with it to their owners, as the container documents."""
        if node.serial in self.owner:
            return
        lifetime = self.graph.specs[node.node].lifetime
        owner = ROOT if lifetime is Lifetime.SINGLETON else context
        self.owner[node.serial] = owner
        for dep in node.deps:
            self.claim(dep, owner)

    def claim_rest(self, context: str) -> None:
        """After a failed resolve: what it built before failing belongs to the context (or the container)."""
        for serial, node in self.created.items():
            if serial not in self.owner:
                self.claim(node, context)

    def owned(self, owner: str) -> list[int]:
        """Serials of ``owner``'s disposable instances, newest first: the order they must be disposed in."""
        mine = [serial for serial, o in self.owner.items() if o == owner]
        return sorted((s for s in mine if self.graph.specs[self.created[s].node].kind != "none"), reverse=True)

    def disposed_since(self, mark: int) -> list[int]:
        return [serial for event, serial in self.log[mark:] if event == "dispose"]


def run_steps(world: World, plan: list[Step]) -> None:
    asyncio.run(_run(world, plan))


async def _run(world: World, plan: list[Step]) -> None:
    world.register()
    for action, where, raw_node in plan:
        if action == "resolve" and raw_node < len(world.graph.specs):
            await _resolve(world, where, raw_node)
        elif action == "close" and where in world.scopes:
            await _close_scope(world, where)
    await _close_container(world)


async def _resolve(world: World, where: int, node: int) -> None:
    if where >= 0 and where not in world.scopes:
        world.scopes[where] = (world.container.scope(), f"scope{len(world.opened)}")
        world.opened.append(world.scopes[where][1])
    target, context = (world.container, ROOT) if where < 0 else world.scopes[where]
    service = world.types[node]
    try:
        instance = await target.aresolve(service) if world.graph.use_async else target.resolve(service)
    except ScopeError:
        assert where < 0, "only a resolution at the container level may lack a scope"
        assert world.graph.reaches_scope[node]
        world.claim_rest(ROOT)
        return
    assert not (where < 0 and world.graph.reaches_scope[node])
    world.claim(instance, context)


async def _close_scope(world: World, where: int) -> None:
    scope, context = world.scopes.pop(where)
    world.closed.append(context)
    mark = len(world.log)
    await scope.aclose() if world.graph.use_async else scope.close()
    assert world.disposed_since(mark) == world.owned(context), f"closing {context}"


async def _close_container(world: World) -> None:
    mark = len(world.log)
    await world.container.aclose() if world.graph.use_async else world.container.close()
    still_open = [context for context in world.opened if context not in world.closed]
    expected = [serial for context in reversed(still_open) for serial in world.owned(context)]
    assert world.disposed_since(mark) == expected + world.owned(ROOT)
    assert world.container.undisposed() == []


def check_log(world: World) -> None:
    created = [serial for event, serial in world.log if event == "create"]
    disposed = [serial for event, serial in world.log if event == "dispose"]
    disposables = [s for s in created if world.graph.specs[world.created[s].node].kind != "none"]
    assert sorted(disposed) == sorted(disposables), "every created disposable is disposed exactly once"
    when = {serial: i for i, serial in enumerate(disposed)}
    for serial in disposed:
        for dep in world.created[serial].deps:
            if dep.serial in when:
                assert when[dep.serial] > when[serial], "a dependency outlives what depends on it"


@settings(max_examples=300, deadline=None)
@given(graph=graphs(), plan=steps)
def test_disposal_follows_ownership_and_reverse_creation_order(graph: Graph, plan: list[Step]) -> None:
    world = World(graph)
    run_steps(world, plan)
    check_log(world)
    assert world.owner.keys() == world.created.keys(), "the model assigned every instance"
