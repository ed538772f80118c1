"""Normalizers: ccxt's unified structures (plain dicts and lists) to our payloads and envelopes.

ccxt already turns each venue's wire format into one unified shape; these
functions only map that shape onto our typed payloads, so they stay small and
venue-agnostic. Times: ccxt gives milliseconds, we store nanoseconds.

>>> trade_payload({"id": "3735683259", "price": 61837.63, "amount": 0.02, "side": "sell", "timestamp": 1})
Trade(price=61837.63, amount=0.02, side='sell', trade_id='3735683259')
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from virtuoso.errors import EventError
from virtuoso.events import Bar, BookSnapshot, Event, Level, Side, Ticker, Trade

MS = 1_000_000
"""Nanoseconds per millisecond."""

CcxtDict = Mapping[str, Any]


def ms_to_ns(timestamp: Any, default: int) -> int:
    """ccxt's millisecond ``timestamp`` in ns; ``default`` when ccxt has none."""
    return default if timestamp is None else int(timestamp) * MS


def _side(raw: Any, what: str) -> Side:
    if raw in ("buy", "sell"):
        return raw  # type: ignore[no-any-return]
    raise EventError(f"{what}: side {raw!r} is neither 'buy' nor 'sell'")


def trade_payload(trade: CcxtDict) -> Trade:
    """A ccxt unified trade as a :class:`~virtuoso.events.Trade` (``side`` is the taker's)."""
    trade_id = trade.get("id")
    if trade_id is None:
        raise EventError(f"ccxt trade at {trade.get('timestamp')} has no id")
    return Trade(
        float(trade["price"]), float(trade["amount"]), _side(trade.get("side"), f"trade {trade_id}"), str(trade_id)
    )


def levels(side: Sequence[Sequence[Any]]) -> tuple[Level, ...]:
    """A ccxt book side (``[[price, amount, ...], ...]``) as our levels."""
    return tuple((float(level[0]), float(level[1])) for level in side)


def book_snapshot_payload(book: CcxtDict, sequence: int) -> BookSnapshot:
    """A ccxt order book as a :class:`~virtuoso.events.BookSnapshot` at venue update id ``sequence``."""
    return BookSnapshot(levels(book["bids"]), levels(book["asks"]), sequence)


def book_sequence(book: CcxtDict) -> int | None:
    """The venue's update id of a ccxt order book (its ``nonce``), if the venue numbers updates."""
    nonce = book.get("nonce")
    return None if nonce is None else int(nonce)


def bar_payload(candle: Sequence[Any], timeframe: str, *, closed: bool = True) -> Bar:
    """A ccxt OHLCV row ``[ms, open, high, low, close, volume]`` as a :class:`~virtuoso.events.Bar`."""
    ts, open_, high, low, close, volume = candle[:6]
    return Bar(
        timeframe,
        int(ts) * MS,
        float(open_),
        float(high),
        float(low),
        float(close),
        0.0 if volume is None else float(volume),
        closed=closed,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def ticker_payload(ticker: CcxtDict) -> Ticker:
    """A ccxt unified ticker as a :class:`~virtuoso.events.Ticker`."""
    get = ticker.get
    return Ticker(
        _float(get("bid")),
        _float(get("bidVolume")),
        _float(get("ask")),
        _float(get("askVolume")),
        _float(get("last")),
        _float(get("baseVolume")),
        _float(get("quoteVolume")),
    )


def stream_prefix(session: str, stream: str) -> str:
    """The 8 hex digits naming ``stream`` of ``session`` inside an event id."""
    return f"{zlib.crc32(f'{session}:{stream}'.encode()):08x}"


def trade_event_id(prefix: str, ts_event: int, trade_id: str) -> str:
    """The id of a trade event: exchange time, stream and the venue's trade id.

    The same trade received twice (a poll overlap, a replayed WebSocket frame, a
    restart) gets the same id, so the store keeps it once.

    >>> trade_event_id("0badcafe", 1, "42") == trade_event_id("0badcafe", 1, "42")
    True
    """
    digest = hashlib.blake2b(trade_id.encode(), digest_size=8).hexdigest()
    return f"{ts_event & 0xFFFFFFFFFFFFFFFF:016x}{prefix}{digest}"


def trade_event(trade: CcxtDict, *, stream: str, prefix: str, session: str, ts_recv: int) -> Event:
    """The envelope of one ccxt trade on ``stream`` (see :func:`trade_event_id`)."""
    payload = trade_payload(trade)
    ts_event = ms_to_ns(trade.get("timestamp"), ts_recv)
    return Event(trade_event_id(prefix, ts_event, payload.trade_id), stream, ts_event, ts_recv, session, payload)
