"""Hypothesis over the fault grammar: any valid rule parses and round-trips; any other text is one UsageError line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virtuoso.errors import UsageError
from virtuoso.testing import REST_ACTIONS, WS_ACTIONS, FaultSchedule, RestFault, WsFault

paths = st.sampled_from(["*", "/api/v3/aggTrades", "/api/v3/depth", "/fapi/v1/trades", "/api/v3/exchangeInfo"])
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda value: round(value, 3))


@st.composite
def rest_faults(draw: st.DrawFn) -> RestFault:
    action = draw(st.sampled_from(REST_ACTIONS))
    first = draw(st.integers(1, 10**6))
    last = draw(st.one_of(st.none(), st.integers(first, first + 10**6)))
    timed = action in ("429", "418", "slow")
    return RestFault(draw(paths), first, last, action, draw(seconds) if timed else 0.0)


@st.composite
def ws_faults(draw: st.DrawFn) -> WsFault:
    action = draw(st.sampled_from(WS_ACTIONS))
    at = draw(st.integers(1, 10**9))
    if action == "disconnect":
        return WsFault(action, at, draw(st.integers(0, 10**4)))
    return WsFault(action, at, seconds=draw(seconds) if action == "stall" else 0.0)


schedules = st.builds(
    FaultSchedule, st.lists(rest_faults(), max_size=5).map(tuple), st.lists(ws_faults(), max_size=5).map(tuple)
)


@given(schedules)
def test_valid_schedules_round_trip_through_their_text(schedule: FaultSchedule) -> None:
    assert FaultSchedule.parse(schedule.spec) == schedule


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_parses_or_is_one_usage_error_line(text: str) -> None:
    try:
        FaultSchedule.parse(text)
    except UsageError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
    assert message.startswith("fault rule")


@given(
    st.sampled_from(["rest:", "ws:"]), st.text(alphabet="0123456789#@=:+-*,./abcdefghijklmnopqrstuvwxyz", max_size=40)
)
def test_rule_shaped_garbage_parses_or_is_one_usage_error_line(prefix: str, tail: str) -> None:
    try:
        schedule = FaultSchedule.parse(prefix + tail)
    except UsageError as exc:
        message = str(exc)
    else:
        assert FaultSchedule.parse(schedule.spec) == schedule
        return
    assert "\n" not in message
