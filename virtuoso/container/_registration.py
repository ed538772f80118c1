"""Registrations: what the container knows about a service before it builds one."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Lifetime(enum.Enum):
    """How long an instance lives, and who shares it."""

    SINGLETON = "singleton"
    """One instance for the container, created on first use, disposed when the container closes."""
    TRANSIENT = "transient"
    """A new instance every time; disposed with the scope (or container) that created it."""
    SCOPED = "scoped"
    """One instance per scope, disposed when the scope closes; cannot be resolved outside a scope."""


@dataclass(frozen=True, slots=True)
class Named:
    """Asks for a named registration in a parameter's type hint: ``Annotated[Clock, Named("replay")]``."""

    name: str


Key = Any
"""The lookup key of a registration: the service itself, or ``(service, name)`` when named."""


def key_of(service: object, name: str | None) -> Key:
    """The registry key of ``service`` under ``name`` (an unnamed key is the service itself: no tuple to build)."""
    return service if name is None else (service, name)


def describe(service: object, name: str | None) -> str:
    """How errors name a service: its class name, plus the registration's name if it has one."""
    label = getattr(service, "__qualname__", None) or repr(service)
    return label if name is None else f"{label} named {name!r}"


@dataclass(frozen=True, slots=True)
class Plan:
    """How to call a provider: registrations to resolve for its positional and keyword parameters.

    Built once per registration from its type hints (see ``_plan.py``) and
    dropped whenever a registration is added, since a new one can change what a
    parameter resolves to.
    """

    args: tuple[Registration, ...]
    kwargs: tuple[tuple[str, Registration], ...]
    scoped: str | None
    """The scoped service that building it reaches (itself, or through transients); singletons reach none."""


class Registration:
    """One recipe: a provider (class or factory), its lifetime, and its compiled plan once known."""

    __slots__ = ("is_async", "is_factory", "key", "label", "lifetime", "plan", "provider")

    def __init__(
        self,
        service: object,
        name: str | None,
        provider: Callable[..., Any] | None,
        lifetime: Lifetime,
        *,
        is_async: bool = False,
        is_factory: bool = False,
    ) -> None:
        self.key: Key = key_of(service, name)
        self.label = describe(service, name)
        self.provider = provider
        self.lifetime = lifetime
        self.is_async = is_async
        self.is_factory = is_factory
        self.plan: Plan | None = None

    def __repr__(self) -> str:
        return f"<Registration {self.label} {self.lifetime.value}>"
