"""The options of an import and what a format learns about a file before importing it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from virtuoso.events import Event
from virtuoso.importers._output import Continuity, Output
from virtuoso.importers._source import Opened, SourceFile
from virtuoso.importers._symbols import Market


@dataclass(frozen=True, slots=True)
class Options:
    """What the caller says about the files.

    ``symbol`` overrides the unified symbol (required where a format carries none);
    ``exchange`` the ccxt exchange id (``binance``, ``binanceusdm``, ...), which for
    the Binance formats also fixes spot vs USD-M futures. Either one contradicting
    what a file names is refused unless ``force`` (then the file is relabelled).
    """

    symbol: str | None = None
    exchange: str | None = None
    force: bool = False

    @property
    def market(self) -> Market | None:
        """The Binance market ``exchange`` names, if it names one."""
        return {"binance": "spot", "binanceusdm": "usdm"}.get(self.exchange or "")  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class FilePlan:
    """What a format found out about one file by peeking at its start."""

    exchange: str
    symbols: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    first_ts: int = 0
    """The first receive (or event) time in the file, in ns; 0 if unknown."""
    market_id: str = ""
    """The venue's market id when only the file name tells it."""
    detail: str = ""
    """Format-specific: what kind of rows the file holds (``trades``, ``1m`` klines, ...)."""


@dataclass(frozen=True, slots=True)
class FileJob:
    """One file to import, with everything a format needs to turn it into events."""

    source: SourceFile
    plan: FilePlan
    options: Options
    out: Output
    continuity: Continuity


class Format(Protocol):
    """One importable file format."""

    name: str

    def inspect(self, source: SourceFile, options: Options) -> FilePlan:
        """Peek at the file (cheaply) before the import."""

    def chunks(self, job: FileJob, opened: Opened) -> Iterator[Sequence[Event]]:
        """The file's events in chunks; malformed input raises ImportFormatError."""
