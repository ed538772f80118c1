"""Validation at the boundary: what ccxt returned is checked before it becomes an event.

Two levels. An answer of the wrong *shape* (an object where a list is
expected, a book without sides) fails the call: :func:`expect_list` and
:func:`expect_book` raise :class:`~virtuoso.exchange._faults.BadAnswer`
inside the guard, which retries it and counts it on the breaker. One bad
*item* in a good answer (a trade without an id, a NaN price, a time an hour
ahead of its receive time) is rejected alone: :class:`Rejections` counts it
per stream and reason and notes it in the log as a ``PayloadRejected`` event,
rate-limited, and the rest of the answer is recorded. Nothing rejected is
stored as market data; a trade stream whose venue numbers trades declares the
hole a rejected trade leaves as a ``Gap`` (the tracker sees the missing id).

>>> expect_list([1, 2], "fetch_trades")
[1, 2]
>>> expect_list({"code": -1, "msg": "oops"}, "fetch_trades")
Traceback (most recent call last):
...
virtuoso.exchange._faults.BadAnswer: fetch_trades: expected a list, got dict {'code': -1, 'msg': 'oops'}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from virtuoso.events import Event, PayloadRejected, payload_problem
from virtuoso.exchange._emit import Emitter
from virtuoso.exchange._faults import BadAnswer, describe
from virtuoso.exchange._resilient import system_stream
from virtuoso.exchange._secrets import Secrets
from virtuoso.store import EventFilter, EventStore

NS = 1_000_000_000
MAX_SEQUENCE = 2**63 - 1
REJECTED = "rejected"
"""The session's system stream of ``PayloadRejected`` events: ``system:<session>:rejected``."""


def expect_list(answer: Any, operation: str) -> list[Any]:
    """``answer`` when it is a list (ccxt's answer to a trades, candles or ... call), else :class:`BadAnswer`."""
    if isinstance(answer, list):
        return answer
    raise BadAnswer(f"expected a list, got {type(answer).__name__} {describe(answer, 120)}", operation=operation)


def expect_mapping(answer: Any, operation: str) -> Mapping[str, Any]:
    """``answer`` when it is a dict (a ccxt ticker or order book), else :class:`BadAnswer`."""
    if isinstance(answer, Mapping):
        return answer
    raise BadAnswer(f"expected an object, got {type(answer).__name__} {describe(answer, 120)}", operation=operation)


def expect_book(answer: Any, operation: str) -> Mapping[str, Any]:
    """A ccxt order book with ``bids`` and ``asks`` lists of ``[price, amount]`` number pairs, else :class:`BadAnswer`.

    A book is taken whole or not at all: a book missing a level is a wrong book.
    """
    book = expect_mapping(answer, operation)
    for side in ("bids", "asks"):
        problem = side_problem(book.get(side))
        if problem is not None:
            raise BadAnswer(f"order book {side}: {problem}", operation=operation)
    nonce = book.get("nonce")
    if nonce is not None and not (_is_int(nonce) and 0 <= int(nonce) <= MAX_SEQUENCE):
        raise BadAnswer(f"order book nonce {nonce!r} is not an integer from 0 to 2**63-1", operation=operation)
    return book


def side_problem(side: Any) -> str | None:
    """Why ``side`` is not a list of ``[price, amount, ...]`` with a finite price > 0 and amount >= 0, or None."""
    if not isinstance(side, list):
        return f"expected a list of levels, got {type(side).__name__}"
    for level in side:
        if not isinstance(level, list | tuple) or len(level) < 2:
            return f"level {describe(level, 60)} is not [price, amount]"
        price, amount = level[0], level[1]
        if not _number(price) or not 0.0 < float(price) < float("inf"):
            return f"level price {price!r} is not a finite number > 0"
        if not _number(amount) or not 0.0 <= float(amount) < float("inf"):
            return f"level amount {amount!r} is not a finite number >= 0"
    return None


def trade_problem(trade: Any) -> str | None:
    """Why ``trade`` is not a ccxt trade the normalizer can read (an id, numbers, a side, an integer time), or None.

    >>> trade_problem({"id": None, "price": 1.0, "amount": 1.0, "side": "buy", "timestamp": 1})
    'trade has no id'
    >>> trade_problem({"id": "7", "price": "abc", "amount": 1.0, "side": "buy", "timestamp": 1})
    "price 'abc' is not a number"
    """
    if not isinstance(trade, Mapping):
        return f"trade is a {type(trade).__name__}, not an object"
    if trade.get("id") in (None, ""):
        return "trade has no id"
    for name in ("price", "amount"):
        if not _number(trade.get(name)):
            return f"{name} {trade.get(name)!r} is not a number"
    if trade.get("side") not in ("buy", "sell"):
        return f"side {trade.get('side')!r} is neither 'buy' nor 'sell'"
    stamp = trade.get("timestamp")
    if stamp is not None and not _is_int(stamp):
        return f"timestamp {stamp!r} is not an integer"
    return None


def candle_problem(candle: Any) -> str | None:
    """Why ``candle`` is not ``[ms, open, high, low, close, volume]`` of numbers, or None."""
    if not isinstance(candle, list | tuple) or len(candle) < 6:
        return f"candle {describe(candle, 60)} is not [ms, open, high, low, close, volume]"
    if not _is_int(candle[0]):
        return f"candle time {candle[0]!r} is not an integer"
    if not all(_number(v) for v in candle[1:5]) or not (candle[5] is None or _number(candle[5])):
        return "candle values are not numbers"
    return None


def time_problem(ts_event: int, ts_recv: int, *, ahead_s: float, behind_s: float) -> str | None:
    """Why an exchange time ``ts_event`` is absurd next to its receive time (bounds in s; 0: unchecked), or None.

    >>> time_problem(10 * NS, 0, ahead_s=5, behind_s=0)
    'exchange time 10 s after its receive time (limit 5 s)'
    >>> time_problem(0, 10 * NS, ahead_s=5, behind_s=0) is None
    True
    """
    if ahead_s and ts_event - ts_recv > ahead_s * NS:
        return f"exchange time {(ts_event - ts_recv) / NS:.0f} s after its receive time (limit {ahead_s:g} s)"
    if behind_s and ts_recv - ts_event > behind_s * NS:
        return f"exchange time {(ts_recv - ts_event) / NS:.0f} s before its receive time (limit {behind_s:g} s)"
    return None


def event_time_problem(event: Event, *, ahead_s: float, behind_s: float) -> str | None:
    """The value rules of the log (:func:`~virtuoso.events.payload_problem`) and the time bounds for ``event``."""
    return payload_problem(event.payload) or time_problem(
        event.ts_event, event.ts_recv, ahead_s=ahead_s, behind_s=behind_s
    )


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        try:
            int(value)
        except ValueError:
            return False
        return True
    return isinstance(value, float) and value.is_integer()


@dataclass
class _Pending:
    count: int = 0
    sample: str = ""
    noted_ns: int | None = None


@dataclass
class Rejections:
    """Counts what was rejected per ``(stream, reason)`` and notes it in the log, at most once per ``interval_s``.

    The first rejection of a stream and reason is noted at once; later ones are
    summed into the next note, written when the interval has passed and a new
    rejection comes, or by :meth:`flush` at the end. So the log's
    ``PayloadRejected`` counts add up to :attr:`totals` once flushed.
    """

    emitter: Emitter
    secrets: Secrets
    interval_s: float = 60.0
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)

    async def reject(self, stream: str, reason: str, sample: Any) -> None:
        """Count one rejected item of ``stream`` for ``reason``; note it now unless one was noted recently."""
        reason = self.secrets.scrub(reason)[:300]
        key = (stream, reason)
        self.totals[key] = self.totals.get(key, 0) + 1
        pending = self._pending.setdefault(key, _Pending())
        pending.count += 1
        pending.sample = pending.sample or self.secrets.scrub(describe(sample))
        now = self.emitter.now_ns()
        if pending.noted_ns is None or now - pending.noted_ns >= self.interval_s * NS:
            await self._note(key, pending, now)

    async def flush(self) -> None:
        """Note every count not noted yet (at the end of the recording)."""
        for key, pending in sorted(self._pending.items()):
            if pending.count:
                await self._note(key, pending, self.emitter.now_ns())

    async def _note(self, key: tuple[str, str], pending: _Pending, now: int) -> None:
        stream, reason = key
        rejected = PayloadRejected(stream, reason, pending.count, pending.sample)
        pending.count, pending.sample, pending.noted_ns = 0, "", now
        await self.emitter.emit(system_stream(self.emitter.session, REJECTED), rejected)

    def items(self) -> list[tuple[str, str, int]]:
        """``(stream, reason, count)`` of everything rejected so far, sorted."""
        return [(stream, reason, count) for (stream, reason), count in sorted(self.totals.items())]


async def rejected_counts(store: EventStore, session: str) -> list[tuple[str, str, int]]:
    """``(stream, reason, count)`` of what ``session`` rejected so far, from its ``PayloadRejected`` events."""
    totals: dict[tuple[str, str], int] = {}
    wanted = EventFilter(streams=(system_stream(session, REJECTED),), types=(PayloadRejected.TYPE,))
    async for event in store.read(wanted):
        payload = event.payload
        if isinstance(payload, PayloadRejected):
            key = (payload.stream, payload.reason)
            totals[key] = totals.get(key, 0) + payload.count
    return [(stream, reason, count) for (stream, reason), count in sorted(totals.items())]
