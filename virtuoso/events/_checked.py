"""The value rules run over whole columns of a batch, and the batches that passed them.

:func:`first_problem` answers what running :func:`~virtuoso.events.event_problem`
on each event in turn answers (the first event at fault and its reason), at a
fraction of the cost: each rule looks at one field of every event at once
(numpy over the numbers, ``set``/``min``/``max`` over the rest). A column check
only ever *suspects* rows; each suspect is then judged by ``event_problem``
itself, in order, so the reason is always the reference's own words, and a
column whose values are not of the plain types (floats, ints) suspects every
row and leaves the judgement to the reference. The column checks must never
pass a row the reference refuses: ``tests/unit/events/test_checked.py`` holds
them to that with hypothesis.

:class:`CheckedEvents` is a batch that passed, made only by :func:`check_events`:
the store takes it without running the rules again.

>>> from virtuoso.events import Event, Trade, check_events, first_problem
>>> good = Event("e1", "s", 1, 1, "s1", Trade(61_000.0, 0.5, "buy", "1"))
>>> bad = Event("e2", "s", 2, 2, "s1", Trade(61_000.0, 0.0, "sell", "2"))
>>> first_problem([good, bad, good])
Problem(index=1, text='amount 0.0 is not a finite number > 0')
>>> len(check_events([good, good]))
2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any, cast

import numpy as np

from virtuoso.errors import UsageError
from virtuoso.events._envelope import Event, events_of
from virtuoso.events._market import BookDelta, BookSnapshot, Quote, Trade, sides_of
from virtuoso.events._registry import Payload
from virtuoso.events._rules import MAX_TS_NS, RULES, event_problem

_ALL: slice = slice(None)
"""A column check's answer when it cannot vouch for any row: every row is a suspect."""

Suspects = slice | np.ndarray
"""Rows a column check doubts: an array of indexes, or :data:`_ALL`."""

_NUMBER_TYPES = frozenset({float, int, bool})
_EVENT_PAYLOAD = attrgetter("payload")
_TS_EVENT = attrgetter("ts_event")
_TS_RECV = attrgetter("ts_recv")


@dataclass(frozen=True, slots=True)
class Problem:
    """The first event of a batch that breaks the value rules: its index in the batch and the reason."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class EventRun:
    """The columns of a batch of one stream, one session and one payload class, as the bulk constructor made them
    (no causations): what a store would otherwise extract from every event again."""

    stream: str
    session: str
    payload_class: type[Payload]
    ids: list[str]
    ts_events: list[int]
    ts_recvs: list[int]
    payloads: list[Payload]
    fields: dict[str, FieldColumn] | None = None
    """The payloads' fields as the constructor had them, by field name (every field of the class), else ``None``."""
    ts_array: np.ndarray | None = None
    """``ts_events`` as int64, when the constructor had it (``ts_recvs`` is then the same)."""


@dataclass(frozen=True, slots=True)
class FieldColumn:
    """One payload field of a run: its values, the one exact type they all have, and their array: for numbers
    the values as float64 or int64, for text (optionally) the int64 numbers each value is ``str`` of."""

    values: list[Any]
    type: type[Any]
    array: np.ndarray | None = None


class CheckedEvents(tuple[Event, ...]):
    """Events that passed the value rules as a batch; made only by :func:`check_events` (and the bulk
    constructors, such as :func:`checked_trades`, which then also hand over their columns as ``run``).

    A tuple, so nothing can be added to it after the check.
    """

    run: EventRun | None
    """The batch's columns when it was made from them in bulk, else ``None``."""

    def __new__(cls, *_: object) -> CheckedEvents:
        raise TypeError("CheckedEvents are made by check_events() only")


def _checked(events: Sequence[Event], run: EventRun | None = None) -> CheckedEvents:
    checked = tuple.__new__(CheckedEvents, events)
    checked.run = run
    return checked


def check_events(events: Sequence[Event]) -> CheckedEvents | Problem:
    """``events`` as :class:`CheckedEvents` when every one passes the value rules, else the first :class:`Problem`."""
    problem = first_problem(events)
    if problem is not None:
        return problem
    return _checked(events)


def checked_trades(columns: TradeColumns, *, stream: str, session: str) -> CheckedEvents | Problem:
    """The trade events of ``columns`` as :class:`CheckedEvents`, or the first :class:`Problem` among them.

    The events are made here from the very arrays the rules run on (numpy over the prices,
    amounts and times), so a batch the arrays pass needs no look at its events; a batch
    they doubt is judged event by event (:func:`first_problem`), for the reference's words.

    >>> import numpy as np
    >>> columns = TradeColumns(["e1"], np.array([5]), np.array([61000.5]), np.array([0.5]), np.array([True]), ["7"])
    >>> checked_trades(columns, stream="s", session="s1")[0].payload
    Trade(price=61000.5, amount=0.5, side='sell', trade_id='7')
    """
    c = columns
    times = c.ts_events.tolist()
    prices, amounts, sides = c.prices.tolist(), c.amounts.tolist(), sides_of(c.sells.tolist())
    trades = cast("list[Payload]", list(map(Trade, prices, amounts, sides, c.trade_ids)))
    events = events_of(c.ids, times, times, trades, stream=stream, session=session)
    if not c.plain():
        return check_events(events)
    fields = {
        "price": FieldColumn(prices, float, c.prices),
        "amount": FieldColumn(amounts, float, c.amounts),
        "side": FieldColumn(sides, str),
        "trade_id": FieldColumn(c.trade_ids, str, c.trade_numbers),
    }
    return _checked(events, EventRun(stream, session, Trade, c.ids, times, times, trades, fields, c.ts_events))


@dataclass(frozen=True, slots=True)
class TradeColumns:
    """The columns of a block of trades (``ts_recv`` is ``ts_event``): numpy arrays, and lists of strings."""

    ids: list[str]
    ts_events: np.ndarray
    """int64 ns."""
    prices: np.ndarray
    """float64."""
    amounts: np.ndarray
    """float64."""
    sells: np.ndarray
    """bool: the taker sold."""
    trade_ids: list[str]
    trade_numbers: np.ndarray | None = None
    """The int64 numbers the trade ids are ``str`` of, when made by :meth:`numbered`, else ``None``."""

    @classmethod
    def numbered(
        cls, ids: list[str], ts_events: np.ndarray, prices: np.ndarray, amounts: np.ndarray, sells: np.ndarray,
        *, numbers: np.ndarray,
    ) -> TradeColumns:  # fmt: skip
        """Trades whose ids are numbers (``numbers``, int64): their trade ids are made here, ``str`` of each.

        >>> none = np.array([])
        >>> TradeColumns.numbered([], none, none, none, none, numbers=np.array([7], np.int64)).trade_ids
        ['7']
        >>> TradeColumns.numbered([], none, none, none, none, numbers=np.array([7.0]))
        Traceback (most recent call last):
        virtuoso.errors.UsageError: trade numbers must be int64, not float64
        """
        if numbers.dtype != np.int64:  # floats would spell "7.0", unsigned ones may pass 64 bits
            raise UsageError(f"trade numbers must be int64, not {numbers.dtype}")
        return cls(ids, ts_events, prices, amounts, sells, list(map(str, numbers.tolist())), numbers)

    def plain(self) -> bool:
        """Whether every row passes the value rules of a Trade and of event times (the column form of ``_trade``)."""
        prices, amounts, times = self.prices, self.amounts, self.ts_events
        return bool(
            prices.dtype == np.float64
            and amounts.dtype == np.float64
            and times.dtype == np.int64
            and self.sells.dtype == np.bool_
            and ((prices > 0.0) & (prices < np.inf) & (amounts > 0.0) & (amounts < np.inf)).all()
            and (len(times) == 0 or times.min() >= 0)
            and set(map(type, self.trade_ids)) <= {str}
            and "" not in self.trade_ids
        )


def first_problem(events: Sequence[Event], fields: dict[str, FieldColumn] | None = None) -> Problem | None:
    """The first event of ``events`` that :func:`~virtuoso.events.event_problem` refuses, with its reason.

    ``fields``, when given, receives the payloads' fields the column rules gathered, when the batch is of
    one payload class and each field has one exact type (else it is left empty): what an encoder of
    the batch would otherwise gather again.
    """
    if not events:
        return None
    for index in _suspects(events, fields):
        text = event_problem(events[index])
        if text is not None:
            return Problem(index, text)
    return None


def _suspects(events: Sequence[Event], fields: dict[str, FieldColumn] | None = None) -> Iterable[int]:
    """Indexes of the events some column check doubts, ascending (every bad event is among them)."""
    count = len(events)
    found = [_time_suspects(list(map(_TS_EVENT, events))), _time_suspects(list(map(_TS_RECV, events)))]
    payloads = list(map(_EVENT_PAYLOAD, events))
    for cls, rows in _by_class(payloads):
        if cls not in RULES:
            continue  # the toolkit's own payloads: checked by their types, no value rule
        group = payloads if rows is None else list(map(payloads.__getitem__, rows.tolist()))
        column_rule = COLUMN_RULES.get(cls)
        doubted = _ALL if column_rule is None else column_rule(group, fields if rows is None else None)
        found.append(_in_batch(doubted, rows))
    merged = _union(*found)
    if isinstance(merged, slice):
        return range(count)
    suspected: list[int] = merged.tolist()
    return suspected


def _by_class(payloads: list[Payload]) -> list[tuple[type[Payload], np.ndarray | None]]:
    """The payload classes of a batch, each with its rows (``None``: every row, the usual one-type batch)."""
    classes = list(map(type, payloads))
    if classes.count(classes[0]) == len(classes):
        return [(classes[0], None)]
    numbers = {cls: number for number, cls in enumerate(dict.fromkeys(classes))}
    codes = np.fromiter(map(numbers.__getitem__, classes), dtype=np.int64, count=len(classes))
    return [(cls, np.flatnonzero(codes == number)) for cls, number in numbers.items()]


def _in_batch(doubted: Suspects, rows: np.ndarray | None) -> Suspects:
    """Suspects of a class's group as indexes of the batch."""
    if rows is None:
        return doubted
    return rows if isinstance(doubted, slice) else rows[doubted]


# -- the checks of one column ---------------------------------------------------------


def _numbers(values: list[Any], types: set[type[Any]] | None = None) -> np.ndarray | None:
    """``values`` as float64, or None when one is not a plain float, int or bool (the reference judges those)."""
    if not (set(map(type, values)) if types is None else types) <= _NUMBER_TYPES:
        return None
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:  # an int beyond a double: the reference compares it exactly
        return None


def _positive(values: list[Any], out: dict[str, FieldColumn] | None = None, name: str = "") -> Suspects:
    """Rows whose value is not a finite number > 0 (NaN fails both comparisons); with ``out``, the column
    goes in it under ``name`` when every value is a float."""
    types = set(map(type, values))
    array = _numbers(values, types)
    if array is None:
        return _ALL
    if out is not None and types == {float}:
        out[name] = FieldColumn(values, float, array)
    return np.flatnonzero(~((array > 0.0) & (array < np.inf)))


def _non_negative(values: list[Any]) -> Suspects:
    """Rows whose value is not a finite number >= 0."""
    array = _numbers(values)
    if array is None:
        return _ALL
    return np.flatnonzero(~((array >= 0.0) & (array < np.inf)))


def _sequences(values: list[Any], optional: bool = False) -> Suspects:
    """Rows whose value is not an int from 0 to 2**63-1 (``None`` allowed when ``optional``)."""
    present = [v for v in values if v is not None] if optional else values
    if not present:
        return np.empty(0, dtype=np.int64)
    if set(map(type, present)) != {int} or min(present) < 0 or max(present) > MAX_TS_NS:
        return _ALL
    return np.empty(0, dtype=np.int64)


def _time_suspects(values: list[Any]) -> Suspects:
    """Rows whose time is not an int from 0 to 2**63-1."""
    return _sequences(values)


def _members(values: list[Any], allowed: frozenset[str]) -> Suspects:
    try:
        if set(values) <= allowed:
            return np.empty(0, dtype=np.int64)
    except TypeError:  # an unhashable value: the reference says what it is
        pass
    return _ALL


def _non_empty_strings(values: list[Any]) -> Suspects:
    if set(map(type, values)) == {str} and "" not in values:
        return np.empty(0, dtype=np.int64)
    return _ALL


def _union(*parts: Suspects) -> Suspects:
    arrays = [p for p in parts if not isinstance(p, slice)]
    if len(arrays) < len(parts):
        return _ALL
    return np.unique(np.concatenate(arrays))


def _field(name: str, payloads: list[Any]) -> list[Any]:
    return list(map(attrgetter(name), payloads))


_SIDES = frozenset({"buy", "sell"})


def _trades(payloads: list[Any], fields: dict[str, FieldColumn] | None = None) -> Suspects:
    gathered = None if fields is None else dict[str, FieldColumn]()
    sides, trade_ids = _field("side", payloads), _field("trade_id", payloads)
    doubted = _union(
        _positive(_field("price", payloads), gathered, "price"),
        _positive(_field("amount", payloads), gathered, "amount"),
        _members(sides, _SIDES),
        _non_empty_strings(trade_ids),
    )
    if fields is not None and gathered and len(gathered) == 2 and not isinstance(doubted, slice) and _strs(sides):
        # Not doubted as a whole: every trade id is a str (``_non_empty_strings``), as every side now is.
        fields.update(price=gathered["price"], amount=gathered["amount"])
        fields.update(side=FieldColumn(sides, str), trade_id=FieldColumn(trade_ids, str))
    return doubted


def _strs(values: list[Any]) -> bool:
    return set(map(type, values)) == {str}


def _quotes(payloads: list[Any], _: object = None) -> Suspects:
    return _union(
        _positive(_field("bid", payloads)),
        _non_negative(_field("bid_size", payloads)),
        _positive(_field("ask", payloads)),
        _non_negative(_field("ask_size", payloads)),
        _sequences(_field("sequence", payloads), optional=True),
    )


def _levels(sides: list[Any], amount: Callable[[np.ndarray], np.ndarray]) -> Suspects:
    """Payload rows with a level that is not a (price, amount) pair of plain numbers, or breaks the rule."""
    try:
        sizes = np.fromiter(map(len, sides), dtype=np.int64, count=len(sides))
        flat = list(chain.from_iterable(sides))
        if not flat:
            return np.empty(0, dtype=np.int64)
        if set(map(len, flat)) != {2} or not set(map(type, chain.from_iterable(flat))) <= _NUMBER_TYPES:
            return _ALL
        values = np.fromiter(chain.from_iterable(flat), dtype=np.float64, count=2 * len(flat))
    except (TypeError, ValueError, OverflowError):  # not pairs of numbers: the reference says which
        return _ALL
    prices, amounts = values[0::2], values[1::2]
    bad = ~((prices > 0.0) & (prices < np.inf) & amount(amounts))
    owners = np.repeat(np.arange(len(sides)), sizes)
    return np.unique(owners[bad])


def _positive_amounts(amounts: np.ndarray) -> np.ndarray:
    return (amounts > 0.0) & (amounts < np.inf)


def _removable_amounts(amounts: np.ndarray) -> np.ndarray:
    # An amount of 0 in a delta is the venue saying "this level is gone".
    return (amounts >= 0.0) & (amounts < np.inf)


def _snapshots(payloads: list[Any], _: object = None) -> Suspects:
    return _union(
        _sequences(_field("sequence", payloads)),
        _levels(_field("bids", payloads), _positive_amounts),
        _levels(_field("asks", payloads), _positive_amounts),
    )


def _deltas(payloads: list[Any], _: object = None) -> Suspects:
    firsts, lasts = _field("first_sequence", payloads), _field("last_sequence", payloads)
    order = _sequences(firsts)
    if not isinstance(order, slice) and not isinstance(_sequences(lasts), slice):
        order = np.flatnonzero(np.array(lasts, dtype=np.int64) < np.array(firsts, dtype=np.int64))
    return _union(
        order,
        _sequences(lasts),
        _sequences(_field("previous_sequence", payloads), optional=True),
        _levels(_field("bids", payloads), _removable_amounts),
        _levels(_field("asks", payloads), _removable_amounts),
    )


COLUMN_RULES: dict[type[Payload], Callable[[list[Any], dict[str, FieldColumn] | None], Suspects]] = {
    Trade: _trades,
    Quote: _quotes,
    BookSnapshot: _snapshots,
    BookDelta: _deltas,
}
"""The column form of the value rules of the payloads that make most events; the other ruled
payloads (bars, tickers) are judged event by event."""
