"""The boundary checks on inputs nobody wrote by hand: whatever ccxt hands over is refused or clean, never a crash.

Hypothesis builds trades, books and candles out of every kind of JSON-ish value
(and some that JSON cannot carry: NaN, infinities, bytes, nested junk). What
the checks accept must build an event the log accepts; what they refuse has a
reason. The rejection notes are rate-limited by the clock.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from virtuoso.clock import ReplayClock
from virtuoso.errors import EventError
from virtuoso.events import Event, PayloadRejected, event_problem, payload_problem
from virtuoso.exchange import BookDiffer, Emitter, Secrets, trade_event
from virtuoso.exchange._faults import BadAnswer
from virtuoso.exchange._normalize import bar_payload
from virtuoso.exchange._stall import fail_silent_clients
from virtuoso.exchange._validate import (
    Rejections,
    candle_problem,
    event_time_problem,
    expect_book,
    trade_problem,
)

NOW_NS = 1_800_000_000_000_000_000
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1", "0", "-1", "nan", "inf", "1e400", "12.5", "buy", "sell", "1700000000000"]),
    st.binary(max_size=4),
)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner))
trades = st.one_of(
    junk,
    st.fixed_dictionaries(
        {"id": scalars, "price": scalars, "amount": scalars, "side": scalars, "timestamp": scalars},
        optional={"extra": junk},
    ),
)
levels = st.lists(st.one_of(junk, st.lists(scalars, min_size=0, max_size=3)), max_size=4)
books = st.one_of(junk, st.fixed_dictionaries({"bids": levels, "asks": levels, "nonce": scalars}))


@given(trades)
@settings(max_examples=200, deadline=None)
def test_a_trade_the_checks_accept_builds_an_event_the_log_accepts(trade: Any) -> None:
    problem = trade_problem(trade)
    if problem is not None:
        assert problem
        return
    try:
        event = trade_event(trade, stream="x:BTC/USDT:trades", prefix="00000000", session="s", ts_recv=NOW_NS)
    except EventError:
        pytest.fail(f"accepted trade {trade!r} could not be normalized")
    if event_time_problem(event, ahead_s=300.0, behind_s=0.0) is None:
        assert event_problem(event) is None


@given(books)
@example(book={"bids": [], "asks": [["1", 0]], "nonce": None})
@example(book={"bids": [[2.0, 0.0], [1.0, 3.0]], "asks": [[3.0, 0.0]], "nonce": 4})
@settings(max_examples=200, deadline=None)
def test_a_book_is_refused_with_a_reason_or_diffed_into_clean_payloads(book: Any) -> None:
    refused = ""
    try:
        checked = expect_book(book, "watch_order_book")
    except BadAnswer as error:
        refused = str(error)
    if refused:
        assert refused.startswith("watch_order_book: ")
        return
    differ = BookDiffer("x:BTC/USDT:book", snapshot_every_ns=0)
    _, payload = differ.on_book(checked, NOW_NS)
    assert payload is not None
    assert payload_problem(payload) is None


@given(st.one_of(junk, st.lists(scalars, min_size=6, max_size=7)))
@settings(max_examples=150, deadline=None)
def test_a_candle_is_refused_with_a_reason_or_becomes_a_bar(candle: Any) -> None:
    if candle_problem(candle) is not None:
        return
    bar = bar_payload(candle, "1m")
    assert isinstance(bar.open_ns, int)
    assert all(isinstance(v, float) for v in (bar.open, bar.high, bar.low, bar.close))


class _Kept:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.asyncio
async def test_a_flood_of_one_reason_is_noted_once_per_interval_and_the_counts_add_up() -> None:
    clock, kept = ReplayClock(NOW_NS), _Kept()
    rejections = Rejections(
        Emitter(kept, clock, session="s", exchange="x"), Secrets.from_config({"secret": "hunter2"}), interval_s=60.0
    )
    for second in range(150):
        clock.advance_to(NOW_NS + second * 1_000_000_000)
        await rejections.reject("x:BTC/USDT:trades", "trade has no id", {"id": None, "key": "hunter2"})
    await rejections.reject("x:BTC/USDT:trades", "price nan is not a finite number > 0", {"price": math.nan})
    await rejections.flush()
    notes = [e.payload for e in kept.events if isinstance(e.payload, PayloadRejected)]
    assert [(n.reason, n.count) for n in notes] == [
        ("trade has no id", 1),  # the first at once
        ("trade has no id", 60),  # then one per 60 s, summed
        ("trade has no id", 60),
        ("price nan is not a finite number > 0", 1),
        ("trade has no id", 29),  # the rest at the end
    ]
    assert sum(n.count for n in notes) == 151
    assert rejections.items() == [
        ("x:BTC/USDT:trades", "price nan is not a finite number > 0", 1),
        ("x:BTC/USDT:trades", "trade has no id", 150),
    ]
    assert all("hunter2" not in n.sample for n in notes)
    assert {e.stream for e in kept.events} == {"system:s:rejected"}


class _Connection:
    """ccxt.pro's ``Client`` as the watchdog reads it: ``url``, ``last_message_at`` (ms), ``on_error``."""

    def __init__(self, url: str, last_message_at: float | None) -> None:
        self.url, self.last_message_at = url, last_message_at
        self.errors: list[BaseException] = []

    def on_error(self, error: BaseException) -> None:
        self.errors.append(error)


class _Exchange:
    def __init__(self, *clients: _Connection) -> None:
        self.clients = {c.url: c for c in clients}


def test_only_a_connection_silent_for_the_whole_timeout_is_failed_a_quiet_market_on_a_live_one_is_not() -> None:
    busy, silent, new = _Connection("busy", 99_500.0), _Connection("silent", 60_000.0), _Connection("new", None)
    exchange = _Exchange(busy, silent, new)
    assert fail_silent_clients(exchange, 30.0, now_ms=100_000.0) == 1
    assert (busy.errors, new.errors) == ([], [])
    [error] = silent.errors
    assert type(error).__name__ == "RequestTimeout"  # what ccxt raises for a missed pong: it reconnects
    assert str(error) == "silent: no frame for 30 s (stall)"
    assert fail_silent_clients(exchange, 30.0, now_ms=130_000.0) == 3  # 'new' never received a frame since
