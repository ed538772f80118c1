"""The collectors' pure logic: trade dedupe and gaps, the REST cursor, book diffs and snapshots."""

from __future__ import annotations

import random

import pytest

from virtuoso.book import BookBuilder, SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event, Gap
from virtuoso.exchange import BookDiffer, TradePager, TradeTracker, diff_side

STREAM = "binance:BTC/USDT:trades"
BOOK = "binance:BTC/USDT:book"

# -- trades --------------------------------------------------------------------------


def test_duplicates_are_dropped_and_ids_must_grow() -> None:
    tracker = TradeTracker(STREAM)
    seen = [tracker.accept(str(i), i)[0] for i in (1, 2, 2, 3, 1, 4)]
    assert seen == [True, True, False, True, False, True]


def test_a_jump_in_trade_ids_is_one_gap_naming_the_missing_ids() -> None:
    tracker = TradeTracker(STREAM)
    tracker.accept("10", 100)
    new, gap = tracker.accept("14", 140)
    assert new
    assert gap == Gap(STREAM, 100, 140, "trade ids 11..13 missing")
    assert tracker.accept("15", 150) == (True, None)


def test_an_interruption_that_lost_nothing_leaves_no_gap() -> None:
    tracker = TradeTracker(STREAM)
    tracker.accept("10", 100)
    tracker.interrupt(120, "NetworkError: connection closed")
    assert tracker.accept("11", 130) == (True, None)


def test_an_interruption_that_lost_trades_says_why() -> None:
    tracker = TradeTracker(STREAM)
    tracker.accept("10", 100)
    tracker.interrupt(120, "NetworkError: connection closed")
    _, gap = tracker.accept("13", 130)
    assert gap == Gap(STREAM, 100, 130, "NetworkError: connection closed: trade ids 11..12 missing")


def test_unnumbered_trades_dedupe_by_id_and_report_interruptions() -> None:
    tracker = TradeTracker(STREAM)
    assert tracker.accept("a-1", 10) == (True, None)
    assert tracker.accept("a-1", 10) == (False, None)
    tracker.interrupt(15, "circuit open")
    assert tracker.accept("b-2", 30) == (True, Gap(STREAM, 10, 30, "circuit open"))


def test_restored_tracker_continues_from_the_log() -> None:
    tracker = TradeTracker(STREAM, last_id=99, last_ts=990)
    assert tracker.accept("99", 990) == (False, None)
    assert tracker.accept("100", 1000) == (True, None)


def test_pager_by_id_pages_until_a_short_page() -> None:
    pager = TradePager(cursor_param="fromId", limit=3)
    assert pager.request() == (None, {})
    assert pager.advance([{"id": str(i), "timestamp": i} for i in (5, 6, 7)]) is True
    assert pager.request() == (None, {"fromId": 8})
    assert pager.advance([{"id": "8", "timestamp": 8}]) is False
    assert pager.request() == (None, {"fromId": 9})
    assert pager.advance([]) is False
    assert pager.request() == (None, {"fromId": 9})


def test_pager_by_time_overlaps_and_the_tracker_drops_the_overlap() -> None:
    pager, tracker = TradePager(cursor_param=None, limit=1000, overlap_ms=50), TradeTracker(STREAM)
    page = [{"id": str(i), "timestamp": 1000 + i} for i in range(1, 4)]
    pager.advance(page)
    assert pager.request() == (1003 - 50, {})
    again = [{"id": str(i), "timestamp": 1000 + i} for i in range(1, 6)]
    kept = [t["id"] for t in page + again if tracker.accept(str(t["id"]), int(str(t["timestamp"])))[0]]
    assert kept == ["1", "2", "3", "4", "5"]


# -- books ---------------------------------------------------------------------------


def test_diff_side_reports_changes_and_removals() -> None:
    old = {100.0: 1.0, 99.0: 2.0, 98.0: 3.0}
    new = {100.0: 1.0, 99.0: 2.5, 97.0: 1.0}
    assert diff_side(old, new, descending=True) == ((99.0, 2.5), (98.0, 0.0), (97.0, 1.0))
    assert diff_side(new, new, descending=True) == ()


def _book(bids: dict[float, float], asks: dict[float, float], nonce: int | None) -> dict[str, object]:
    return {
        "bids": sorted(([p, a] for p, a in bids.items()), reverse=True),
        "asks": sorted([p, a] for p, a in asks.items()),
        "nonce": nonce,
    }


def _random_books(seed: int, count: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    bids = {100.0 - i: 1.0 + i for i in range(20)}
    asks = {101.0 + i: 1.0 + i for i in range(20)}
    books, nonce = [], 1000
    for _ in range(count):
        for side, base in ((bids, 100.0), (asks, 101.0)):
            for _ in range(rng.randint(0, 5)):
                price = base + rng.choice((-1, 1)) * rng.randint(0, 30)
                if rng.random() < 0.3:
                    side.pop(price, None)
                elif (side is bids and price <= 100.0) or (side is asks and price >= 101.0):
                    side[price] = round(rng.uniform(0.1, 9.0), 3)
        nonce += rng.randint(1, 4)
        books.append(_book(bids, asks, nonce))
    return books


@pytest.mark.parametrize(("seed", "rule"), [(1, SyncRule.SPOT), (2, SyncRule.SPOT), (3, SyncRule.FUTURES)])
def test_snapshot_and_deltas_rebuild_every_book(seed: int, rule: SyncRule) -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0, snapshot_every_updates=25, futures_chain=rule is SyncRule.FUTURES)
    builder = BookBuilder(rule, BOOK)
    kinds = []
    for ts, book in enumerate(_random_books(seed, 120), start=1):
        gap, payload = differ.on_book(book, ts)
        assert gap is None
        if payload is None:
            continue
        kinds.append(payload.TYPE)
        assert builder.apply(Event(str(ts), BOOK, ts, ts, "s", payload)) is None
        assert builder.book.bids() == [tuple(level) for level in book["bids"]]  # type: ignore[attr-defined]
        assert builder.book.asks() == [tuple(level) for level in book["asks"]]  # type: ignore[attr-defined]
    assert kinds[0] == "BookSnapshot"
    assert kinds.count("BookSnapshot") >= 4
    assert "BookDelta" in kinds


def test_unchanged_book_records_nothing_and_a_snapshot_comes_on_time() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=1_000)
    book = _book({100.0: 1.0}, {101.0: 1.0}, 5)
    assert isinstance(differ.on_book(book, 0)[1], BookSnapshot)
    assert differ.on_book(book, 10) == (None, None)
    assert isinstance(differ.on_book(_book({100.0: 2.0}, {101.0: 1.0}, 6), 20)[1], BookDelta)
    assert isinstance(differ.on_book(_book({100.0: 3.0}, {101.0: 1.0}, 7), 1_000)[1], BookSnapshot)


def test_interrupt_is_a_gap_then_a_fresh_snapshot() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0)
    differ.on_book(_book({100.0: 1.0}, {101.0: 1.0}, 5), 1_000, 10)
    differ.on_book(_book({100.0: 2.0}, {101.0: 1.0}, 6), 1_001, 20)
    differ.interrupt("NetworkError: closed")
    differ.interrupt("again")  # the first reason is the one reported
    gap, resync = differ.on_book(_book({100.0: 4.0}, {101.0: 1.0}, 50), 1_002, 40)
    assert gap == Gap(BOOK, 20, 40, "NetworkError: closed")
    assert resync == BookSnapshot(((100.0, 4.0),), ((101.0, 1.0),), 50)
    assert differ.on_book(_book({100.0: 5.0}, {101.0: 1.0}, 51), 1_003, 41)[0] is None


def test_an_interrupt_before_the_first_book_is_no_gap() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0)
    differ.interrupt("NetworkError: closed")
    gap, first = differ.on_book(_book({100.0: 1.0}, {101.0: 1.0}, 5), 1, 1)
    assert gap is None
    assert isinstance(first, BookSnapshot)


def test_update_ids_going_back_mean_a_rebuilt_book_and_a_snapshot() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0)
    differ.on_book(_book({100.0: 1.0}, {101.0: 1.0}, 50), 1)
    assert isinstance(differ.on_book(_book({100.0: 1.0}, {101.0: 2.0}, 7), 2)[1], BookSnapshot)


def test_books_without_update_ids_get_a_local_counter() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0)
    _, first = differ.on_book(_book({100.0: 1.0}, {101.0: 1.0}, None), 1)
    assert first is not None
    assert first.sequence == 0
    assert differ.on_book(_book({100.0: 1.0}, {101.0: 1.0}, None), 2) == (None, None)
    _, delta = differ.on_book(_book({100.0: 2.0}, {101.0: 1.0}, None), 3)
    assert isinstance(delta, BookDelta)
    assert (delta.first_sequence, delta.last_sequence) == (1, 1)


def test_a_level_at_amount_zero_is_not_in_the_book() -> None:
    differ = BookDiffer(BOOK, snapshot_every_ns=0)
    _, first = differ.on_book(_book({100.0: 1.0, 99.0: 0.0}, {101.0: 0.0}, 5), 1)
    assert first == BookSnapshot(((100.0, 1.0),), (), 5)
    _, delta = differ.on_book(_book({100.0: 0.0}, {101.0: 2.0}, 6), 2)
    assert isinstance(delta, BookDelta)
    assert (delta.bids, delta.asks, delta.last_sequence) == (((100.0, 0.0),), ((101.0, 2.0),), 6)
