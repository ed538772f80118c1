"""ReplayClock: for any timer set and any advance schedule, timers fire in (time, registration) order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virtuoso.clock import ReplayClock

timers = st.lists(st.tuples(st.integers(0, 1_000), st.booleans()), max_size=60)
advances = st.lists(st.integers(0, 1_200), max_size=10).map(sorted)


@given(timers, advances)
def test_timers_fire_in_time_then_registration_order(spec: list[tuple[int, bool]], steps: list[int]) -> None:
    clock = ReplayClock()
    fired: list[tuple[int, int, int]] = []
    for index, (when, cancel) in enumerate(spec):
        handle = clock.call_at(when, lambda i=index, w=when: fired.append((w, i, clock.now_ns())))
        if cancel:
            handle.cancel()
    for step in [*steps, 1_200]:
        clock.advance_to(step)
        assert all(when <= step for when, _, _ in fired)
    expected = sorted((when, i) for i, (when, cancel) in enumerate(spec) if not cancel)
    assert [(when, i) for when, i, _ in fired] == expected
    assert all(now == when for when, _, now in fired)
