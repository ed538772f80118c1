"""Registrations and resolution: classes, factories, instances, lifetimes, names and injection rules."""

from __future__ import annotations

import functools
from typing import Annotated, Protocol

import pytest

from virtuoso.container import Lifetime, Named, ServiceContainer
from virtuoso.errors import RegistrationError


class Clock(Protocol):
    def now_ns(self) -> int: ...


class FixedClock:
    def __init__(self, ns: int = 7) -> None:
        self.ns = ns

    def now_ns(self) -> int:
        return self.ns


class Config:
    def __init__(self) -> None:
        self.depth = 20


class Feed:
    def __init__(self, clock: Clock, config: Config) -> None:
        self.clock = clock
        self.config = config


class Pair:
    def __init__(self, live: Annotated[Clock, Named("live")], replay: Annotated[Clock, Named("replay")]) -> None:
        self.live = live
        self.replay = replay


@pytest.fixture
def container() -> ServiceContainer:
    c = ServiceContainer()
    yield c
    c.close()


def test_constructor_parameters_are_injected_from_type_hints(container: ServiceContainer) -> None:
    container.register(Clock, FixedClock)
    container.register(Config)
    container.register(Feed, lifetime=Lifetime.TRANSIENT)
    feed = container.resolve(Feed)
    assert isinstance(feed.clock, FixedClock)
    assert feed.clock.now_ns() == 7
    assert feed.config is container.resolve(Config)


def test_singletons_are_shared_and_transients_are_new_each_time(container: ServiceContainer) -> None:
    container.register(Config)
    container.register(Clock, FixedClock, lifetime=Lifetime.TRANSIENT)
    assert container.resolve(Config) is container.resolve(Config)
    assert container.resolve(Clock) is not container.resolve(Clock)


def test_a_factory_gets_its_parameters_injected(container: ServiceContainer) -> None:
    def make_clock(config: Config) -> FixedClock:
        return FixedClock(config.depth)

    container.register(Config)
    container.register_factory(Clock, make_clock)
    assert container.resolve(Clock).now_ns() == 20


def test_a_partial_and_a_callable_object_are_factories_too(container: ServiceContainer) -> None:
    class MakeFeed:
        def __call__(self, clock: Clock) -> Feed:
            return Feed(clock, Config())

    def clock_at(ns: int, config: Config) -> FixedClock:
        return FixedClock(ns + config.depth)

    container.register(Config)
    container.register_factory(Clock, functools.partial(clock_at, 100))
    container.register_factory(Feed, MakeFeed())
    assert container.resolve(Feed).clock.now_ns() == 120


def test_an_instance_is_returned_as_registered(container: ServiceContainer) -> None:
    clock = FixedClock(3)
    container.register_instance(Clock, clock)
    container.register(Config)
    container.register(Feed)
    assert container.resolve(Clock) is clock
    assert container.resolve(Feed).clock is clock


def test_named_registrations_coexist_and_annotated_selects_one(container: ServiceContainer) -> None:
    container.register_instance(Clock, FixedClock(1), name="live")
    container.register_instance(Clock, FixedClock(2), name="replay")
    container.register(Pair)
    pair = container.resolve(Pair)
    assert (pair.live.now_ns(), pair.replay.now_ns()) == (1, 2)
    assert container.resolve(Clock, "replay") is pair.replay
    assert container.is_registered(Clock, "live")
    assert not container.is_registered(Clock)


def test_a_parameter_with_a_default_and_no_registration_keeps_its_default(container: ServiceContainer) -> None:
    container.register(Clock, FixedClock)
    assert container.resolve(Clock).now_ns() == 7


def test_a_registered_type_wins_over_the_default(container: ServiceContainer) -> None:
    class Holder:
        def __init__(self, config: Config | None = None) -> None:
            self.config = config

    container.register(Holder)
    container.register(Config)
    assert container.resolve(Holder).config is container.resolve(Config)


def test_a_registration_added_after_a_resolve_is_seen_by_new_plans(container: ServiceContainer) -> None:
    class Holder:
        def __init__(self, config: Config | None = None) -> None:
            self.config = config

    container.register(Holder, lifetime=Lifetime.TRANSIENT)
    assert container.resolve(Holder).config is None
    container.register(Config)
    assert isinstance(container.resolve(Holder).config, Config)


def test_positional_only_and_keyword_only_parameters_are_injected(container: ServiceContainer) -> None:
    def make(clock: Clock, /, *, config: Config) -> Feed:
        return Feed(clock, config)

    container.register(Clock, FixedClock)
    container.register(Config)
    container.register_factory(Feed, make)
    assert container.resolve(Feed).config.depth == 20


def test_varargs_are_left_alone(container: ServiceContainer) -> None:
    def make(*args: Config, **kwargs: Config) -> Config:
        assert not args
        assert not kwargs
        return Config()

    container.register_factory(Config, make)
    assert container.resolve(Config).depth == 20


def test_a_parameter_without_hint_or_default_is_a_registration_error(container: ServiceContainer) -> None:
    def make(clock) -> Feed:  # type: ignore[no-untyped-def]
        raise AssertionError("never called")

    container.register_factory(Feed, make)
    with pytest.raises(RegistrationError, match="cannot inject parameter 'clock' of Feed: no type hint and no default"):
        container.resolve(Feed)


def test_an_unresolvable_forward_reference_is_a_registration_error(container: ServiceContainer) -> None:
    def make(clock: NotDefinedAnywhere) -> Feed:  # type: ignore[name-defined]  # noqa: F821
        raise AssertionError("never called")

    container.register_factory(Feed, make)
    with pytest.raises(RegistrationError, match="cannot read the parameters of Feed: name 'NotDefinedAnywhere'"):
        container.resolve(Feed)


def test_register_takes_classes_and_factories_must_be_plain_callables(container: ServiceContainer) -> None:
    def gen() -> object:
        yield Config()

    with pytest.raises(RegistrationError, match="register\\(\\) takes a class; use register_factory"):
        container.register(Config, Config.__call__)
    with pytest.raises(RegistrationError, match="not callable"):
        container.register_factory(Config, 42)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="generator"):
        container.register_factory(Config, gen)
    assert not container.is_registered(Config)


def test_a_registration_can_be_replaced_until_instances_are_built(container: ServiceContainer) -> None:
    container.register(Clock, FixedClock)
    container.register_instance(Clock, FixedClock(99))
    assert container.resolve(Clock).now_ns() == 99
    container.register(Config)
    container.resolve(Config)
    with pytest.raises(RegistrationError, match="Clock is already registered and instances were built"):
        container.register(Clock, FixedClock)
    container.register(Feed)  # a new service is still welcome
    assert container.resolve(Feed).clock.now_ns() == 99


def test_a_msgspec_struct_is_injected_by_its_fields(container: ServiceContainer) -> None:
    import msgspec

    class Settings(msgspec.Struct):
        config: Config
        depth: int = 5

    container.register(Config)
    container.register(Settings)
    settings = container.resolve(Settings)
    assert settings.config is container.resolve(Config)
    assert settings.depth == 5
