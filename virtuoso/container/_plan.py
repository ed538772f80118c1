"""Compiling a registration into a :class:`Plan`: its parameters, read once from type hints.

Compiling walks the dependency graph depth first, which is where missing
registrations, cycles and scoped services captured by singletons are found,
before anything is built. Resolving afterwards only follows the plans.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from virtuoso.container._registration import Key, Lifetime, Named, Plan, Registration, describe, key_of
from virtuoso.errors import (
    DependencyCycleError,
    MissingRegistrationError,
    RegistrationError,
    ResolutionError,
    ScopeError,
)

_INJECTABLE = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)
NO_PLAN = Plan((), (), None)
"""The plan of an instance registration: nothing to call."""


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    positional: bool
    has_default: bool
    service: object
    """The hinted type, ``Annotated`` and ``| None`` stripped; None when there is no hint."""
    service_name: str | None


def compile_plan(reg: Registration, registry: Mapping[Key, Registration], path: list[Registration]) -> Plan:
    """The plan of ``reg``, compiling its dependencies first; ``path`` is the registrations being compiled."""
    if reg.plan is not None:
        return reg.plan
    if reg in path:
        cycle = [*path[path.index(reg) :], reg]
        raise DependencyCycleError([r.label for r in cycle])
    path.append(reg)
    try:
        reg.plan = _compile(reg, registry, path)
    finally:
        path.pop()
    return reg.plan


def _compile(reg: Registration, registry: Mapping[Key, Registration], path: list[Registration]) -> Plan:
    args: list[Registration] = []
    kwargs: list[tuple[str, Registration]] = []
    scoped = reg.label if reg.lifetime is Lifetime.SCOPED else None
    skipped_positional = False
    for param in _parameters(reg):
        try:
            dep = _dependency(reg, param, registry)
            reached = compile_plan(dep, registry, path).scoped if dep is not None else None
        except ResolutionError as error:
            error.needed_by(reg.label)
            raise
        if dep is None:
            skipped_positional = skipped_positional or param.positional
            continue
        if reached is not None and reg.lifetime is Lifetime.SINGLETON:
            raise ScopeError(reached, singleton=reg.label)
        scoped = scoped or reached
        if not param.positional:
            kwargs.append((param.name, dep))
        elif skipped_positional:
            raise RegistrationError(f"{reg.label}: positional-only {param.name!r} follows one left to its default")
        else:
            args.append(dep)
    return Plan(tuple(args), tuple(kwargs), scoped)


def _dependency(reg: Registration, param: _Param, registry: Mapping[Key, Registration]) -> Registration | None:
    """The registration to inject into ``param``, or None to leave it to its default."""
    if param.service is None:
        if param.has_default:
            return None
        raise RegistrationError(f"cannot inject parameter {param.name!r} of {reg.label}: no type hint and no default")
    dep = registry.get(key_of(param.service, param.service_name))
    if dep is None and not param.has_default:
        raise MissingRegistrationError(describe(param.service, param.service_name))
    return dep


def _parameters(reg: Registration) -> list[_Param]:
    provider = reg.provider
    assert provider is not None, "instance registrations have no parameters"
    try:
        signature = inspect.signature(provider)
        hints = get_type_hints(_hinted(provider), include_extras=True)
    except (NameError, TypeError, ValueError) as error:
        raise RegistrationError(f"cannot read the parameters of {reg.label}: {error}") from error
    return [_param(p, hints.get(p.name)) for p in signature.parameters.values() if p.kind in _INJECTABLE]


def _hinted(provider: Callable[..., Any]) -> Any:
    """The object whose annotations describe ``provider``'s parameters."""
    if isinstance(provider, type):
        init = getattr(provider, "__init__", None)
        return init if inspect.isfunction(init) else provider  # e.g. msgspec structs: fields are the parameters
    if isinstance(provider, functools.partial):
        return _hinted(provider.func)
    if inspect.isfunction(provider) or inspect.ismethod(provider):
        return provider
    return type(provider).__call__


def _param(parameter: inspect.Parameter, hint: object) -> _Param:
    service, name = _unwrap(hint)
    return _Param(
        parameter.name,
        parameter.kind is inspect.Parameter.POSITIONAL_ONLY,
        parameter.default is not inspect.Parameter.empty,
        service,
        name,
    )


def _unwrap(hint: object) -> tuple[object, str | None]:
    """``Annotated[T, Named(n)]`` -> (T, n); ``T | None`` -> T; anything else as it is."""
    name = None
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        name = next((extra.name for extra in extras if isinstance(extra, Named)), None)
    if get_origin(hint) in (Union, types.UnionType):
        members = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(members) == 1:
            hint = members[0]
    return hint, name
