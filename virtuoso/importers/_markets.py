"""Markets from a Binance ``exchangeInfo`` document, and the markets a session recorded.

An importer knows the markets only when it is given them: ``virtuoso import
--markets FILE`` reads a saved ``GET /api/v3/exchangeInfo`` (spot) or
``/fapi/v1/exchangeInfo`` (USD-M futures) response. The parser is ours rather
than ccxt's ``load_markets``: that one needs a live (or served) exchange and
yields ccxt's dicts, while an import must work offline on a file, into our
:class:`~virtuoso.events.Market`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtuoso.errors import ConfigError
from virtuoso.events import Event, EventIdFactory, Market, MarketsLoaded, Note, markets_hash
from virtuoso.importers._plan import FilePlan
from virtuoso.store import EventFilter, EventStore, SessionInfo


def markets_from_exchange_info(
    source: str | Path | Mapping[str, Any], exchange: str = "binance", symbols: Iterable[str] | None = None
) -> tuple[Market, ...]:
    """The markets of a Binance exchangeInfo document (a file, or its parsed JSON), sorted by symbol.

    ``symbols`` (unified, ``BTC/USDT``) keeps only those. Perpetual contracts
    (a futures file) become ``BASE/QUOTE:QUOTE`` swaps, dated ones futures with
    their expiry; everything else is spot. A malformed document raises
    :class:`~virtuoso.errors.ConfigError` naming it (and the entry).

    >>> info = {"symbols": [{"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
    ...     "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01"},
    ...                 {"filterType": "LOT_SIZE", "stepSize": "0.00001", "minQty": "0.00001"}]}]}
    >>> market, = markets_from_exchange_info(info)
    >>> market.symbol, market.tick_size, market.amount_step, market.min_notional, market.active
    ('BTC/USDT', 0.01, 1e-05, 0.0, True)
    """
    label, document = _document(source)
    rows = document.get("symbols")
    if not isinstance(rows, list):
        raise ConfigError(f"{label}: not a Binance exchangeInfo document (no 'symbols' list)")
    wanted = None if symbols is None else set(symbols)
    markets = [_market(row, label, index) for index, row in enumerate(rows)]
    chosen = {m.symbol: m for m in markets if wanted is None or m.symbol in wanted}
    return tuple(chosen[symbol] for symbol in sorted(chosen))


def _document(source: str | Path | Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if isinstance(source, Mapping):
        return "exchangeInfo", source
    path = Path(source)
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such markets file") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a JSON exchangeInfo document ({type(exc).__name__}: {exc})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: not a Binance exchangeInfo document (a JSON object expected)")
    return str(path), document


def _market(row: Any, label: str, index: int) -> Market:
    where = f"{label}: symbols[{index}]"
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: an object expected")
    try:
        base, quote = str(row["baseAsset"]), str(row["quoteAsset"])
        filters = {f["filterType"]: f for f in row.get("filters", ())}
        symbol, kind = _unified(base, quote, row)
        return Market(
            symbol=symbol, base=base, quote=quote, type=kind, active=row.get("status") == "TRADING",
            tick_size=_number(filters, "PRICE_FILTER", "tickSize"),
            amount_step=_number(filters, "LOT_SIZE", "stepSize"),
            min_amount=_number(filters, "LOT_SIZE", "minQty"),
            min_notional=_min_notional(filters),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} ({row.get('symbol', '?')}): malformed: {type(exc).__name__}: {exc}") from None


def _unified(base: str, quote: str, row: Mapping[str, Any]) -> tuple[str, Any]:
    contract = row.get("contractType")
    if not contract:
        return f"{base}/{quote}", "spot"
    settle = str(row.get("marginAsset") or quote)
    if contract == "PERPETUAL":
        return f"{base}/{quote}:{settle}", "swap"
    expiry = str(row.get("symbol", "")).rpartition("_")[2]
    return f"{base}/{quote}:{settle}-{expiry}", "future"


def _number(filters: Mapping[str, Mapping[str, Any]], kind: str, key: str) -> float:
    found = filters.get(kind)
    value = 0.0 if found is None or key not in found else float(found[key])
    if not 0.0 <= value < math.inf:  # NaN fails too
        raise ValueError(f"{kind} {key} {value} is not a finite number >= 0")
    return value


def _min_notional(filters: Mapping[str, Mapping[str, Any]]) -> float:
    # spot files name it MIN_NOTIONAL (older) or NOTIONAL (newer) with minNotional; futures MIN_NOTIONAL.notional
    for kind, key in (("MIN_NOTIONAL", "minNotional"), ("NOTIONAL", "minNotional"), ("MIN_NOTIONAL", "notional")):
        value = _number(filters, kind, key)
        if value:
            return value
    return 0.0


@dataclass(frozen=True, slots=True)
class MarketsFile:
    """The markets an import records: those of its symbols the exchangeInfo file has, and those it lacks."""

    path: str
    exchange: str
    markets: tuple[Market, ...]
    missing: tuple[str, ...]

    @classmethod
    def read(cls, path: str | Path, plans: Iterable[FilePlan]) -> MarketsFile:
        """Parse ``path`` for the symbols (and exchange) the files of an import record."""
        plans = list(plans)
        symbols = sorted({symbol for plan in plans for symbol in plan.symbols})
        exchange = plans[0].exchange if plans else "binance"
        markets = markets_from_exchange_info(path, exchange, symbols)
        known = {market.symbol for market in markets}
        return cls(str(path), exchange, markets, tuple(s for s in symbols if s not in known))

    async def events(self, store: EventStore, info: SessionInfo) -> list[Event]:
        """What to append to session ``info``: a MarketsLoaded at its start unless the session's last one has the
        same content, and a Note per symbol the file lacks (never an invented market). Ids are deterministic, so
        the Notes of a re-run are duplicates the store ignores."""
        stream = f"{self.exchange}:markets"
        content = markets_hash(self.markets)
        ids = EventIdFactory(f"{info.id}:{stream}:{content}")
        ts = info.started_ns
        events = [
            Event(ids(ts), stream, ts, ts, info.id, Note(f"{self.path} has no market {symbol}", "warning",
                                                        {"symbol": symbol, "file": self.path}))
            for symbol in self.missing
        ]  # fmt: skip
        if self.markets and await _last_hash(store, info.id, stream) != content:
            loaded = MarketsLoaded(self.exchange, self.markets, content, source="import")
            events.append(Event(ids(ts), stream, ts, ts, info.id, loaded))
        return events


async def _last_hash(store: EventStore, session_id: str, stream: str) -> str | None:
    flt = EventFilter(session=session_id, streams=(stream,), types=(MarketsLoaded.TYPE,))
    last = await store.last_event(flt)
    return last.payload.content_hash if last is not None and isinstance(last.payload, MarketsLoaded) else None


@dataclass(frozen=True, slots=True)
class RecordedMarket:
    """One market as a session recorded it: in force from ``since_ns`` (exchange time) until a later change."""

    exchange: str
    market: Market
    source: str
    since_ns: int
    content_hash: str
    stale_age_s: float | None = None
    """How old the markets were when written, when the exchange could not be asked (``None``: fresh)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``virtuoso sessions show --json`` prints."""
        m = self.market
        return {
            "exchange": self.exchange, "symbol": m.symbol, "type": m.type, "active": m.active,
            "tick_size": m.tick_size, "amount_step": m.amount_step, "min_amount": m.min_amount,
            "min_notional": m.min_notional, "maker_fee_bps": m.maker_fee_bps, "taker_fee_bps": m.taker_fee_bps,
            "source": self.source, "stale_age_s": self.stale_age_s, "since_ns": self.since_ns,
            "content_hash": self.content_hash,
        }  # fmt: skip


def markets_streams(streams: Iterable[str]) -> tuple[str, ...]:
    """The ``<exchange>:markets`` streams among ``streams``."""
    return tuple(s for s in streams if s.count(":") == 1 and s.endswith(":markets"))


async def session_markets(store: EventStore, session_id: str) -> list[RecordedMarket]:
    """The markets session ``session_id`` recorded, each when it first appeared or changed, in log order."""
    info = await store.session(session_id)
    streams = markets_streams(info.streams)
    if not streams:
        return []
    found: list[RecordedMarket] = []
    last: dict[tuple[str, str], Market] = {}
    flt = EventFilter(session=info.id, streams=streams, types=(MarketsLoaded.TYPE,))
    async for event in store.read(flt):
        loaded = event.payload
        assert isinstance(loaded, MarketsLoaded)
        for market in loaded.markets:
            key = (loaded.exchange, market.symbol)
            if last.get(key) != market:
                last[key] = market
                since = event.ts_event
                found.append(
                    RecordedMarket(
                        loaded.exchange, market, loaded.source, since, loaded.content_hash, loaded.stale_age_s
                    )
                )
    return found
