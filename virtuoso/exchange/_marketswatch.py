"""MarketsWatch: a recording's markets, loaded at its start and refreshed while it runs.

At the start it loads the recorded symbols' markets through the
:class:`MarketsCache` and writes them as a ``MarketsLoaded`` event. Every
``ttl_s`` it asks the exchange again and writes a new event only when their
content hash changed (a new tick size, a market suspended). When the exchange
cannot be asked, the recording goes on with the cached markets: the event (or
the first one of the session) says ``stale_age_s``, a warning ``Note`` says why,
the health check reports the markets ``degraded``, and ccxt is handed the
cached markets so its own calls do not fail on a ``load_markets`` of theirs.

A symbol that a refresh no longer lists, or lists as inactive, is handed to
``on_gone`` (the recorder stops that symbol's channels) and left out of the
later refreshes; the other symbols go on. When every symbol is gone, the
refresh raises the :class:`~virtuoso.errors.BadSymbol`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from virtuoso.errors import BadSymbol
from virtuoso.events import ComponentHealth, Note
from virtuoso.exchange._emit import Emitter
from virtuoso.exchange._faults import RECORDING, fault_scope
from virtuoso.exchange._marketdata import ccxt_market
from virtuoso.exchange._markets import MarketsCache, MarketsSnapshot, markets_stream
from virtuoso.exchange._secrets import Secrets

log = logging.getLogger("virtuoso.exchange")
_SOURCES = {"exchange": "exchange's last answer", "log": "event log", "cache-file": "cache file", "import": "import"}


class MarketsWatch:
    """Keeps one recording's markets in the log (see the module doc); :meth:`health` for the health check."""

    def __init__(
        self,
        cache: MarketsCache,
        emitter: Emitter,
        exchange: Any,
        symbols: Sequence[str],
        secrets: Secrets,
        *,
        on_gone: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.cache = cache
        self.symbols = tuple(symbols)
        self._on_gone = on_gone
        self._failure: str | None = None
        self.stream = markets_stream(cache.exchange)
        self._emitter = emitter
        self._exchange = exchange
        self._secrets = secrets
        self._written: str | None = None
        self.current: MarketsSnapshot | None = None

    async def start(self) -> MarketsSnapshot:
        """Load the markets (fresh, or cached when the exchange cannot be asked) and write them."""
        snapshot = await self.cache.load(self.symbols)
        await self._take(snapshot)
        return snapshot

    async def refresh_forever(self) -> None:
        """Ask the exchange again every ``ttl_s`` until cancelled.

        Every symbol gone, or an error for the whole recording (credentials),
        propagates. Any other failure of a refresh (a market ccxt cannot
        describe, a bug) is logged with its traceback and noted, the markets
        turn ``degraded`` in the health check, and the recording goes on with
        the markets it has.
        """
        while True:
            await asyncio.sleep(self.cache.ttl_s)
            try:
                await self.refresh()
            except Exception as exc:
                if isinstance(exc, BadSymbol) or fault_scope(exc) == RECORDING:
                    raise
                await self._refresh_failed(exc)
            else:
                self._failure = None

    async def _refresh_failed(self, error: Exception) -> None:
        previous, self._failure = self._failure, self._secrets.scrub(f"{type(error).__name__}: {error}")[:300]
        log.error("%s markets refresh failed: %s", self.cache.exchange, self._failure, exc_info=error)
        if self._failure != previous:  # noted once per kind of failure, not at every refresh
            await self._note(f"{self.cache.exchange} markets refresh failed ({self._failure}); going on", "warning")

    async def refresh(self) -> MarketsSnapshot:
        """Ask the exchange now; write the markets if they changed, say so if they turned stale or fresh again."""
        try:
            snapshot = await self.cache.load(self.symbols, refresh=True)
        except BadSymbol as error:
            gone = self.cache.missing(self.symbols)
            if self._on_gone is None or not gone or len(gone) == len(self.symbols):
                raise
            for symbol in gone:
                await self._lose(symbol, self._secrets.scrub(f"the exchange no longer lists it ({error})"))
            snapshot = await self.cache.load(self.symbols)
        await self._take(snapshot)
        return snapshot

    async def _lose(self, symbol: str, reason: str) -> None:
        self.symbols = tuple(s for s in self.symbols if s != symbol)
        if self._on_gone is not None:
            await self._on_gone(symbol, reason)

    async def _drop_inactive(self, snapshot: MarketsSnapshot) -> None:
        if self._on_gone is None:
            return
        for market in snapshot.markets:
            if not market.active and market.symbol in self.symbols:
                await self._lose(market.symbol, f"{self.cache.exchange} lists the market as inactive")

    def health(self) -> list[ComponentHealth]:
        """``markets <exchange>``: ok when fresh, degraded when the recording runs on cached markets."""
        current = self.current
        if current is None:
            return []
        name = f"markets {self.cache.exchange}"
        if self._failure is not None:
            return [ComponentHealth(name, "degraded", f"refresh failed: {self._failure}")]
        if current.fresh:
            return [ComponentHealth(name, "ok", "fresh from the exchange")]
        return [ComponentHealth(name, "degraded", self._stale_text(current))]

    async def _take(self, snapshot: MarketsSnapshot) -> None:
        previous, self.current = self.current, snapshot
        if not snapshot.fresh:
            self._hand_to_ccxt(snapshot)
            if previous is None or previous.fresh:
                await self._note(self._stale_text(snapshot), "warning")
        elif previous is not None and not previous.fresh:
            await self._note(f"{self.cache.exchange} markets fresh from the exchange again", "info")
        loaded = snapshot.event(self.cache.exchange)
        if loaded.content_hash != self._written:
            await self._emitter.emit(self.stream, loaded)
            self._written = loaded.content_hash
        await self._drop_inactive(snapshot)

    def _stale_text(self, snapshot: MarketsSnapshot) -> str:
        text = (
            f"{self.cache.exchange} markets are stale: from the {_SOURCES[snapshot.source]},"
            f" {snapshot.age_s:.0f} s old (the exchange failed: {snapshot.reason})"
        )
        return self._secrets.scrub(text)

    async def _note(self, message: str, level: Literal["info", "warning"]) -> None:
        log.log(logging.WARNING if level == "warning" else logging.INFO, "%s", message)
        data = {"exchange": self.cache.exchange, "source": self.current.source if self.current else ""}
        await self._emitter.emit(self.stream, Note(message, level, data))

    def _hand_to_ccxt(self, snapshot: MarketsSnapshot) -> None:
        # ccxt would otherwise call load_markets itself before every watch and fail the same way.
        if getattr(self._exchange, "markets", None):
            return
        setter = getattr(self._exchange, "set_markets", None)
        if setter is not None:
            setter({market.symbol: ccxt_market(market) for market in snapshot.markets})
