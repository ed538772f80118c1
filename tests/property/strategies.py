"""Hypothesis strategies for every event payload type and for envelopes.

Market payloads obey the value rules every stored event passes
(``virtuoso.events.payload_problem``: finite positive prices, non-negative amounts,
``low <= open, close <= high``, sequences within 64 bits), since the stores refuse
anything else; the other payloads are drawn as any shape their types allow.
Integers stay within SQLite's signed 64 bits where the store keeps them in a
column (timestamps, causation).

Every registered payload type has an entry in :data:`PAYLOAD_STRATEGIES`; the
codec round-trip test fails when a new type is registered without one.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from virtuoso.bus import HandlerFailed
from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    BreakerStateChanged,
    ChannelRestarted,
    ComponentHealth,
    ConfluenceScore,
    EquityMarked,
    Event,
    FileImported,
    Gap,
    HealthReported,
    IndicatorValue,
    Market,
    MarketsLoaded,
    Note,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    Payload,
    PayloadRejected,
    PositionChanged,
    Quote,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    Signal,
    Ticker,
    Trade,
)
from virtuoso.processing import ProcessorStats

INT64_MAX = 2**63 - 1

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
"""Any text JSON can carry (lone surrogates cannot be encoded as UTF-8)."""

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
optional_floats = st.none() | finite_floats
prices = st.floats(min_value=0.0, max_value=1e15, exclude_min=True)
amounts = st.floats(min_value=0.0, max_value=1e15)
optional_amounts = st.none() | amounts
sequences = st.integers(min_value=0, max_value=INT64_MAX)
"""Venue sequence numbers: non-negative, within 64 bits."""

timestamps = st.integers(min_value=0, max_value=INT64_MAX)
"""Nanoseconds since the epoch, as the store keeps them (signed 64-bit column)."""

books = st.lists(st.tuples(prices, prices), max_size=6).map(tuple)
"""Snapshot levels: every amount > 0."""
deltas = st.lists(st.tuples(prices, amounts), max_size=6).map(tuple)
"""Delta levels: an amount of 0 removes the level."""
sides = st.sampled_from(["buy", "sell"])


def _symbols() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(texts, max_size=4).map(tuple)


PAYLOAD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "Trade": st.builds(
        Trade, price=prices, amount=prices, side=st.sampled_from(["buy", "sell"]), trade_id=texts.filter(bool)
    ),
    "BookSnapshot": st.builds(BookSnapshot, bids=books, asks=books, sequence=sequences),
    "BookDelta": st.tuples(sequences, sequences).flatmap(
        lambda ends: st.builds(
            BookDelta,
            bids=deltas,
            asks=deltas,
            first_sequence=st.just(min(ends)),
            last_sequence=st.just(max(ends)),
            previous_sequence=st.none() | sequences,
        )
    ),
    "Bar": st.lists(prices, min_size=4, max_size=4).flatmap(
        lambda four: st.builds(
            Bar,
            timeframe=st.sampled_from(["1m", "5m", "1h", "1d"]) | texts,
            open_ns=timestamps,
            open=st.just(sorted(four)[1]),
            high=st.just(max(four)),
            low=st.just(min(four)),
            close=st.just(sorted(four)[2]),
            volume=amounts,
            trades=st.none() | st.integers(min_value=0, max_value=INT64_MAX),
            closed=st.booleans(),
            buy_volume=optional_amounts,
            vwap=st.none() | prices,
        )
    ),
    "Quote": st.builds(
        Quote,
        bid=prices,
        bid_size=amounts,
        ask=prices,
        ask_size=amounts,
        sequence=st.none() | sequences,
    ),
    "Ticker": st.builds(
        Ticker,
        bid=optional_amounts,
        bid_size=optional_amounts,
        ask=optional_amounts,
        ask_size=optional_amounts,
        last=optional_amounts,
        base_volume=optional_amounts,
        quote_volume=optional_amounts,
    ),
    "SessionStarted": st.builds(
        SessionStarted, name=texts, source=texts, symbols=_symbols(), channels=_symbols(), config_hash=texts
    ),
    "SessionEnded": st.builds(SessionEnded, status=st.sampled_from(["closed", "crashed"]), reason=texts),
    "Gap": st.builds(Gap, stream=texts, start_ns=timestamps, end_ns=timestamps, reason=texts),
    "Note": st.builds(
        Note,
        message=texts,
        level=st.sampled_from(["info", "warning", "error"]),
        data=st.dictionaries(texts, texts, max_size=4),
    ),
    "HandlerFailed": st.builds(
        HandlerFailed,
        handler=texts,
        event_id=texts,
        position=st.integers(0, 2**62),
        event_type=texts,
        error=texts,
        unsubscribed=st.booleans(),
    ),
    "ProcessorStats": st.builds(
        ProcessorStats,
        processor=texts,
        depths=st.dictionaries(texts, st.integers(0, 2**31), max_size=4),
        events_in=st.integers(0, 2**62),
        events_handled=st.integers(0, 2**62),
        events_abandoned=st.integers(0, 2**62),
        events_out=st.integers(0, 2**62),
        dead_letters=st.integers(0, 2**62),
        events_per_s=st.floats(0, 1e12),
        latency_p50_ns=st.integers(0, 2**62),
        latency_p90_ns=st.integers(0, 2**62),
        latency_p99_ns=st.integers(0, 2**62),
    ),
    "FileImported": st.builds(
        FileImported,
        path=texts,
        sha256=texts,
        bytes=st.integers(min_value=0, max_value=INT64_MAX),
        format=texts,
        counts=st.dictionaries(texts, st.integers(min_value=0, max_value=INT64_MAX), max_size=4),
        cursors=st.dictionaries(texts, st.tuples(sequences, timestamps), max_size=4),
    ),
    "SessionResumed": st.builds(SessionResumed, previous=st.sampled_from(["closed", "crashed"]), reason=texts),
    "PayloadRejected": st.builds(
        PayloadRejected, stream=texts, reason=texts, count=st.integers(0, 2**62), sample=texts
    ),
    "ChannelRestarted": st.builds(
        ChannelRestarted,
        stream=texts,
        reason=texts,
        restarts=st.integers(0, 2**62),
        delay_s=st.floats(0, 1e6),
        stopped=st.booleans(),
    ),
    "BreakerStateChanged": st.builds(
        BreakerStateChanged,
        breaker=texts,
        old=st.sampled_from(["closed", "open", "half_open"]),
        new=st.sampled_from(["closed", "open", "half_open"]),
        reason=texts,
        failures=st.integers(0, 2**62),
    ),
    "HealthReported": st.builds(
        HealthReported,
        status=st.sampled_from(["ok", "degraded", "down"]),
        components=st.lists(
            st.builds(ComponentHealth, name=texts, status=st.sampled_from(["ok", "degraded", "down"]), reason=texts),
            max_size=4,
        ).map(tuple),
    ),
    "IndicatorValue": st.builds(
        IndicatorValue,
        name=texts,
        timeframe=texts,
        at_ns=timestamps,
        value=finite_floats,
        components=st.dictionaries(texts, finite_floats, max_size=4),
    ),
    "ConfluenceScore": st.builds(
        ConfluenceScore,
        total=finite_floats,
        state=st.sampled_from(["long", "short", "neutral"]),
        timeframes=st.dictionaries(texts, finite_floats, max_size=4),
        components=st.dictionaries(texts, finite_floats, max_size=4),
    ),
    "Signal": st.builds(
        Signal,
        source=texts,
        state=st.sampled_from(["long", "short", "neutral"]),
        previous=st.sampled_from(["long", "short", "neutral"]),
        score=finite_floats,
    ),
    "OrderSubmitted": st.builds(
        OrderSubmitted,
        order_id=texts,
        symbol=texts,
        side=sides,
        kind=st.sampled_from(["market", "limit"]),
        amount=finite_floats,
        price=optional_floats,
        time_in_force=st.sampled_from(["GTC", "IOC", "post-only"]),
        arrives_ns=timestamps,
    ),
    "OrderAccepted": st.builds(OrderAccepted, order_id=texts, symbol=texts),
    "OrderFilled": st.builds(
        OrderFilled,
        order_id=texts,
        symbol=texts,
        side=sides,
        price=finite_floats,
        amount=finite_floats,
        fee=finite_floats,
        liquidity=st.sampled_from(["maker", "taker"]),
        remaining=finite_floats,
    ),
    "OrderCanceled": st.builds(OrderCanceled, order_id=texts, symbol=texts, remaining=finite_floats, reason=texts),
    "OrderRejected": st.builds(OrderRejected, order_id=texts, symbol=texts, reason=texts),
    "PositionChanged": st.builds(
        PositionChanged,
        symbol=texts,
        amount=finite_floats,
        average_price=finite_floats,
        realized_pnl=finite_floats,
        cash=finite_floats,
        fees=finite_floats,
    ),
    "EquityMarked": st.builds(
        EquityMarked,
        equity=finite_floats,
        cash=finite_floats,
        prices=st.dictionaries(texts, finite_floats, max_size=3),
        positions=st.dictionaries(texts, finite_floats, max_size=3),
        realized_pnl=finite_floats,
        unrealized_pnl=finite_floats,
    ),
    "MarketsLoaded": st.builds(
        MarketsLoaded,
        exchange=texts,
        markets=st.lists(
            st.builds(
                Market,
                symbol=texts,
                base=texts,
                quote=texts,
                type=st.sampled_from(["spot", "margin", "swap", "future", "option"]),
                active=st.booleans(),
                tick_size=finite_floats,
                amount_step=finite_floats,
                min_amount=finite_floats,
                min_notional=finite_floats,
                contract_size=optional_floats,
                maker_fee_bps=optional_floats,
                taker_fee_bps=optional_floats,
            ),
            max_size=3,
        ).map(tuple),
        content_hash=texts,
        source=st.sampled_from(["exchange", "log", "cache-file", "import"]),
        stale_age_s=optional_floats,
    ),
}
"""One strategy per registered payload type name."""


def payloads(type_names: list[str] | None = None) -> st.SearchStrategy[Payload]:
    """Payloads of the given registered types (all of them by default)."""
    names = sorted(PAYLOAD_STRATEGIES) if type_names is None else type_names
    return st.one_of([PAYLOAD_STRATEGIES[name] for name in names])


event_ids = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
"""Event ids: any non-empty text (the stores must not assume a format)."""

stream_names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
"""Stream names: any non-empty text."""


def envelopes(
    session: str | st.SearchStrategy[str],
    *,
    ids: st.SearchStrategy[str] = event_ids,
    streams: st.SearchStrategy[str] = stream_names,
    payload: st.SearchStrategy[Payload] | None = None,
) -> st.SearchStrategy[Event]:
    """Unstored events (position and version 0) of ``session``."""
    return st.builds(
        Event,
        id=ids,
        stream=streams,
        ts_event=timestamps,
        ts_recv=timestamps,
        session=st.just(session) if isinstance(session, str) else session,
        payload=payloads() if payload is None else payload,
        causation=st.none() | st.integers(min_value=1, max_value=INT64_MAX),
    )


def batches(
    session: str | st.SearchStrategy[str], *, min_size: int = 1, max_size: int = 20, **kwargs: Any
) -> st.SearchStrategy[list[Event]]:
    """Lists of events with distinct ids, ready for one ``append``."""
    return st.lists(envelopes(session, **kwargs), min_size=min_size, max_size=max_size, unique_by=lambda e: e.id)
