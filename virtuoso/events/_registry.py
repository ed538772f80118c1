"""Type registry: event type names and schema versions to payload classes.

Payload classes register with :func:`event_type`. A stored payload written under an
older schema version is upcast on read by the chain of upcasters registered for its
type, one step per version, before it is converted into today's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import msgspec

from virtuoso.errors import EventDecodeError, UnknownEventType, UsageError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Payload(msgspec.Struct, frozen=True, gc=False):
    """Base of every event payload: an immutable, typed msgspec Struct.

    Subclasses set ``TYPE`` (the stable type name stored in the log), ``SCHEMA``
    (bumped whenever the stored shape changes) and ``TOPIC`` (the bus topic), and
    register with :func:`event_type`.
    """

    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1
    TOPIC: ClassVar[str] = ""


P = TypeVar("P", bound=type[Payload])


@dataclass(frozen=True, slots=True)
class Kind:
    """How to decode one stored ``(type, schema)`` pair."""

    type_name: str
    schema: int
    cls: type[Payload]
    decoder: msgspec.json.Decoder[Any]
    upcasters: tuple[Upcaster, ...] = ()

    def decode(self, data: bytes, position: int | None = None) -> Payload:
        """Decode ``data`` (JSON) into the current class, upcasting if needed."""
        try:
            if not self.upcasters:
                payload: Payload = self.decoder.decode(data)
                return payload
            raw = _RAW_DECODER.decode(data)
            for step in self.upcasters:
                raw = step(raw)
            return msgspec.convert(raw, self.cls)
        except (msgspec.ValidationError, msgspec.DecodeError, TypeError, KeyError) as exc:
            raise EventDecodeError(self.type_name, position, str(exc)) from exc


_RAW_DECODER: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


@dataclass
class TypeRegistry:
    """Maps type names to payload classes and holds the upcaster chains."""

    _classes: dict[str, type[Payload]] = field(default_factory=dict)
    _upcasters: dict[tuple[str, int], Upcaster] = field(default_factory=dict)
    _kinds: dict[tuple[str, int], Kind] = field(default_factory=dict)

    def register(self, cls: P) -> P:
        """Register a payload class under its ``TYPE`` name; returns the class."""
        name = cls.TYPE
        if not name:
            raise UsageError(f"{cls.__qualname__} must set TYPE before registration")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise UsageError(f"event type {name!r} is already registered to {known.__qualname__}")
        self._classes[name] = cls
        self._kinds.clear()
        return cls

    def register_upcaster(self, type_name: str, from_schema: int, step: Upcaster) -> None:
        """Register ``step`` turning a ``from_schema`` payload dict into ``from_schema + 1``."""
        self._upcasters[(type_name, from_schema)] = step
        self._kinds.clear()

    def upcaster(self, type_name: str, from_schema: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator form of :meth:`register_upcaster`."""

        def decorate(step: Upcaster) -> Upcaster:
            self.register_upcaster(type_name, from_schema, step)
            return step

        return decorate

    def class_for(self, type_name: str) -> type[Payload]:
        """The current class registered for ``type_name``."""
        try:
            return self._classes[type_name]
        except KeyError:
            raise UnknownEventType(type_name, 0) from None

    def current(self, type_name: str) -> type[Payload] | None:
        """The class registered for ``type_name``, or None."""
        return self._classes.get(type_name)

    def names(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._classes)

    def kind(self, type_name: str, schema: int, position: int | None = None) -> Kind:
        """The decoding recipe for a stored ``(type_name, schema)``."""
        kind = self._kinds.get((type_name, schema))
        if kind is None:
            kind = self._build_kind(type_name, schema, position)
            self._kinds[(type_name, schema)] = kind
        return kind

    def _build_kind(self, type_name: str, schema: int, position: int | None) -> Kind:
        cls = self._classes.get(type_name)
        if cls is None or schema > cls.SCHEMA or schema < 1:
            raise UnknownEventType(type_name, schema, position)
        steps = []
        for version in range(schema, cls.SCHEMA):
            step = self._upcasters.get((type_name, version))
            if step is None:
                raise UnknownEventType(type_name, schema, position)
            steps.append(step)
        return Kind(type_name, schema, cls, msgspec.json.Decoder(cls), tuple(steps))


REGISTRY = TypeRegistry()
"""The process-wide registry every built-in and user event type registers with."""


def event_type(cls: P) -> P:
    """Class decorator: register a :class:`Payload` subclass with :data:`REGISTRY`."""
    return REGISTRY.register(cls)
