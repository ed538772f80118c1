"""The value rules every event passes before it enters the log: one place for every path.

Importers, the live recorder and ``store.append`` all ask :func:`event_problem`
(or :func:`payload_problem`), so a NaN price, a negative amount or a receive
time of 0 is refused the same way wherever it comes from. Each rule returns the
reason in a few words, or ``None`` when the value is fine; the exact rule per
field is tabled in ``docs/store.md``.

Comparisons are written ``0.0 < x < INF`` on purpose: NaN fails every
comparison, so one chained test refuses NaN, both infinities, zero and negatives.

>>> from virtuoso.events import Trade, payload_problem
>>> payload_problem(Trade(61_000.0, 0.5, "buy", "1")) is None
True
>>> payload_problem(Trade(float("nan"), 0.5, "buy", "1"))
'price nan is not a finite number > 0'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from virtuoso.events._envelope import Event
from virtuoso.events._market import Bar, BookDelta, BookSnapshot, Level, Quote, Ticker, Trade
from virtuoso.events._registry import Payload

INF = math.inf
MAX_TS_NS = 2**63 - 1
"""Times are signed 64-bit ns in SQLite: anything above does not fit."""

Rule = Callable[[Payload], "str | None"]


def _positive(name: str, value: object) -> str | None:
    try:
        if 0.0 < value < INF:  # type: ignore[operator]
            return None
    except TypeError:
        return f"{name} {value!r} is not a number"
    return f"{name} {value!r} is not a finite number > 0"


def _non_negative(name: str, value: object) -> str | None:
    try:
        if 0.0 <= value < INF:  # type: ignore[operator]
            return None
    except TypeError:
        return f"{name} {value!r} is not a number"
    return f"{name} {value!r} is not a finite number >= 0"


def _optional(check: Callable[[str, object], str | None], name: str, value: object) -> str | None:
    return None if value is None else check(name, value)


def _sequence(name: str, value: object) -> str | None:
    if type(value) is int and 0 <= value <= MAX_TS_NS:
        return None
    return f"{name} {value!r} is not an integer from 0 to 2**63-1"


def _first(problems: Iterable[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)


def _levels(side: str, levels: Iterable[Level], amount: Callable[[str, object], str | None]) -> str | None:
    for index, level in enumerate(levels):
        try:
            price, size = level
        except (TypeError, ValueError):
            return f"{side}[{index}] {level!r} is not a (price, amount) pair"
        problem = _positive(f"{side}[{index}] price", price) or amount(f"{side}[{index}] amount", size)
        if problem is not None:
            return problem
    return None


def _trade(p: Payload) -> str | None:
    assert isinstance(p, Trade)
    if p.side not in ("buy", "sell"):
        return f"side {p.side!r} is not 'buy' or 'sell'"
    if not isinstance(p.trade_id, str) or not p.trade_id:
        return f"trade_id {p.trade_id!r} is not a non-empty string"
    return _positive("price", p.price) or _positive("amount", p.amount)


def _snapshot(p: Payload) -> str | None:
    assert isinstance(p, BookSnapshot)
    return (
        _sequence("sequence", p.sequence)
        or _levels("bids", p.bids, _positive)
        or _levels("asks", p.asks, _positive)
    )


def _delta(p: Payload) -> str | None:
    assert isinstance(p, BookDelta)
    problem = (
        _sequence("first_sequence", p.first_sequence)
        or _sequence("last_sequence", p.last_sequence)
        or _optional(_sequence, "previous_sequence", p.previous_sequence)
    )
    if problem is None and p.last_sequence < p.first_sequence:
        return f"last_sequence {p.last_sequence} is before first_sequence {p.first_sequence}"
    # An amount of 0 in a delta is the venue saying "this level is gone".
    return problem or _levels("bids", p.bids, _non_negative) or _levels("asks", p.asks, _non_negative)


def _bar(p: Payload) -> str | None:
    assert isinstance(p, Bar)
    problem = _first(
        (
            _sequence("open_ns", p.open_ns),
            _positive("open", p.open),
            _positive("high", p.high),
            _positive("low", p.low),
            _positive("close", p.close),
            _non_negative("volume", p.volume),
            _optional(_sequence, "trades", p.trades),
            _optional(_non_negative, "buy_volume", p.buy_volume),
            _optional(_positive, "vwap", p.vwap),
        )
    )
    if problem is None and not p.low <= min(p.open, p.close) <= max(p.open, p.close) <= p.high:
        return f"open/close {p.open}/{p.close} are not within low..high {p.low}..{p.high}"
    return problem


def _quote(p: Payload) -> str | None:
    assert isinstance(p, Quote)
    return _first(
        (
            _positive("bid", p.bid),
            _non_negative("bid_size", p.bid_size),
            _positive("ask", p.ask),
            _non_negative("ask_size", p.ask_size),
            _optional(_sequence, "sequence", p.sequence),
        )
    )


def _ticker(p: Payload) -> str | None:
    assert isinstance(p, Ticker)
    # A venue shows an empty side of the book as a 0 bid or ask: allowed, unlike negatives.
    fields = ("bid", "bid_size", "ask", "ask_size", "last", "base_volume", "quote_volume")
    return _first(_optional(_non_negative, name, getattr(p, name)) for name in fields)


RULES: dict[type[Payload], Rule] = {
    Trade: _trade,
    BookSnapshot: _snapshot,
    BookDelta: _delta,
    Bar: _bar,
    Quote: _quote,
    Ticker: _ticker,
}
"""The value rule of each market payload type; other payloads are the toolkit's own and checked by their types."""


def payload_problem(payload: Payload) -> str | None:
    """Why ``payload``'s values cannot enter the log (a few words), or ``None`` when they can."""
    rule = RULES.get(type(payload))
    return None if rule is None else rule(payload)


def event_problem(event: Event) -> str | None:
    """Why ``event`` cannot enter the log: its times (ns, 1 .. 2**63-1) or its payload's values; ``None`` if it can."""
    for name, value in (("ts_event", event.ts_event), ("ts_recv", event.ts_recv)):
        if type(value) is not int or not 0 < value <= MAX_TS_NS:
            return f"{name} {value!r} is not a time in ns from 1 to 2**63-1"
    return payload_problem(event.payload)
