"""What the first lines of a ``binance-capture`` file tell before it is imported, and what an override may not say.

Spot or USD-M futures, the market ids (and the line naming each) and channels, the
first receive time. A first line that does not parse is refused here, naming it, so a
fake or foreign file leaves nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.importers._output import MAX_NS
from virtuoso.importers._source import SourceFile
from virtuoso.importers._symbols import Market, unified_symbol

PEEK_LINES = 100
"""Lines read before an import to learn the markets and channels of a capture."""


def symbol_at(source: SourceFile, line: int, market_id: str, market: Market) -> str:
    """The unified symbol of ``market_id``; one no symbol can be made of is an error at ``line``."""
    try:
        return unified_symbol(market_id, market)
    except UsageError as exc:
        raise ImportFormatError(source.label, line, str(exc)) from None


def refuse_contradiction(source: SourceFile, option: str, given: str, found: list[str]) -> None:
    """Refuse an override naming something else than the file does (a relabelled import is silent wrong data)."""
    if found and found != [given]:
        raise UsageError(
            f"{source.label}: the file holds {', '.join(found)}, not {given}:"
            f" pass --force to import it as {given} anyway ({option})"
        )


@dataclass
class Peek:
    """What the first lines of a capture tell: market kind, market ids (and the line naming each), channels."""

    label: str
    market: Market | None = None
    markets: dict[str, int] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)
    first_ts: int = 0

    def line(self, number: int, line: bytes) -> None:
        ts_text, _, body = line.partition(b" ")
        try:
            ts, message = int(ts_text), json.loads(body)
        except (ValueError, RecursionError):
            if not self.first_ts:
                raise ImportFormatError(
                    self.label, number, "not a capture line: expected '<receive time in ns> <JSON message>'"
                ) from None
            return  # the import itself reports the line
        if not self.first_ts:
            if not 0 < ts <= MAX_NS:
                raise ImportFormatError(self.label, number, f"receive time {ts} is not a time in ns from 1 to 2**63-1")
            self.first_ts = ts
        if not isinstance(message, dict):
            return
        data = message.get("data")
        if isinstance(data, dict) and isinstance(message.get("stream"), str):
            market_id, _, channel = message["stream"].partition("@")
            self._frame(number, market_id.upper(), channel, data)
        elif "lastUpdateId" in message:
            self.channels.add("book")
            self.market = self.market or ("usdm" if "E" in message else "spot")

    def _frame(self, number: int, market_id: str, channel: str, data: dict[str, Any]) -> None:
        named = _CHANNELS.get(channel.split("@", maxsplit=1)[0].split("_", maxsplit=1)[0])
        if named is None:
            return
        self.markets.setdefault(market_id, number)
        self.channels.add(named)
        if self.market is None:
            self.market = _market_kind(named, data)


_CHANNELS = {"trade": "trades", "aggTrade": "aggtrades", "depth": "book", "bookTicker": "quotes", "kline": "bars"}


def _market_kind(channel: str, data: dict[str, Any]) -> Market | None:
    """What one frame says about spot vs USD-M futures, if anything."""
    if channel == "book":
        return "usdm" if "pu" in data else "spot"
    if channel in ("trades", "aggtrades"):
        return "usdm" if "M" not in data else "spot"
    if channel == "quotes":
        return "usdm" if "e" in data else "spot"
    return None


def market_from_name(source: SourceFile) -> str:
    """``BTCUSDT`` from a file named like ``btcusdt_20240808.gz``, else ``""``."""
    stem = source.path.name.split(".")[0]
    head = stem.split("_")[0].upper()
    return head if head.isalnum() else ""
