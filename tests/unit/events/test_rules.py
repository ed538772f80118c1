"""The value rules every event passes before it enters the log."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    Event,
    Note,
    Quote,
    Ticker,
    Trade,
    event_problem,
    payload_problem,
)

NAN, INF = math.nan, math.inf
GOOD = [
    Trade(61_000.0, 0.5, "buy", "1"),
    BookSnapshot(((100.0, 1.0),), ((101.0, 2.0),), 7),
    BookDelta(((100.0, 0.0),), (), 8, 9, 7),
    Bar("1m", 60 * 10**9, 10.0, 12.0, 9.0, 11.0, 0.0, 0),
    Quote(100.0, 0.0, 101.0, 1.0),
    Ticker(0.0, 0.0, 101.0, 1.0, None),
    Note("anything goes in a note"),
]
BAD = [
    (Trade(NAN, 0.5, "buy", "1"), "price nan is not a finite number > 0"),
    (Trade(INF, 0.5, "buy", "1"), "price inf is not a finite number > 0"),
    (Trade(-1.0, 0.5, "buy", "1"), "price -1.0 is not a finite number > 0"),
    (Trade(0.0, 0.5, "buy", "1"), "price 0.0 is not a finite number > 0"),
    (Trade(1.0, 0.0, "buy", "1"), "amount 0.0 is not a finite number > 0"),
    (Trade(1.0, -0.5, "buy", "1"), "amount -0.5 is not a finite number > 0"),
    (Trade("1", 0.5, "buy", "1"), "price '1' is not a number"),  # type: ignore[arg-type]
    (Trade(1.0, 0.5, "hold", "1"), "side 'hold' is not 'buy' or 'sell'"),  # type: ignore[arg-type]
    (Trade(1.0, 0.5, "buy", ""), "trade_id '' is not a non-empty string"),
    (BookSnapshot(((100.0, 0.0),), (), 7), "bids[0] amount 0.0 is not a finite number > 0"),
    (BookSnapshot((), ((NAN, 1.0),), 7), "asks[0] price nan is not a finite number > 0"),
    (BookSnapshot((), ((1.0,),), 7), "asks[0] (1.0,) is not a (price, amount) pair"),  # type: ignore[arg-type]
    (BookSnapshot((), (), -1), "sequence -1 is not an integer from 0 to 2**63-1"),
    (BookDelta(((100.0, -1.0),), (), 8, 9), "bids[0] amount -1.0 is not a finite number >= 0"),
    (BookDelta((), (), 9, 8), "last_sequence 8 is before first_sequence 9"),
    (Bar("1m", 1, 10.0, 12.0, 9.0, 13.0, 1.0), "open/close 10.0/13.0 are not within low..high 9.0..12.0"),
    (Bar("1m", 1, 10.0, 12.0, 9.0, 11.0, -1.0), "volume -1.0 is not a finite number >= 0"),
    (Quote(100.0, 1.0, INF, 1.0), "ask inf is not a finite number > 0"),
    (Ticker(None, None, None, None, -3.0), "last -3.0 is not a finite number >= 0"),
]


@pytest.mark.parametrize("payload", GOOD, ids=lambda p: type(p).__name__)
def test_sane_values_pass(payload: object) -> None:
    assert payload_problem(payload) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("payload", "reason"), BAD, ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_each_broken_value_is_named(payload: object, reason: str) -> None:
    assert payload_problem(payload) == reason  # type: ignore[arg-type]


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_trade_price_passes_exactly_when_finite_and_positive(price: float) -> None:
    accepted = payload_problem(Trade(price, 1.0, "sell", "9")) is None
    assert accepted == (math.isfinite(price) and price > 0)


@pytest.mark.parametrize(
    ("ts_event", "ts_recv", "reason"),
    [
        (-1, 1, "ts_event -1 is not a time in ns from 0 to 2**63-1"),
        (1, -1, "ts_recv -1 is not a time in ns from 0 to 2**63-1"),
        (1, 2**63, "ts_recv 9223372036854775808 is not a time in ns from 0 to 2**63-1"),
        (1.5, 2, "ts_event 1.5 is not a time in ns from 0 to 2**63-1"),
        (True, 2, "ts_event True is not a time in ns from 0 to 2**63-1"),
    ],
)
def test_event_times_must_fit_the_log(ts_event: int, ts_recv: int, reason: str) -> None:
    event = Event("e", "x:BTC/USDT:trades", ts_event, ts_recv, "s", Trade(1.0, 1.0, "buy", "1"))
    assert event_problem(event) == reason


def test_an_event_with_a_bad_payload_names_the_payload() -> None:
    event = Event("e", "x:BTC/USDT:trades", 5, 6, "s", Trade(1.0, NAN, "buy", "1"))
    assert event_problem(event) == "amount nan is not a finite number > 0"
