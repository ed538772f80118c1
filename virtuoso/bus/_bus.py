"""The EventBus: synchronous, deterministic dispatch by payload class and topic pattern."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Literal, cast

from virtuoso.bus._failures import FailurePolicy, failure_event, handler_name
from virtuoso.bus._patterns import BatchHandler, Handler, Subscription, is_async_callable, route_for
from virtuoso.clock import Clock, ReplayClock
from virtuoso.errors import UsageError
from virtuoso.events import Event, Payload
from virtuoso.timing import StageTimer

TimeField = Literal["ts_recv", "ts_event"]
"""The envelope time a replay's clock follows."""


_payload_class = attrgetter("payload.__class__")


class Route(tuple[Handler, ...]):
    """The handlers of one payload class, in dispatch order, with their subscriptions alongside.

    Dispatch iterates the bare handlers (the fast path); a failure finds its
    subscription through ``subscriptions``, even after the routes were rebuilt.
    """

    subscriptions: tuple[Subscription, ...]
    collects: bool
    """Every subscription of the route is a batch one: dispatching an event only queues it for them."""

    @classmethod
    def of(
        cls, subscriptions: tuple[Subscription, ...], wrap: Callable[[Subscription], Handler] | None = None
    ) -> Route:
        """The route dispatching to ``subscriptions`` (to ``wrap(subscription)`` for each, when given)."""
        route = cls(s.receiver for s in subscriptions) if wrap is None else cls(wrap(s) for s in subscriptions)
        route.subscriptions = subscriptions
        route.collects = all(s.batch for s in subscriptions)
        return route


class EventBus:
    """Dispatches each published event to its subscribers, synchronously, in a fixed order.

    Subscribe by payload class (a base class receives its subclasses; ``Payload``
    receives everything) or by topic pattern (``fnmatch`` rules on the topic:
    ``market.trade``, ``market.*``, ``*``). Handlers run in order of ``priority``
    (smaller first, default 0), then of subscription. An event published while
    another is being dispatched (a handler deriving a new event, say) is queued
    and dispatched after it, so every handler sees events in one global order.

    A handler that raises does not stop the others: the failure becomes a
    :class:`~virtuoso.bus.HandlerFailed` event published on the bus, and the
    :class:`~virtuoso.bus.FailurePolicy` may unsubscribe the handler. Changes to
    subscriptions take effect from the next event.

    A **batch** subscriber (``subscribe(..., batch=True)``) is called once per
    :meth:`publish` or :meth:`publish_many` with the list of the events it matched
    there (the events those handlers derived included), in order, after the
    per-event handlers are done with all of them: one call a replay chunk rather
    than one an event, for consumers that queue events rather than act on each
    (the processor's feed). A batch handler that raises is reported against the
    first event of its list.

    >>> from virtuoso.events import Event, Trade
    >>> bus = EventBus()
    >>> seen = []
    >>> _ = bus.subscribe("market.*", lambda e: seen.append(("topic", e.type)))
    >>> _ = bus.subscribe(Trade, lambda e: seen.append(("class", e.type)), priority=-1)
    >>> bus.publish(Event("e1", "binance:BTC/USDT:trades", 1, 1, "s", Trade(1.0, 2.0, "buy", "7")))
    >>> seen
    [('class', 'Trade'), ('topic', 'Trade')]
    """

    def __init__(
        self, clock: Clock | None = None, policy: FailurePolicy | None = None, timer: StageTimer | None = None
    ) -> None:
        self._clock = clock
        self._timer = timer
        """Benchmarks only: each handler's calls are charged to a stage named after its subscription."""
        self._policy = policy or FailurePolicy()
        self._subscriptions: list[Subscription] = []
        self._routes: dict[type[Payload], Route] = {}
        self._order = itertools.count()
        self._queue: deque[Event] = deque()
        self._batched: tuple[Subscription, ...] = ()
        """The active batch subscriptions, in dispatch order."""
        self._dispatching = False
        self.failures = 0
        """Handler calls that raised."""

    def subscribe(
        self,
        target: type[Payload] | str | tuple[str, ...],
        handler: Handler | BatchHandler,
        *,
        priority: int = 0,
        name: str | None = None,
        batch: bool = False,
    ) -> Subscription:
        """Call ``handler(event)`` for events of payload class ``target``, or whose topic matches pattern(s) ``target``.

        Several patterns in a tuple make one subscription: an event matching
        more than one of them is still handled once. With ``batch``, ``handler``
        takes a list of events instead (see the class docstring).
        """
        if is_async_callable(handler):
            raise UsageError(f"{handler_name(handler)} is async: the bus is synchronous; run it through the processor")
        subscription = Subscription(handler, name or handler_name(handler), priority, next(self._order), batch=batch)
        if isinstance(target, str | tuple):
            patterns = (target,) if isinstance(target, str) else target
            if not patterns or not all(isinstance(p, str) and p for p in patterns):
                raise UsageError(f"topic patterns must be non-empty strings (use '*' for every topic), not {target!r}")
            subscription.topics = patterns
        elif isinstance(target, type) and issubclass(target, Payload):
            subscription.event_class = target
        else:
            raise UsageError(f"subscribe to a Payload subclass or a topic pattern, not {target!r}")
        self._subscriptions.append(subscription)
        self._invalidate()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop dispatching to ``subscription`` (unsubscribing twice is harmless)."""
        if subscription.active:
            subscription.active = False
            subscription.pending.clear()
            self._subscriptions.remove(subscription)
            self._invalidate()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Active subscriptions, in subscription order."""
        return tuple(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Dispatch ``event`` to its subscribers now (or after the event being dispatched)."""
        if self._dispatching:
            self._queue.append(event)
            return
        # The hot path of live runs: the loop of _dispatch is inlined here on purpose.
        route = self._routes.get(event.payload.__class__)
        if route is None:
            route = self._build_route(event.payload.__class__)
        self._dispatching = True
        try:
            for handler in route:
                try:
                    handler(event)
                except Exception as exc:  # a failing handler must not stop the others
                    self._on_failure(route, handler, event, exc)
            if self._queue:
                self._drain()
            if self._batched:
                self._deliver_batches()
        finally:
            self._dispatching = False

    def publish_many(
        self, events: Iterable[Event], *, clock: ReplayClock | None = None, time: TimeField = "ts_recv"
    ) -> None:
        """Publish each of ``events`` in order, in one call (the replay's chunk: one call, not one a trade).

        With ``clock``, the clock is first advanced to each event's ``time``
        (``ts_recv`` or ``ts_event``) when that is later than the clock, so that
        its handlers (and the timers due before it) see the event's time. Events
        published from inside a handler are queued as :meth:`publish` queues them.
        """
        if self._dispatching:
            self._queue.extend(events)
            return
        self._dispatching = True
        try:
            if not isinstance(events, list):
                self._dispatch_all(events if clock is None else clock.follow(events, time == "ts_event"))
            elif not self._collect(events, clock, time):
                if clock is None:
                    self._dispatch_all(events)
                else:
                    self._dispatch_following(events, clock, time)
            if self._batched:
                self._deliver_batches()
        finally:
            self._dispatching = False

    # The per-event cost of every replay: the route lookup and the handler calls are inlined rather than
    # shared through _dispatch (a call an event); the clock moves in ReplayClock.follow, in place.

    def _dispatch_all(self, events: Iterable[Event]) -> None:
        routes, queue = self._routes, self._queue
        for event in events:
            route = routes.get(event.payload.__class__)
            if route is None:
                route = self._build_route(event.payload.__class__)
            for handler in route:
                try:
                    handler(event)
                except Exception as exc:  # a failing handler must not stop the others
                    self._on_failure(route, handler, event, exc)
            if queue:
                self._drain()

    def _dispatch_following(self, events: list[Event], clock: ReplayClock, time: TimeField) -> None:
        # _dispatch_all(clock.follow(events)) in one loop: the clock's fields are moved here as follow moves
        # them (keep the two in step), which saves a generator step an event (a third of the bus's cost).
        routes, queue, heap, now = self._routes, self._queue, clock._heap, clock._now
        by_exchange_time = time == "ts_event"
        for event in events:
            ts = event.ts_event if by_exchange_time else event.ts_recv
            if ts > now:
                now = ts
                if heap and heap[0][0] <= now:
                    clock.advance_to(now)
                else:
                    clock._now = now
            try:
                route = routes[type(event.payload)]
            except KeyError:
                route = self._build_route(type(event.payload))
            for handler in route:
                try:
                    handler(event)
                except Exception as exc:  # a failing handler must not stop the others
                    self._on_failure(route, handler, event, exc)
            if queue:
                self._drain()

    def _collect(self, events: list[Event], clock: ReplayClock | None, time: TimeField) -> bool:
        """Dispatch ``events`` at once when that is all their dispatch would do: queue them for batch
        subscribers (every class among them goes to batch subscriptions alone) while no timer of ``clock``
        falls due before the last of them, the clock then going straight to where following them would
        leave it. False, having changed nothing, otherwise (a replay chunk of trades for the processor's
        feed or the backtest engine: one step for the chunk instead of one dispatch a trade)."""
        if events and not self._route(events[0].payload.__class__).collects:
            return False  # decided by the first event, before a pass over all of them (the usual chunk)
        routes = [self._route(cls) for cls in dict.fromkeys(map(_payload_class, events))]
        if not all(route.collects for route in routes):
            return False
        if clock is not None and events:
            latest = max(map(attrgetter(time), events))
            due = clock.next_timer_ns()
            if due is not None and due <= max(latest, clock.now_ns()):
                return False
            if latest > clock.now_ns():
                clock.advance_to(latest)
        if len(routes) == 1:
            for subscription in routes[0].subscriptions:
                subscription.pending.extend(events)
            return True
        for event in events:
            for subscription in self._routes[event.payload.__class__].subscriptions:
                subscription.pending.append(event)
        return True

    def _deliver_batches(self) -> None:
        """Hand each batch subscriber its events, until neither they nor what they published leave any."""
        while True:
            pending = [s for s in self._batched if s.pending]
            if not pending:
                return
            for subscription in pending:
                events = subscription.pending.copy()  # the route holds this list's append: keep the list
                subscription.pending.clear()
                if not subscription.active:
                    continue
                handler = cast(BatchHandler, subscription.handler)
                if self._timer is not None:
                    handler = self._timer.wrap(subscription.name, handler)
                try:
                    handler(events)
                except Exception as exc:  # a failing handler must not stop the others
                    self._fail(subscription, events[0], exc)
            if self._queue:
                self._drain()

    def _dispatch(self, event: Event) -> None:
        route = self._routes.get(event.payload.__class__)
        if route is None:
            route = self._build_route(event.payload.__class__)
        for handler in route:
            try:
                handler(event)
            except Exception as exc:  # a failing handler must not stop the others
                self._on_failure(route, handler, event, exc)

    def _drain(self) -> None:
        queue, dispatch = self._queue, self._dispatch
        while queue:
            dispatch(queue.popleft())

    def _route(self, cls: type[Payload]) -> Route:
        route = self._routes.get(cls)
        return self._build_route(cls) if route is None else route

    def _build_route(self, cls: type[Payload]) -> Route:
        timer = self._timer
        wrap = None if timer is None else (lambda s: s.receiver if s.batch else timer.wrap(s.name, s.receiver))
        route = Route.of(route_for(cls, self._subscriptions), wrap)
        self._routes[cls] = route
        return route

    def _invalidate(self) -> None:
        self._routes.clear()  # cleared, not replaced: the dispatch loops hold the dict
        self._batched = tuple(sorted((s for s in self._subscriptions if s.batch), key=lambda s: s.sort_key))

    def _on_failure(self, route: Route, handler: Handler, event: Event, exc: Exception) -> None:
        self._fail(route.subscriptions[route.index(handler)], event, exc)

    def _fail(self, subscription: Subscription, event: Event, exc: Exception) -> None:
        self.failures += 1
        subscription.failures += 1
        gives_up = self._policy.gives_up(subscription.failures)
        if gives_up:
            self.unsubscribe(subscription)
        if event.type == "HandlerFailed":
            return  # a failing failure handler must not feed itself
        ts_recv = self._clock.now_ns() if self._clock is not None else event.ts_recv
        self._queue.append(failure_event(subscription.name, event, exc, ts_recv, unsubscribed=gives_up))
