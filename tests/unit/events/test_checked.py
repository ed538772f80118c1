"""The column form of the value rules against the reference, event_problem, on batches of awkward values."""

from __future__ import annotations

import math
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    CheckedEvents,
    Event,
    EventIdFactory,
    Note,
    Problem,
    Quote,
    Ticker,
    Trade,
    TradeColumns,
    check_events,
    checked_trades,
    event_problem,
    first_problem,
    trades_of,
)

MAX = 2**63 - 1

# Values a rule may meet: plain good ones mostly, and every kind of bad or odd one.
_numbers = st.one_of(
    st.floats(min_value=1e-9, max_value=1e9),
    st.sampled_from([0.0, -0.0, -1.5, math.nan, math.inf, -math.inf, 5e-324, 1.7e308]),
    st.integers(min_value=-3, max_value=10**6),
    st.sampled_from([2**1100, True, False, None, "1.5", "x", 1j]),
)
_good_price = st.floats(min_value=1e-6, max_value=1e7)
_price = st.one_of(_good_price, _good_price, _numbers)
_sequence = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from([-1, MAX, MAX + 1, True, 1.0, None, "7"]),
)
_time = st.one_of(st.integers(min_value=0, max_value=MAX), st.sampled_from([-1, MAX + 1, 1.5, True, None, 0]))
_level = st.one_of(
    st.tuples(_price, _price),
    st.sampled_from([(1.0,), (1.0, 2.0, 3.0), "ab", 7.0, [2.0, 0.0], (1.0, 0.0)]),
)
_levels = st.lists(_level, max_size=4).map(tuple)
_side = st.one_of(st.sampled_from(["buy", "sell"]), st.sampled_from(["BUY", "", None, 1, ["buy"]]))
_trade_id = st.one_of(st.text(max_size=3), st.sampled_from([None, 7, b"7"]))

_payloads = st.one_of(
    st.builds(Trade, _price, _price, _side, _trade_id),
    st.builds(Quote, _price, _price, _price, _price, st.one_of(st.none(), _sequence)),
    st.builds(BookSnapshot, _levels, _levels, _sequence),
    st.builds(BookDelta, _levels, _levels, _sequence, _sequence, st.one_of(st.none(), _sequence)),
    st.builds(Bar, st.just("1m"), _sequence, _price, _price, _price, _price, _price),
    st.builds(Ticker, _price, _price, _price, _price, st.one_of(st.none(), _price)),
    st.builds(Note, st.text(max_size=3)),
)


@st.composite
def _events(draw: st.DrawFn) -> list[Event]:
    # Mostly one payload type per batch (an import), sometimes mixed (a recording).
    payloads = draw(st.lists(_payloads, min_size=1, max_size=12))
    if draw(st.booleans()):
        payloads = [p for p in payloads if type(p) is type(payloads[0])]
    ts = [draw(st.one_of(st.just(1_723_161_600_000_000_000), _time)) for _ in payloads]
    recv = [t if i % 3 else draw(_time) for i, t in enumerate(ts)]
    return [Event(f"e{i}", "s", *times, "s1", p) for i, (*times, p) in enumerate(zip(ts, recv, payloads, strict=True))]


def _reference(events: list[Event]) -> Problem | None:
    for index, event in enumerate(events):
        text = event_problem(event)
        if text is not None:
            return Problem(index, text)
    return None


@settings(max_examples=200, deadline=None)
@given(_events())
def test_the_column_check_finds_what_the_event_check_finds(events: list[Event]) -> None:
    assert first_problem(events) == _reference(events)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_price, _price, st.booleans()), min_size=1, max_size=40))
def test_every_rule_on_trade_columns_agrees_row_by_row(rows: list[tuple[Any, Any, bool]]) -> None:
    # Each row alone and all rows together: the same verdict as the reference on each.
    trades = trades_of([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], ["1"] * len(rows))
    events = [Event(f"e{i}", "s", 5, 5, "s1", t) for i, t in enumerate(trades)]
    for event in events:
        assert first_problem([event]) == _reference([event])
    assert first_problem(events) == _reference(events)


def test_a_checked_batch_is_made_by_check_events_only() -> None:
    good = Event("e1", "s", 1, 1, "s1", Trade(1.0, 1.0, "buy", "1"))
    checked = check_events([good, good])
    assert isinstance(checked, CheckedEvents)
    assert list(checked) == [good, good]
    assert check_events([good, Event("e2", "s", -1, 1, "s1", Trade(1.0, 1.0, "buy", "1"))]) == Problem(
        1, "ts_event -1 is not a time in ns from 0 to 2**63-1"
    )
    with pytest.raises(TypeError, match="check_events"):
        CheckedEvents([good])


@pytest.mark.parametrize("start", [0, 41, 2**32 - 2])
def test_ids_made_in_bulk_are_the_ids_made_one_by_one(start: int) -> None:
    times = [0, 1, 1_723_161_600_000_000_000, MAX, -1, -(2**63)]
    one_by_one, bulk = EventIdFactory("ns", start), EventIdFactory("ns", start)
    expected = [one_by_one(t) for t in times]
    assert bulk.many(np.array(times, dtype=np.int64)) == expected
    assert bulk(5) == one_by_one(5)  # the counter carries on from the bulk call


_float = st.one_of(st.floats(min_value=1e-9, max_value=1e9), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_float, _float, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.sampled_from(["1", "", "x"])),
        min_size=1,
        max_size=20,
    )
)
def test_trades_checked_on_their_arrays_agree_with_the_event_check(
    rows: list[tuple[float, float, int, bool, str]],
) -> None:
    prices, amounts, times, sells, trade_ids = (list(column) for column in zip(*rows, strict=True))
    ids = [f"e{i}" for i in range(len(rows))]
    columns = TradeColumns(ids, np.array(times), np.array(prices), np.array(amounts), np.array(sells), trade_ids)
    result = checked_trades(columns, stream="s", session="s1")
    events = [
        Event(i, "s", t, t, "s1", p)
        for i, t, p in zip(ids, times, trades_of(prices, amounts, sells, trade_ids), strict=True)
    ]
    if isinstance(result, CheckedEvents):
        assert list(result) == events
        assert _reference(events) is None
    else:
        assert result == _reference(events)
