"""MarketsCache: markets from the exchange when it answers, else the latest known ones, marked stale.

Order of preference when ``load_markets`` fails transiently (network, 5xx, an
open breaker): the markets this cache loaded earlier in the process, each wanted
symbol's latest market in the log's ``MarketsLoaded`` events of the exchange,
the cache file next to the database (``<exchange>.markets.json``, written on
every fresh load, for a new database). The freshest one that lists every wanted symbol wins. A permanent
error is raised as it is, and a symbol that no source lists is a
:class:`~virtuoso.errors.BadSymbol`: markets are never invented.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from virtuoso.clock import Clock
from virtuoso.errors import BadSymbol
from virtuoso.events import Market, MarketsLoaded, MarketsSource, markets_hash
from virtuoso.exchange._guard import Guard, is_transient, passthrough
from virtuoso.exchange._marketdata import TICK_SIZE, market_from_ccxt
from virtuoso.store import EventFilter, EventStore

NS = 1_000_000_000
DEFAULT_TTL_S = 3600.0
log = logging.getLogger("virtuoso.exchange")

Fetch = Callable[[], Awaitable[Mapping[str, Mapping[str, Any]]]]
"""Loads every market of the exchange as ccxt unified dicts (``lambda: exchange.load_markets(reload=True)``)."""


class _CacheFile(msgspec.Struct, frozen=True):
    exchange: str
    fetched_ns: int
    markets: tuple[Market, ...]


@dataclass(frozen=True)
class MarketsSnapshot:
    """The markets of the wanted symbols (by symbol order), where they came from and how old they are."""

    markets: tuple[Market, ...]
    source: MarketsSource
    fresh: bool
    age_s: float
    reason: str = ""
    """Why they are stale (the error of the failed load); empty when fresh."""

    def event(self, exchange: str) -> MarketsLoaded:
        """The :class:`MarketsLoaded` payload for the log."""
        return MarketsLoaded(
            exchange,
            self.markets,
            markets_hash(self.markets),
            self.source,
            None if self.fresh else round(self.age_s, 3),
        )


@dataclass(frozen=True)
class _Known:
    markets: Mapping[str, Market]
    fetched_ns: int
    source: MarketsSource


def markets_stream(exchange: str) -> str:
    """The stream of an exchange's ``MarketsLoaded`` events: ``<exchange>:markets``."""
    return f"{exchange}:markets"


class MarketsCache:
    """``await cache.load(symbols)``: fresh markets while younger than ``ttl_s``, else asked again (see module doc)."""

    def __init__(
        self,
        exchange: str,
        fetch: Fetch,
        clock: Clock,
        *,
        guard: Guard = passthrough,
        store: EventStore | None = None,
        cache_file: Path | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        precision_mode: int = TICK_SIZE,
    ) -> None:
        self.exchange = exchange
        self.ttl_s = ttl_s
        self.cache_file = cache_file
        self._fetch = fetch
        self._clock = clock
        self._guard = guard
        self._store = store
        self._precision_mode = precision_mode
        self._known: _Known | None = None

    async def load(self, symbols: Sequence[str], *, refresh: bool = False) -> MarketsSnapshot:
        """The markets of ``symbols``; ``refresh`` asks the exchange even within the TTL."""
        known = self._known
        if known is not None and not refresh and self._age_s(known) < self.ttl_s:
            return self._pick(known, symbols, fresh=True)
        try:
            raw = await self._guard(self._fetch, operation="load_markets")
        except Exception as exc:
            if not is_transient(exc):
                raise
            return await self._fallback(symbols, exc)
        known = self._known = self._normalized(raw)
        await self._write_file(known)
        return self._pick(known, symbols, fresh=True)

    def missing(self, symbols: Sequence[str]) -> list[str]:
        """Those of ``symbols`` the exchange's last answer did not list (none before a first answer)."""
        known = self._known
        return [] if known is None else [symbol for symbol in symbols if symbol not in known.markets]

    def _normalized(self, raw: Mapping[str, Mapping[str, Any]]) -> _Known:
        markets = {symbol: market_from_ccxt(market, self._precision_mode) for symbol, market in raw.items()}
        return _Known(markets, self._clock.now_ns(), "exchange")

    def _age_s(self, known: _Known) -> float:
        return max(self._clock.now_ns() - known.fetched_ns, 0) / NS

    def _pick(self, known: _Known, symbols: Sequence[str], *, fresh: bool, reason: str = "") -> MarketsSnapshot:
        missing = [symbol for symbol in symbols if symbol not in known.markets]
        if missing:
            where = "the exchange's markets" if fresh else f"the cached markets ({known.source})"
            raise BadSymbol(f"no market {', '.join(missing)} in {where}", exchange=self.exchange, operation="markets")
        chosen = tuple(known.markets[symbol] for symbol in sorted(set(symbols)))
        age = 0.0 if fresh else self._age_s(known)
        return MarketsSnapshot(chosen, known.source, fresh, age, reason)

    async def _fallback(self, symbols: Sequence[str], error: BaseException) -> MarketsSnapshot:
        reason = f"{type(error).__name__}: {error}"
        candidates = [c for c in (self._known, await self._from_log(symbols), self._from_file()) if c is not None]
        candidates.sort(key=lambda known: known.fetched_ns, reverse=True)
        for known in candidates:
            if all(symbol in known.markets for symbol in symbols):
                return self._pick(known, symbols, fresh=False, reason=reason)
        if candidates:
            self._pick(candidates[0], symbols, fresh=False)  # raises BadSymbol naming what is missing
        raise error

    async def _from_log(self, symbols: Sequence[str]) -> _Known | None:
        """Each wanted symbol's latest market in the log (any session), dated by the oldest of those chosen."""
        if self._store is None:
            return None
        wanted = EventFilter(streams=(markets_stream(self.exchange),), types=(MarketsLoaded.TYPE,))
        latest: dict[str, tuple[Market, int]] = {}
        async for event in self._store.read(wanted):
            if isinstance(event.payload, MarketsLoaded):
                # A stale event was already that old when written: its markets date from before it.
                fetched = event.ts_event - int((event.payload.stale_age_s or 0.0) * NS)
                latest.update((m.symbol, (m, fetched)) for m in event.payload.markets)
        if not latest:
            return None
        dates = [latest[symbol][1] for symbol in symbols if symbol in latest]
        oldest = min(dates) if dates else max(fetched for _, fetched in latest.values())
        return _Known({symbol: market for symbol, (market, _) in latest.items()}, oldest, "log")

    def _from_file(self) -> _Known | None:
        if self.cache_file is None or not self.cache_file.is_file():
            return None
        try:
            cached = msgspec.json.decode(self.cache_file.read_bytes(), type=_CacheFile)
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("%s: unreadable markets cache file, ignored: %s", self.cache_file, exc)
            return None
        if cached.exchange != self.exchange:
            return None
        return _Known({m.symbol: m for m in cached.markets}, cached.fetched_ns, "cache-file")

    async def _write_file(self, known: _Known) -> None:
        if self.cache_file is None:
            return
        markets = tuple(known.markets[symbol] for symbol in sorted(known.markets))
        body = msgspec.json.encode(_CacheFile(self.exchange, known.fetched_ns, markets))
        try:
            await asyncio.to_thread(_replace, self.cache_file, body)
        except OSError as exc:  # the cache only helps later runs: this one records without it
            log.warning("%s: markets cache file not written: %s", self.cache_file, exc)


def _replace(path: Path, body: bytes) -> None:
    # Written aside and renamed, so a crash mid-write never leaves half a cache file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # two recorders may share the file
    partial.write_bytes(body)
    partial.replace(path)


def markets_cache_file(db: Path | None, exchange: str) -> Path | None:
    """The default markets cache file: ``<exchange>.markets.json`` in ``db``'s folder (``None``: in-memory log).

    One file per exchange and folder, not per database, so a new database recorded
    while the exchange cannot be asked still finds the markets an earlier one saw.
    """
    return None if db is None else db.with_name(f"{exchange}.markets.json")
