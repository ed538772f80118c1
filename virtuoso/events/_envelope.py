"""The event envelope: where, when and in which order a payload happened."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from itertools import repeat

import msgspec
import numpy as np

from virtuoso.events._registry import Payload

PAYLOAD_ENCODER = msgspec.json.Encoder(order="deterministic")
"""The one encoder of stored payloads (compact JSON, dict keys sorted)."""


class Event(msgspec.Struct, frozen=True, gc=False):
    """A payload in its envelope.

    ``position`` (global replay order) and ``version`` (1-based, per stream) are
    assigned by the store when the event is appended; before that they are 0.
    ``ts_event`` is the exchange's time and ``ts_recv`` our receive time, both in ns
    since the Unix epoch. ``causation`` is the position of the event that caused
    this one, for derived events.

    >>> from virtuoso.events import Event, Trade
    >>> e = Event("e1", "binance:BTC/USDT:trades", 1_723_161_255_000_000_000,
    ...           1_723_161_256_270_000_000, "s1", Trade(58000.0, 0.01, "buy", "3735683259"))
    >>> e.type, e.schema, e.topic
    ('Trade', 2, 'market.trade')
    """

    id: str
    stream: str
    ts_event: int
    ts_recv: int
    session: str
    payload: Payload
    causation: int | None = None
    version: int = 0
    position: int = 0

    @property
    def type(self) -> str:
        """The payload's registered type name."""
        return self.payload.TYPE

    @property
    def schema(self) -> int:
        """The payload's schema version."""
        return self.payload.SCHEMA

    @property
    def topic(self) -> str:
        """The bus topic of the payload type."""
        return self.payload.TOPIC


def encode_payload(payload: Payload) -> bytes:
    """The stored form of a payload: compact JSON, fields in declaration order."""
    return PAYLOAD_ENCODER.encode(payload)


def stream_name(exchange: str, symbol: str, channel: str) -> str:
    """Build a stream name: ``stream_name("binance", "BTC/USDT", "trades")`` is
    ``"binance:BTC/USDT:trades"``."""
    return f"{exchange}:{symbol}:{channel}"


class EventIdFactory:
    """Deterministic, time-ordered event ids for one producer.

    An id is 32 hex digits: 16 of the time given, 8 of a hash of ``namespace`` and
    8 of a counter. Ids from one factory grow with time, which keeps the store's id
    index append-friendly; the same namespace and inputs give the same ids, so a
    replay or re-import produces identical ids (and re-appending them is a no-op).
    Give every factory its own namespace (for example ``f"{session}:{stream}"``
    when each stream has its own producer): two factories with the same
    namespace count independently and can make the same id, and the store keeps
    only the first event of an id.

    >>> ids = EventIdFactory("session-1")
    >>> ids(1_700_000_000_000_000_000) < ids(1_700_000_000_000_000_001)
    True
    """

    __slots__ = ("_counter", "_format", "_hash")

    def __init__(self, namespace: str, start: int = 0) -> None:
        # One %-format with the namespace hash inlined: ids are made for every imported line.
        self._hash = f"{zlib.crc32(namespace.encode()):08x}"
        self._format = f"%016x{self._hash}%08x"
        self._counter = start

    def __call__(self, ts_ns: int) -> str:
        counter = self._counter = self._counter + 1
        return self._format % (ts_ns & 0xFFFFFFFFFFFFFFFF, counter & 0xFFFFFFFF)

    def many(self, times_ns: np.ndarray) -> list[str]:
        """The ids of one call per time of ``times_ns`` (int64 ns), in order, made as one array of hex digits.

        >>> ids, again = EventIdFactory("session-1"), EventIdFactory("session-1")
        >>> times = [1_700_000_000_000_000_000, 1_700_000_000_000_000_005]
        >>> ids.many(np.array(times)) == [again(t) for t in times]
        True
        """
        count = len(times_ns)
        digits = np.empty((count, 32), dtype=np.uint8)
        _hex_into(digits[:, :16], times_ns.astype(np.int64).view(np.uint64))
        digits[:, 16:24] = np.frombuffer(self._hash.encode(), dtype=np.uint8)
        counters = np.arange(self._counter + 1, self._counter + count + 1, dtype=np.uint64)
        _hex_into(digits[:, 24:], counters & np.uint64(0xFFFFFFFF))
        self._counter += count
        ids: list[str] = digits.view("S32").ravel().astype("U32").tolist()
        return ids


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_into(target: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` (uint64) as lower-case hex, zero-padded to ``target``'s width, into ``target``'s rows."""
    width = target.shape[1]
    for place in range(width):
        shift = np.uint64(4 * (width - 1 - place))
        target[:, place] = _HEX_DIGITS[(values >> shift) & np.uint64(15)]


def events_of(
    ids: Sequence[str],
    ts_events: Sequence[int],
    ts_recvs: Sequence[int],
    payloads: Sequence[Payload],
    *,
    stream: str,
    session: str,
) -> list[Event]:
    """Events of one stream and session from their columns (C-level ``map``, no per-event Python code).

    >>> from virtuoso.events import Note
    >>> events_of(["e1"], [5], [6], [Note("hi")], stream="s", session="s1")[0].ts_recv
    6
    """
    return list(map(Event, ids, repeat(stream), ts_events, ts_recvs, repeat(session), payloads))
