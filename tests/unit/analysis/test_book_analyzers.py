"""Book analyzers: imbalance, spread in bps and depth near the mid, from snapshots and deltas by the sync rule."""

from __future__ import annotations

import msgspec
import pytest

from virtuoso.analysis import (
    ANALYZERS,
    BookDepth,
    BookImbalance,
    DepthConfig,
    ImbalanceConfig,
    SpreadBps,
    build_analyzers,
)
from virtuoso.book import synthetic_book_events
from virtuoso.errors import UsageError
from virtuoso.events import BookDelta, BookSnapshot, Event, IndicatorValue, Payload

STREAM = "binance:BTC/USDT:book"


def book_event(n: int, payload: Payload, stream: str = STREAM) -> Event:
    return Event(f"b{n}", stream, n * 10, n * 10 + 1, "s", payload, position=n)


SNAPSHOT = BookSnapshot(((100.0, 2.0), (99.0, 1.0), (90.0, 5.0)), ((101.0, 1.0), (102.0, 3.0)), 10)


def values(analyzer: BookImbalance | SpreadBps | BookDepth, events: list[Event]) -> list[IndicatorValue]:
    out = []
    for event in events:
        for derived in analyzer.on_event(event):
            assert isinstance(derived.payload, IndicatorValue)
            out.append(derived.payload)
    return out


def test_nothing_before_the_snapshot_then_a_value_per_event_in_sync() -> None:
    analyzer = SpreadBps()
    early = BookDelta(((100.0, 2.5),), (), 9, 11)  # straddles the snapshot's id: applied on it
    out = values(analyzer, [book_event(1, early), book_event(2, SNAPSHOT)])
    [value] = out
    assert (value.name, value.timeframe, value.at_ns) == ("spread", "", 20)
    assert value.value == pytest.approx(1.0 / 100.5 * 10_000)
    assert value.components == {"spread": 1.0, "mid": 100.5}
    assert analyzer.ready


def test_imbalance_over_n_levels_and_depth_within_bps_of_the_mid() -> None:
    snapshot = book_event(1, SNAPSHOT)
    [imb] = values(BookImbalance(ImbalanceConfig(levels=2)), [snapshot])
    assert imb.value == pytest.approx((3.0 - 4.0) / 7.0)
    assert imb.components == {"bid": 3.0, "ask": 4.0}
    # mid 100.5; 200 bps -> bids >= 98.49, asks <= 102.51: 2 + 1 and 1 + 3
    [depth] = values(BookDepth(DepthConfig(bps=200.0)), [snapshot])
    assert (depth.value, depth.components) == (7.0, {"bid": 3.0, "ask": 4.0})


def test_a_break_in_the_chain_stops_the_values_until_the_next_snapshot() -> None:
    analyzer = BookImbalance()
    events = [
        book_event(1, SNAPSHOT),
        book_event(2, BookDelta(((100.0, 1.0),), (), 11, 12)),
        book_event(3, BookDelta(((100.0, 9.0),), (), 14, 15)),  # 13 is missing
        book_event(4, BookDelta(((100.0, 9.0),), (), 16, 16)),
        book_event(5, BookSnapshot(((100.0, 1.0),), ((101.0, 1.0),), 20)),
    ]
    out = [analyzer.on_event(e) for e in events]
    assert [len(o) for o in out] == [1, 1, 0, 0, 1]
    assert out[4][0].payload.value == 0.0


def test_the_rule_follows_the_exchange_or_the_config() -> None:
    futures = BookDelta(((100.0, 1.0),), (), 9, 12, previous_sequence=8)
    analyzer = BookImbalance(ImbalanceConfig(rule="futures"))
    other = "kraken:BTC/USD:book"
    got = values(analyzer, [book_event(1, SNAPSHOT, other), book_event(2, futures, other)])
    assert [v.components["bid"] for v in got] == [8.0, 7.0]
    with pytest.raises(UsageError, match="kraken"):
        BookImbalance().on_event(book_event(1, SNAPSHOT, other))


def test_a_restored_analyzer_continues_exactly_as_the_original() -> None:
    events = list(synthetic_book_events("s", STREAM, 300, seed=3, levels=40))
    for cut in (1, 2, 150):  # before the snapshot (deltas waiting), right after it, mid-chain
        original, restored = BookDepth(DepthConfig(bps=0.5)), BookDepth(DepthConfig(bps=0.5))
        for event in events[:cut]:
            original.on_event(event)
        restored.restore(msgspec.json.decode(msgspec.json.encode(original.snapshot())))
        tail = events[cut:]
        assert [r.payload for e in tail for r in restored.on_event(e)] == [
            o.payload for e in tail for o in original.on_event(e)
        ]


def test_registered_by_name_with_their_configs() -> None:
    assert {"book-imbalance", "spread", "depth"} <= set(ANALYZERS)
    [imb, depth] = build_analyzers([{"name": "book-imbalance", "levels": 3}, {"name": "depth", "bps": 25}])
    assert (imb.config.as_dict(), depth.config.as_dict()) == ({"rule": None, "levels": 3}, {"rule": None, "bps": 25.0})
    with pytest.raises(UsageError, match="levels"):
        build_analyzers([{"name": "book-imbalance", "levels": 0}])
