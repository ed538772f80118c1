"""BookBuilder: snapshots, buffered deltas, gaps and recovery; rules picked by stream."""

from __future__ import annotations

import pytest

from virtuoso.book import (
    BookBuilder,
    DepthSync,
    SyncRule,
    checkpoint_stream,
    rule_for_stream,
    symbol_of,
)
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot, Event, Gap, Payload, Trade

SPOT = "binance:BTC/USDT:book"


def event(ts: int, payload: Payload, position: int = 0) -> Event:
    return Event(f"e{ts}", SPOT, ts, ts + 5, "s1", payload, position=position or ts)


def snapshot(sequence: int, bid: float = 100.0, ask: float = 101.0) -> BookSnapshot:
    return BookSnapshot(((bid, 1.0), (bid - 1, 2.0)), ((ask, 1.0), (ask + 1, 2.0)), sequence)


def test_rules_by_exchange_and_the_override() -> None:
    assert rule_for_stream("binance:BTC/USDT:book") is SyncRule.SPOT
    assert rule_for_stream("binanceusdm:BTC/USDT:USDT:book") is SyncRule.FUTURES
    assert rule_for_stream("binance:BTC/USDT:book", SyncRule.FUTURES) is SyncRule.FUTURES
    assert rule_for_stream("kraken:BTC/USD:book", SyncRule.SPOT) is SyncRule.SPOT
    with pytest.raises(UsageError, match="kraken"):
        rule_for_stream("kraken:BTC/USD:book")


def test_stream_names() -> None:
    assert checkpoint_stream(SPOT) == "binance:BTC/USDT:book.checkpoints"
    assert symbol_of("binanceusdm:BTC/USDT:USDT:book") == "BTC/USDT:USDT"
    assert symbol_of(SPOT) == "BTC/USDT"
    assert symbol_of("odd") == "odd"


def test_deltas_before_the_snapshot_are_applied_when_it_arrives() -> None:
    builder = BookBuilder.for_stream(SPOT)
    assert builder.apply(event(1, BookDelta(((100.0, 9.0),), (), 5, 9))) is None  # contained in the snapshot
    assert builder.apply(event(2, BookDelta(((100.5, 3.0),), ((101.0, 0.0),), 10, 14))) is None  # straddles 11
    assert not builder.in_sync
    assert builder.reason == "no snapshot yet"

    assert builder.apply(event(3, snapshot(10))) is None

    assert builder.in_sync
    assert builder.sequence == 14
    assert builder.book.bids() == [(100.5, 3.0), (100.0, 1.0), (99.0, 2.0)]
    assert builder.book.asks() == [(102.0, 2.0)]


def test_a_break_is_a_gap_and_the_book_is_not_served_until_the_next_snapshot() -> None:
    builder = BookBuilder.for_stream(SPOT)
    builder.apply(event(10, snapshot(100)))
    builder.apply(event(20, BookDelta(((100.0, 5.0),), (), 99, 103)))

    gap = builder.apply(event(30, BookDelta(((100.0, 6.0),), (), 105, 110)))

    assert gap == Gap(SPOT, 20, 30, "expected first update id 104, got 105")
    state = builder.state(5, session="s1", at_ns=35)
    assert (state.in_sync, state.sequence, state.bids, state.asks) == (False, None, (), ())
    assert state.reason == "out of sync until the next snapshot: expected first update id 104, got 105"
    assert state.position == 30
    assert builder.apply(event(40, BookDelta((), (), 111, 112))) is None  # waiting: no second gap

    builder.apply(event(50, snapshot(200, bid=90.0, ask=91.0)))
    builder.apply(event(60, BookDelta((), ((91.0, 4.0),), 195, 201)))

    state = builder.state(1)
    assert (state.in_sync, state.sequence, state.reason) == (True, 201, "")
    assert (state.bids, state.asks) == (((90.0, 1.0),), ((91.0, 4.0),))
    assert state.ts_event == 60


def test_a_gap_among_the_buffered_deltas_is_reported_when_the_snapshot_arrives() -> None:
    builder = BookBuilder.for_stream(SPOT)
    builder.apply(event(1, BookDelta((), (), 50, 60)))
    gap = builder.apply(event(2, snapshot(40)))
    assert gap is not None
    assert (gap.start_ns, gap.end_ns) == (2, 2)
    assert "snapshot 40 starts at 50" in gap.reason
    assert not builder.in_sync


def test_futures_chain_on_the_previous_update_id() -> None:
    builder = BookBuilder.for_stream("binanceusdm:BTC/USDT:USDT:book")
    builder.apply(event(1, snapshot(100)))
    builder.apply(event(2, BookDelta(((100.0, 2.0),), (), 95, 105, 94)))
    assert builder.apply(event(3, BookDelta((), (), 106, 110, 105))) is None
    gap = builder.apply(event(4, BookDelta((), (), 112, 120, 111)))
    assert gap is not None
    assert "previous update id 110" in gap.reason


def test_ts_event_is_the_latest_time_seen_and_other_types_are_ignored() -> None:
    builder = BookBuilder.for_stream(SPOT)
    builder.apply(event(50, BookDelta((), (), 1, 2)))
    builder.apply(event(40, snapshot(1)))
    assert builder.apply(event(45, Trade(1.0, 1.0, "buy", "1"))) is None
    assert builder.ts_event == 50
    assert builder.in_sync


def test_from_checkpoint_goes_on_by_the_chain_rule() -> None:
    checkpoint = Event("c", checkpoint_stream(SPOT), 70, 75, "s1", snapshot(300), causation=12, version=1, position=13)
    builder = BookBuilder.from_checkpoint(checkpoint, SyncRule.SPOT, SPOT)
    assert (builder.in_sync, builder.sequence, builder.position, builder.ts_event) == (True, 300, 12, 70)
    # Straddling would be accepted right after a snapshot, but not after a chained delta.
    assert builder.apply(event(80, BookDelta((), (), 299, 305))) is not None


def test_from_checkpoint_refuses_other_events() -> None:
    not_a_checkpoint = Event("c", SPOT, 1, 1, "s1", snapshot(1))
    with pytest.raises(UsageError, match="not a book checkpoint"):
        BookBuilder.from_checkpoint(not_a_checkpoint, SyncRule.SPOT, SPOT)


def test_depth_sync_resume_is_chained() -> None:
    sync = DepthSync.resume(SyncRule.FUTURES, 500)
    assert (sync.in_sync, sync.chained, sync.last_sequence, sync.rule) == (True, True, 500, SyncRule.FUTURES)
    fresh = DepthSync(SyncRule.SPOT)
    fresh.on_snapshot(snapshot(10))
    assert fresh.in_sync
    assert not fresh.chained


def test_state_as_dict_is_what_the_cli_prints() -> None:
    builder = BookBuilder.for_stream(SPOT)
    builder.apply(event(1, snapshot(7)))
    data = builder.state(1, session="s1", at_ns=9).as_dict()
    assert data == {
        "symbol": "BTC/USDT",
        "stream": SPOT,
        "session": "s1",
        "at_ns": 9,
        "ts_event": 1,
        "sequence": 7,
        "in_sync": True,
        "position": 1,
        "reason": "",
        "bids": [[100.0, 1.0]],
        "asks": [[101.0, 1.0]],
    }
