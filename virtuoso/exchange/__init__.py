"""Exchange adapters and the live recorder: ccxt (REST) and ccxt.pro (WebSocket) into the event log.

- normalizers from ccxt's unified structures to our payloads (:func:`trade_payload`,
  :func:`book_snapshot_payload`, :func:`bar_payload`, :func:`ticker_payload`);
- :class:`ExchangePool`: one ccxt instance per exchange id and configuration;
- :class:`RecordConfig` and :func:`load_record_config` (TOML plus flag overrides);
- the pure logic of the collectors: :class:`TradeTracker` (duplicates, trade-id
  gaps), :class:`TradePager` (REST cursor), :class:`BookDiffer` (snapshot, deltas);
- :class:`Recorder` (the live event source), :func:`guards_for` (a breaker and
  retries per stream) and :func:`record` (one whole session).

See ``docs/recording.md``.

>>> from virtuoso.exchange import Channel
>>> [str(Channel.parse(c)) for c in ("trades", "ohlcv:1m")]
['trades', 'ohlcv:1m']
"""

from virtuoso.exchange._books import BookDiffer, diff_side
from virtuoso.exchange._config import Channel, RecordConfig, ResilienceSettings, load_record_config
from virtuoso.exchange._emit import Emitter
from virtuoso.exchange._guard import Guard, GuardFactory, is_transient, passthrough
from virtuoso.exchange._marketdata import ccxt_market, market_from_ccxt
from virtuoso.exchange._markets import MarketsCache, MarketsSnapshot, markets_cache_file, markets_stream
from virtuoso.exchange._normalize import (
    bar_payload,
    book_snapshot_payload,
    levels,
    ticker_payload,
    trade_event,
    trade_event_id,
    trade_payload,
)
from virtuoso.exchange._pool import ExchangePool, supports_websocket
from virtuoso.exchange._recorder import Recorder, last_trade
from virtuoso.exchange._resilient import Guards, guards_for
from virtuoso.exchange._secrets import Secrets
from virtuoso.exchange._session import RecordingFailed, record, recording_container
from virtuoso.exchange._stats import RecordStats
from virtuoso.exchange._trades import TradePager, TradeTracker
from virtuoso.exchange._validate import rejected_counts

__all__ = [
    "BookDiffer",
    "Channel",
    "Emitter",
    "ExchangePool",
    "Guard",
    "GuardFactory",
    "Guards",
    "MarketsCache",
    "MarketsSnapshot",
    "RecordConfig",
    "RecordStats",
    "Recorder",
    "RecordingFailed",
    "ResilienceSettings",
    "Secrets",
    "TradePager",
    "TradeTracker",
    "bar_payload",
    "book_snapshot_payload",
    "ccxt_market",
    "diff_side",
    "guards_for",
    "is_transient",
    "last_trade",
    "levels",
    "load_record_config",
    "market_from_ccxt",
    "markets_cache_file",
    "markets_stream",
    "passthrough",
    "record",
    "recording_container",
    "rejected_counts",
    "supports_websocket",
    "ticker_payload",
    "trade_event",
    "trade_event_id",
    "trade_payload",
]
