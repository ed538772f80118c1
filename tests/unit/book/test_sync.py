"""DepthSync: Binance's spot and USD-M futures rules, delta by delta."""

from __future__ import annotations

import pytest

from virtuoso.book import DepthSync, SyncRule, Verdict
from virtuoso.events import BookDelta, BookSnapshot


def delta(first: int, last: int, previous: int | None = None) -> BookDelta:
    return BookDelta((), (), first, last, previous)


def snapshot(sequence: int) -> BookSnapshot:
    return BookSnapshot((), (), sequence)


def verdicts(sync: DepthSync, *deltas: BookDelta) -> list[str]:
    return [sync.on_delta(d).verdict.value for d in deltas]


def test_spot_drops_deltas_inside_the_snapshot_then_needs_a_straddling_one() -> None:
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(snapshot(100))
    assert verdicts(sync, delta(90, 100), delta(95, 101), delta(102, 110)) == ["stale", "apply", "apply"]
    assert sync.in_sync
    assert sync.last_sequence == 110


def test_spot_first_delta_after_the_snapshot_must_straddle_it() -> None:
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(snapshot(100))
    judgement = sync.on_delta(delta(102, 110))
    assert judgement.verdict is Verdict.GAP
    assert "102" in judgement.reason
    assert not sync.in_sync
    assert verdicts(sync, delta(111, 120)) == ["waiting"]


def test_spot_chain_break_is_a_gap_until_the_next_snapshot() -> None:
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(snapshot(100))
    assert verdicts(sync, delta(101, 105), delta(107, 110), delta(111, 112)) == ["apply", "gap", "waiting"]
    sync.on_snapshot(snapshot(111))
    assert verdicts(sync, delta(111, 112), delta(113, 114)) == ["apply", "apply"]
    assert sync.in_sync


def test_futures_chain_on_previous_update_id() -> None:
    sync = DepthSync(SyncRule.FUTURES)
    sync.on_snapshot(snapshot(100))
    assert verdicts(sync, delta(80, 99, 79), delta(95, 100, 99), delta(101, 130, 100)) == ["stale", "apply", "apply"]
    assert verdicts(sync, delta(131, 140, 129)) == ["gap"]


def test_deltas_before_the_snapshot_are_judged_when_it_arrives() -> None:
    sync = DepthSync(SyncRule.SPOT)
    assert verdicts(sync, delta(90, 99), delta(100, 104), delta(105, 109)) == ["buffered"] * 3
    released = sync.on_snapshot(snapshot(101))
    assert [(d.last_sequence, j.verdict.value) for d, j in released] == [(99, "stale"), (104, "apply"), (109, "apply")]
    assert sync.last_sequence == 109


@pytest.mark.parametrize("rule", list(SyncRule))
def test_no_snapshot_means_not_in_sync(rule: SyncRule) -> None:
    sync = DepthSync(rule)
    sync.on_delta(delta(1, 2, 0))
    assert not sync.in_sync
