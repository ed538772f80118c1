"""The kit's market-data strategies generate what a venue and the store could really give."""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.events import REGISTRY, Bar, BookDelta, BookSnapshot, Event, Quote, SessionStarted, Trade, encode_payload
from virtuoso.testing import MarketShape, bars, book_deltas, books, sessions, trades
from virtuoso.testing._builders import TIMEFRAMES_NS

FAST = settings(max_examples=30, deadline=None)
TWO_SYMBOLS = MarketShape(symbols=("BTC/USDT", "ETH/USDT"))


def by_stream(events: list[Event]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        streams[event.stream].append(event)
    return streams


@FAST
@given(sessions(TWO_SYMBOLS))
def test_a_session_is_in_log_order_with_consecutive_positions_and_versions(events: list[Event]) -> None:
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    assert all(a.ts_event <= b.ts_event and a.ts_recv <= b.ts_recv for a, b in itertools.pairwise(events))
    assert {e.session for e in events} == {"kit-session"}
    assert isinstance(events[0].payload, SessionStarted)
    assert all(e.ts_recv >= e.ts_event for e in events)
    for stream_events in by_stream(events).values():
        assert [e.version for e in stream_events] == list(range(1, len(stream_events) + 1))
    assert len({e.id for e in events}) == len(events)
    assert {e.stream for e in events[1:]} <= set(TWO_SYMBOLS.streams())


@FAST
@given(sessions(TWO_SYMBOLS))
def test_every_payload_survives_the_codec(events: list[Event]) -> None:
    for event in events:
        kind = REGISTRY.kind(event.type, event.schema)
        assert kind.decode(encode_payload(event.payload), event.position) == event.payload


@FAST
@given(sessions(TWO_SYMBOLS))
def test_trades_and_quotes_make_market_sense(events: list[Event]) -> None:
    for stream_events in by_stream(events).values():
        payloads = [e.payload for e in stream_events]
        trade_list = [p for p in payloads if isinstance(p, Trade)]
        assert all(t.price > 0 and t.amount > 0 for t in trade_list)
        ids = [int(t.trade_id) for t in trade_list]
        assert ids == list(range(ids[0], ids[0] + len(ids))) if ids else True
        quotes = [p for p in payloads if isinstance(p, Quote)]
        assert all(0 < q.bid < q.ask and q.bid_size > 0 and q.ask_size > 0 for q in quotes)
        sequences = [q.sequence for q in quotes]
        assert sequences == list(range(sequences[0], sequences[0] + len(sequences))) if sequences else True


def assert_book_stream(payloads: list[BookSnapshot | BookDelta]) -> None:
    assert isinstance(payloads[0], BookSnapshot)
    last = payloads[0].sequence
    best_ask = payloads[0].asks[0][0]
    best_bid = payloads[0].bids[0][0]
    for payload in payloads[1:]:
        if isinstance(payload, BookSnapshot):
            assert payload.sequence > last
            last, best_bid, best_ask = payload.sequence, payload.bids[0][0], payload.asks[0][0]
            continue
        assert payload.first_sequence == last + 1 <= payload.last_sequence
        last = payload.last_sequence
        assert all(price < best_ask and amount >= 0 for price, amount in payload.bids)
        assert all(price > best_bid and amount >= 0 for price, amount in payload.asks)
    for snapshot in (p for p in payloads if isinstance(p, BookSnapshot)):
        bids, asks = [price for price, _ in snapshot.bids], [price for price, _ in snapshot.asks]
        assert bids == sorted(bids, reverse=True)
        assert asks == sorted(asks)
        assert bids[0] < asks[0]
        assert all(amount > 0 for _, amount in snapshot.bids + snapshot.asks)


@FAST
@given(sessions(MarketShape(channels=("book",), min_events=1)))
def test_book_streams_start_with_a_snapshot_and_sequence_ids_follow_on(events: list[Event]) -> None:
    payloads = [e.payload for e in events[1:]]
    assert all(isinstance(p, BookSnapshot | BookDelta) for p in payloads)
    assert_book_stream(payloads)  # type: ignore[arg-type]


@FAST
@given(book_deltas(extremes=True))
def test_book_deltas_alone_make_a_coherent_book_stream(payloads: list[BookSnapshot | BookDelta]) -> None:
    assert_book_stream(payloads)


@FAST
@given(sessions(MarketShape(channels=("bars",), timeframe="1m")))
def test_bars_are_consistent_updated_then_closed(events: list[Event]) -> None:
    bar_list = [e.payload for e in events[1:]]
    for bar, event in zip(bar_list, events[1:], strict=True):
        assert isinstance(bar, Bar)
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume >= 0
        assert bar.open_ns % TIMEFRAMES_NS["1m"] == 0
        assert bar.open_ns <= event.ts_event < bar.open_ns + TIMEFRAMES_NS["1m"]
    for a, b in itertools.pairwise(bar_list):
        assert isinstance(a, Bar)
        assert isinstance(b, Bar)
        assert a.closed == (a.open_ns != b.open_ns)
        if a.open_ns == b.open_ns:
            assert (b.open, max(b.high, a.high), min(b.low, a.low)) == (a.open, b.high, b.low)
            assert b.volume >= a.volume
    assert not bar_list or not bar_list[-1].closed  # type: ignore[union-attr]


@FAST
@given(sessions(MarketShape(bursts=False, gaps=False, extremes=False, max_events=40)))
def test_knobs_off_mean_no_bursts_no_gaps_and_plain_values(events: list[Event]) -> None:
    market = events[1:]
    steps = [b.ts_event - a.ts_event for a, b in itertools.pairwise(events)]
    assert all(0 < step < 60_000_000_000 for step in steps)
    assert len(market) <= 40
    for event in market:
        if isinstance(event.payload, Trade):
            assert 0.5 < event.payload.price < 200_000
            assert 0.0001 <= event.payload.amount <= 100


def test_pathologies_do_show_up() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(sessions(MarketShape(channels=("trades",), min_events=2)))
    def look(events: list[Event]) -> None:
        steps = [b.ts_event - a.ts_event for a, b in itertools.pairwise(events[1:])]
        prices = [e.payload.price for e in events[1:] if isinstance(e.payload, Trade)]
        seen.update({"burst"} if 0 in steps else set())
        seen.update({"gap"} if any(step >= 60_000_000_000 for step in steps) else set())
        seen.update({"flat"} if any(a == b for a, b in itertools.pairwise(prices)) else set())
        seen.update({"huge"} if any(p >= 1e6 for p in prices) else set())
        seen.update({"tiny"} if any(p <= 1e-4 for p in prices) else set())

    look()
    assert seen == {"burst", "gap", "flat", "huge", "tiny"}


@FAST
@given(trades(), bars(), books())
def test_single_payloads_make_market_sense(trade: Trade, bar: Bar, book: BookSnapshot) -> None:
    assert min(trade.price, trade.amount) > 0
    assert trade.side in ("buy", "sell")
    assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    assert bar.volume >= 0
    assert book.bids[0][0] < book.asks[0][0]


@FAST
@given(st.data())
def test_size_knobs_bound_the_session(data: st.DataObject) -> None:
    low = data.draw(st.integers(min_value=0, max_value=15))
    high = data.draw(st.integers(min_value=low, max_value=30))
    events = data.draw(sessions(MarketShape(min_events=low, max_events=high, lifecycle=False)))
    assert low <= len(events) <= high
    assert not any(isinstance(e.payload, SessionStarted) for e in events)
