"""EventBus: for any set of subscriptions, each event reaches exactly its matches, in (priority, order)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virtuoso.bus import EventBus
from virtuoso.events import Bar, BookDelta, Event, Gap, Payload, Trade

PAYLOADS: list[Payload] = [
    Trade(1.0, 1.0, "buy", "1"),
    BookDelta((), (), 1, 2),
    Bar("1m", 0, 1, 1, 1, 1, 1),
    Gap("x", 0, 1, "r"),
]
TARGETS: list[type[Payload] | str] = [
    Trade,
    BookDelta,
    Payload,
    "market.*",
    "market.trade",
    "system.*",
    "*",
    "analysis.*",
]
subscriptions = st.lists(st.tuples(st.sampled_from(TARGETS), st.integers(-3, 3)), max_size=25)


def receives(target: type[Payload] | str, payload: Payload) -> bool:
    if isinstance(target, str):
        return target in ("*", payload.TOPIC) or payload.TOPIC.startswith(target.removesuffix("*"))
    return isinstance(payload, target)


@given(subscriptions, st.lists(st.sampled_from(PAYLOADS), max_size=8))
def test_dispatch_order_is_priority_then_subscription_order(
    spec: list[tuple[type[Payload] | str, int]], payloads: list[Payload]
) -> None:
    bus, calls = EventBus(), []
    for index, (target, priority) in enumerate(spec):
        bus.subscribe(target, lambda e, i=index: calls.append((e.id, i)), priority=priority)
    events = [Event(f"e{n}", "x:y:z", n, n, "s", p) for n, p in enumerate(payloads)]
    bus.publish_many(events)
    expected = [
        (event.id, index)
        for event in events
        for index, (_, _) in sorted(enumerate(spec), key=lambda item: (item[1][1], item[0]))
        if receives(spec[index][0], event.payload)
    ]
    assert calls == expected
