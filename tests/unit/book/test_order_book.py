"""OrderBook: levels in and out, and every question it answers."""

from __future__ import annotations

import pytest

from virtuoso.book import OrderBook
from virtuoso.events import BookSnapshot


def sample() -> OrderBook:
    return OrderBook(bids=[(99.0, 1.0), (100.0, 2.0), (98.0, 3.0)], asks=[(102.0, 4.0), (101.0, 5.0), (103.0, 6.0)])


def test_an_empty_book_answers_none() -> None:
    book = OrderBook()
    assert (book.best_bid, book.best_ask, book.mid, book.spread, book.imbalance(5)) == (None,) * 5
    assert book.depth(5) == ([], [])
    assert not book.crossed
    assert book.volume_at_or_better("bid", 1.0) == book.volume_at_or_better("ask", 1.0) == 0


def test_levels_come_best_first_whatever_the_input_order() -> None:
    book = sample()
    assert book.bids() == [(100.0, 2.0), (99.0, 1.0), (98.0, 3.0)]
    assert book.asks() == [(101.0, 5.0), (102.0, 4.0), (103.0, 6.0)]
    assert book.depth(2) == ([(100.0, 2.0), (99.0, 1.0)], [(101.0, 5.0), (102.0, 4.0)])
    assert book.depth(0) == ([], [])
    assert book.bids(10) == book.bids()


def test_best_mid_and_spread() -> None:
    book = sample()
    assert (book.best_bid, book.best_ask) == ((100.0, 2.0), (101.0, 5.0))
    assert (book.mid, book.spread) == (100.5, 1.0)


def test_a_one_sided_book_has_no_mid_nor_spread() -> None:
    book = OrderBook(bids=[(100.0, 1.0)])
    assert book.best_bid == (100.0, 1.0)
    assert (book.best_ask, book.mid, book.spread) == (None, None, None)


def test_apply_sets_sizes_adds_and_removes_levels() -> None:
    book = sample()
    book.apply(bids=[(100.0, 0.0), (99.0, 7.0), (99.5, 0.5)], asks=[(101.0, 0.0), (100.8, 1.5)])
    assert book.bids() == [(99.5, 0.5), (99.0, 7.0), (98.0, 3.0)]
    assert book.asks() == [(100.8, 1.5), (102.0, 4.0), (103.0, 6.0)]
    assert (book.levels("bid"), book.levels("ask")) == (3, 3)


def test_removing_a_level_that_is_not_there_changes_nothing() -> None:
    book = sample()
    book.apply(bids=[(50.0, 0.0)], asks=[(500.0, 0.0)])
    assert book == sample()


def test_reset_replaces_everything_and_drops_empty_levels() -> None:
    book = sample()
    book.reset(bids=[(10.0, 1.0), (9.0, 0.0)], asks=[(11.0, 2.0)])
    assert book.depth() == ([(10.0, 1.0)], [(11.0, 2.0)])
    book.clear()
    assert book == OrderBook()


def test_imbalance_over_the_best_levels() -> None:
    book = sample()
    assert book.imbalance(1) == pytest.approx((2.0 - 5.0) / 7.0)
    assert book.imbalance(3) == pytest.approx((6.0 - 15.0) / 21.0)
    assert OrderBook(bids=[(1.0, 1.0)]).imbalance(3) == 1.0
    assert OrderBook(asks=[(1.0, 1.0)]).imbalance(3) == -1.0


def test_volume_at_or_better_includes_the_price_itself() -> None:
    book = sample()
    assert book.volume_at_or_better("bid", 99.0) == 3.0
    assert book.volume_at_or_better("bid", 99.5) == 2.0
    assert book.volume_at_or_better("bid", 200.0) == 0.0
    assert book.volume_at_or_better("ask", 102.0) == 9.0
    assert book.volume_at_or_better("ask", 1000.0) == 15.0
    assert book.volume_at_or_better("ask", 100.0) == 0.0
    with pytest.raises(ValueError, match="side"):
        book.volume_at_or_better("mid", 1.0)  # type: ignore[arg-type]


def test_crossed_when_the_best_bid_reaches_the_best_ask() -> None:
    book = sample()
    assert not book.crossed
    book.apply(bids=[(101.0, 1.0)])
    assert book.crossed
    assert book.spread == 0.0


def test_snapshot_round_trip() -> None:
    snapshot = sample().snapshot(42)
    assert snapshot == BookSnapshot(
        ((100.0, 2.0), (99.0, 1.0), (98.0, 3.0)), ((101.0, 5.0), (102.0, 4.0), (103.0, 6.0)), 42
    )
    assert OrderBook.from_snapshot(snapshot) == sample()


def test_books_compare_by_levels_and_are_not_hashable() -> None:
    assert sample() == sample()
    assert sample() != OrderBook()
    assert sample() != "a book"
    with pytest.raises(TypeError):
        hash(sample())
    assert "best_bid=(100.0, 2.0)" in repr(sample())
