"""Lanes: topic patterns choose the lane, priority orders them, and an unroutable topic is refused."""

from __future__ import annotations

import pytest

from virtuoso.errors import UsageError
from virtuoso.events import Bar, Gap, Note, Trade
from virtuoso.processing import DEFAULT_LANES, Lane, ProcessorStats
from virtuoso.processing._lanes import LaneRouter, ordered_lanes


def test_default_lanes_put_system_before_market_before_the_rest() -> None:
    router = LaneRouter(ordered_lanes(DEFAULT_LANES))
    assert [router.learn(cls) for cls in (Gap, Note, ProcessorStats)] == [0, 0, 0]
    assert [router.learn(cls) for cls in (Trade, Bar)] == [1, 1]
    assert [lane.name for lane in ordered_lanes(DEFAULT_LANES)] == ["system", "market", "analysis"]


def test_lanes_are_served_by_priority_whatever_order_they_are_given_in() -> None:
    lanes = ordered_lanes([Lane("bulk", 5, ("*",)), Lane("trades", 1, ("market.trade",))])
    assert [lane.name for lane in lanes] == ["trades", "bulk"]
    router = LaneRouter(lanes)
    assert router.learn(Trade) == 0
    assert router.learn(Bar) == 1
    assert router.table == {Trade: 0, Bar: 1}


def test_the_first_matching_lane_in_priority_order_wins() -> None:
    router = LaneRouter(ordered_lanes([Lane("market", 1, ("market.*",)), Lane("bars", 2, ("market.bar",))]))
    assert router.learn(Bar) == 0


def test_a_topic_no_lane_takes_is_refused_with_the_lane_names() -> None:
    router = LaneRouter(ordered_lanes([Lane("market", 1, ("market.*",))]))
    with pytest.raises(UsageError, match=r"no lane takes topic 'system.note'.*market"):
        router.learn(Note)


@pytest.mark.parametrize(
    ("lanes", "problem"),
    [([], "at least one lane"), ([Lane("a", 0, ("*",)), Lane("a", 1, ("x",))], "distinct")],
)
def test_lane_sets_that_cannot_work_are_refused(lanes: list[Lane], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        ordered_lanes(lanes)
