"""The fault schedule grammar (``--faults``) and its lookups."""

from __future__ import annotations

import pytest

from virtuoso.errors import UsageError
from virtuoso.testing import FaultSchedule, RestFault, WsFault


def test_every_rest_action_and_range_form_parses() -> None:
    schedule = FaultSchedule.parse(
        "rest:/api/v3/aggTrades#3=429:2, rest:*#5-6=503, rest:/api/v3/depth#2+=slow:1.5,"
        "rest:/api/v3/klines#*=malformed,rest:/api/v3/trades#1=truncated,rest:/api/v3/depth#1=418"
    )

    assert schedule.rest == (
        RestFault("/api/v3/aggTrades", 3, 3, "429", 2.0),
        RestFault("*", 5, 6, "503"),
        RestFault("/api/v3/depth", 2, None, "slow", 1.5),
        RestFault("/api/v3/klines", 1, None, "malformed"),
        RestFault("/api/v3/trades", 1, 1, "truncated"),
        RestFault("/api/v3/depth", 1, 1, "418", 1.0),
    )
    assert schedule.ws == ()


def test_rest_lookup_by_path_and_ordinal_first_rule_wins() -> None:
    schedule = FaultSchedule.parse("rest:/api/v3/depth#2=500,rest:*#2-3=502")

    assert schedule.rest_fault("/api/v3/depth", 1) is None
    assert schedule.rest_fault("/api/v3/depth", 2) == RestFault("/api/v3/depth", 2, 2, "500")
    assert schedule.rest_fault("/api/v3/klines", 2) == RestFault("*", 2, 3, "502")
    assert schedule.rest_fault("/api/v3/klines", 4) is None
    assert schedule.rest_fault("/api/v3/depth", 2).status == 500  # type: ignore[union-attr]
    assert RestFault("*", 1, 1, "slow", 2.0).status == 200


def test_ws_rules_parse_and_look_up_by_action_and_number() -> None:
    schedule = FaultSchedule.parse("ws:disconnect@500:10,ws:skip@7,ws:skip-depth@40,ws:malformed@3,ws:pause@9")

    assert schedule.ws == (
        WsFault("disconnect", 500, 10),
        WsFault("skip", 7),
        WsFault("skip-depth", 40),
        WsFault("malformed", 3),
        WsFault("pause", 9),
    )
    assert schedule.ws_fault("skip", 7) == WsFault("skip", 7)
    assert schedule.ws_fault("skip", 8) is None
    assert schedule.ws_fault("malformed", 7) is None


def test_empty_spec_is_no_faults() -> None:
    assert FaultSchedule.parse("") == FaultSchedule()
    assert FaultSchedule.parse(" , ") == FaultSchedule()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("http:/x#1=500", "must start with 'rest:' or 'ws:'"),
        ("rest:/api/v3/depth=500", "is not rest:PATH#WHICH=ACTION"),
        ("rest:/api/v3/depth#1=404", "unknown action '404'"),
        ("rest:/api/v3/depth#0=500", "is not N, N-M, N+ or *"),
        ("rest:/api/v3/depth#x=500", "is not N, N-M, N+ or *"),
        ("rest:/api/v3/depth#5-2=500", "empty range '5-2'"),
        ("rest:/api/v3/depth#1=slow", "slow needs seconds"),
        ("rest:/api/v3/depth#1=429:soon", "'soon' is not a number of seconds"),
        ("rest:/api/v3/depth#1=503:2", "503 takes no ':' argument"),
        ("ws:explode@3", "is not ws:ACTION@N"),
        ("ws:skip", "is not ws:ACTION@N"),
        ("ws:skip@3:4", "only disconnect takes a count"),
        ("ws:disconnect@x", "'x' is not N or N:K"),
    ],
)
def test_bad_rules_are_named_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match="fault rule") as raised:
        FaultSchedule.parse(spec)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_new_rest_action_parses_and_says_what_it_spoils() -> None:
    spec = ",".join(f"rest:/api/v3/aggTrades#{n}={action}" for n, action in enumerate(ROW_AND_BODY, 1))

    schedule = FaultSchedule.parse(spec)

    assert [fault.action for fault in schedule.rest] == list(ROW_AND_BODY)
    assert all(fault.status == 200 for fault in schedule.rest)


def test_new_ws_actions_parse_with_their_arguments() -> None:
    schedule = FaultSchedule.parse(
        "ws:wrong-shape@1,ws:garbage@2,ws:cut@3,ws:stall@4:2.5,ws:reconnect@5,ws:reset@6,ws:disconnect@7:0"
    )

    assert schedule.ws == (
        WsFault("wrong-shape", 1),
        WsFault("garbage", 2),
        WsFault("cut", 3),
        WsFault("stall", 4, seconds=2.5),
        WsFault("reconnect", 5),
        WsFault("reset", 6),
        WsFault("disconnect", 7),
    )
    assert schedule.ws_at(4, 0) == (WsFault("stall", 4, seconds=2.5),)
    assert schedule.ws_at(8, 0) == ()


def test_a_message_can_carry_several_rules_and_skip_depth_counts_depth_updates() -> None:
    schedule = FaultSchedule.parse("ws:pause@9,ws:disconnect@9:3,ws:skip-depth@9")

    assert schedule.ws_at(9, 0) == (WsFault("pause", 9), WsFault("disconnect", 9, 3))
    assert schedule.ws_at(10, 9) == (WsFault("skip-depth", 9),)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ws:stall@3", "stall@N needs seconds"),
        ("ws:stall@3:soon", "'soon' is not a number of seconds"),
        ("ws:stall@3:nan", "'nan' is not a number of seconds"),
        ("ws:garbage@3:2", "only disconnect takes a count"),
        ("ws:disconnect@3:-1", "'3:-1' is not N or N:K"),
        ("rest:/api/v3/aggTrades#1=missing:2", "missing takes no ':' argument"),
        ("rest:/api/v3/aggTrades#1=slow:inf", "'inf' is not a number of seconds"),
    ],
)
def test_bad_new_rules_are_named_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match="fault rule") as raised:
        FaultSchedule.parse(spec)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


ROW_AND_BODY = (
    "empty",
    "html",
    "object",
    "missing",
    "bad-values",
    "ids-backwards",
    "ids-repeat",
    "unordered",
    "far-time",
)
