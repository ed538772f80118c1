"""Properties of the order book and its builder, on generated delta chains.

* Applying a valid chain of deltas on a snapshot gives the book a snapshot taken
  at the end would give, and every question the book answers agrees with a
  plain-dict model of it.
* Dropping any delta that has a successor is always detected, by both rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.book import BookBuilder, OrderBook, SyncRule
from virtuoso.events import BookDelta, BookSnapshot, Event, Level, Payload

STREAMS = {SyncRule.SPOT: "binance:BTC/USDT:book", SyncRule.FUTURES: "binanceusdm:BTC/USDT:USDT:book"}

# Few distinct prices, so updates hit existing levels, remove them and re-add them often.
prices = st.integers(min_value=1, max_value=40).map(lambda tick: tick / 4)
sizes = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.25, 7.0])
level_lists = st.lists(st.tuples(prices, sizes), max_size=6)


@dataclass
class Chain:
    """A snapshot and the deltas after it, in arrival order, valid by ``rule``."""

    rule: SyncRule
    snapshot: BookSnapshot
    deltas: list[BookDelta]


@st.composite
def chains(draw: st.DrawFn, min_deltas: int = 0) -> Chain:
    rule = draw(st.sampled_from(list(SyncRule)))
    anchor = draw(st.integers(min_value=1, max_value=10**12))
    bids = draw(level_lists)
    asks = draw(level_lists)
    snapshot = BookSnapshot(tuple(bids), tuple(asks), anchor)
    # The first delta straddles the snapshot's id by the rule; each next one follows the last.
    lead = draw(st.integers(min_value=0, max_value=3))
    first = anchor + 1 - lead if rule is SyncRule.SPOT else anchor - lead
    last = max(first, anchor + 1 if rule is SyncRule.SPOT else anchor) + draw(st.integers(0, 5))
    deltas = [BookDelta(tuple(draw(level_lists)), tuple(draw(level_lists)), first, last, first - 1)]
    for _ in range(draw(st.integers(min_value=max(min_deltas - 1, 0), max_value=25))):
        first, last = last + 1, last + 1 + draw(st.integers(0, 5))
        deltas.append(BookDelta(tuple(draw(level_lists)), tuple(draw(level_lists)), first, last, first - 1))
    return Chain(rule, snapshot, deltas)


def feed(chain: Chain, deltas: list[BookDelta]) -> tuple[BookBuilder, list[str]]:
    builder = BookBuilder(chain.rule, STREAMS[chain.rule])
    payloads: list[Payload] = [chain.snapshot, *deltas]
    gaps = []
    for ts, payload in enumerate(payloads, start=1):
        gap = builder.apply(Event(str(ts), builder.stream, ts, ts, "s", payload, position=ts))
        if gap is not None:
            gaps.append(gap.reason)
    return builder, gaps


def model_after(chain: Chain) -> tuple[dict[float, float], dict[float, float]]:
    bids = {p: s for p, s in chain.snapshot.bids if s}
    asks = {p: s for p, s in chain.snapshot.asks if s}
    for delta in chain.deltas:
        for side, levels in ((bids, delta.bids), (asks, delta.asks)):
            for price, size in levels:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
    return bids, asks


def best_first(side: dict[float, float], *, descending: bool) -> list[Level]:
    return sorted(side.items(), reverse=descending)


@settings(max_examples=100, deadline=None)
@given(chains())
def test_applying_a_valid_chain_equals_rebuilding_from_a_final_snapshot(chain: Chain) -> None:
    builder, gaps = feed(chain, chain.deltas)
    bids, asks = model_after(chain)
    final = BookSnapshot(tuple(best_first(bids, descending=True)), tuple(best_first(asks, descending=False)), 0)

    assert gaps == []
    assert builder.in_sync
    assert builder.sequence == chain.deltas[-1].last_sequence
    assert builder.book == OrderBook.from_snapshot(final)
    assert builder.book.bids() == list(final.bids)
    assert builder.book.asks() == list(final.asks)


@settings(max_examples=100, deadline=None)
@given(chains(), st.integers(min_value=1, max_value=8), prices)
def test_every_question_agrees_with_a_plain_model(chain: Chain, depth: int, price: float) -> None:
    builder, _ = feed(chain, chain.deltas)
    book = builder.book
    bids, asks = model_after(chain)
    top_bids = best_first(bids, descending=True)[:depth]
    top_asks = best_first(asks, descending=False)[:depth]

    assert book.depth(depth) == (top_bids, top_asks)
    assert book.best_bid == (top_bids[0] if top_bids else None)
    assert book.best_ask == (top_asks[0] if top_asks else None)
    if bids and asks:
        assert book.mid == (max(bids) + min(asks)) / 2
        assert book.spread == min(asks) - max(bids)
        assert book.crossed == (max(bids) >= min(asks))
    bid_volume = sum(s for _, s in top_bids)
    ask_volume = sum(s for _, s in top_asks)
    total = bid_volume + ask_volume
    assert book.imbalance(depth) == (None if not total else (bid_volume - ask_volume) / total)
    assert book.volume_at_or_better("bid", price) == sum(s for p, s in bids.items() if p >= price)
    assert book.volume_at_or_better("ask", price) == sum(s for p, s in asks.items() if p <= price)


@settings(max_examples=100, deadline=None)
@given(st.data(), chains(min_deltas=2))
def test_a_dropped_delta_is_always_detected(data: st.DataObject, chain: Chain) -> None:
    dropped = data.draw(st.integers(min_value=0, max_value=len(chain.deltas) - 2), label="dropped")
    kept = chain.deltas[:dropped] + chain.deltas[dropped + 1 :]

    builder, gaps = feed(chain, kept)

    assert len(gaps) == 1
    assert not builder.in_sync
    assert builder.sequence is None
    assert builder.state().bids == builder.state().asks == ()
