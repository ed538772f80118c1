"""``binance-vision``: the daily and monthly CSV dumps of https://data.binance.vision.

Three kinds of file, told apart by the file name Binance gives them
(``BTCUSDT-trades-2024-08-08.zip``, ``BTCUSDT-aggTrades-2024-08.zip``,
``BTCUSDT-1m-2024-08-08.zip``) or else by a header row:

* trades: ``id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]``
* aggTrades: ``agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time,
  is_buyer_maker[, is_best_match]``
* klines: ``open_time, open, high, low, close, volume, close_time, quote_volume, count,
  taker_buy_volume, taker_buy_quote_volume, ignore``

Spot files have no header row and carry ``is_best_match``; USD-M futures files have a
header row and no ``is_best_match``. Times are milliseconds, or microseconds in spot
files from 2025 on: the unit is told by the size of each value. The files hold no
receive time, so ``ts_recv`` is ``ts_event``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import (
    Bar,
    Event,
    Gap,
    Problem,
    Trade,
    TradeColumns,
    check_events,
    checked_trades,
    stream_name,
)
from virtuoso.importers._output import CHUNK, MAX_NS, PARSE_ERRORS, Continuity, Output
from virtuoso.importers._plan import FileJob, FilePlan, Options
from virtuoso.importers._source import Opened, SourceFile, numbered_lines, open_source, text_blocks
from virtuoso.importers._symbols import EXCHANGES, Market, unified_symbol
from virtuoso.importers._vision_bulk import TradeBlock, parse_trades

_NAME = re.compile(r"^(?P<market>[A-Z0-9_]+)-(?P<kind>trades|aggTrades|\d+(?:s|m|h|d|w|mo))-\d{4}-\d{2}(?:-\d{2})?")
_HEADERS = {"id": "trades", "agg_trade_id": "aggTrades", "open_time": "klines"}
_COLUMNS = {"trades": (6, 7), "aggTrades": (7, 8), "klines": (12, 12)}
_MS_BELOW = 10**14
_US_BELOW = 10**17
_TRUE = {b"true", b"True", b"TRUE"}
_FALSE = {b"false", b"False", b"FALSE"}


def to_ns(value: int) -> int:
    """A Binance time in ms, us or ns (told by its size) as ns since the epoch.

    >>> to_ns(1_723_161_255_342), to_ns(1_723_161_255_342_123)
    (1723161255342000000, 1723161255342123000)
    """
    if value < _MS_BELOW:
        return value * 1_000_000
    if value < _US_BELOW:
        return value * 1_000
    return value


@dataclass(frozen=True)
class _Layout:
    """What one file holds: the kind of rows, the timeframe of klines, the market."""

    kind: str
    timeframe: str
    market: Market
    market_id: str


class VisionFormat:
    """The ``binance-vision`` format."""

    name = "binance-vision"

    def inspect(self, source: SourceFile, options: Options) -> FilePlan:
        """Tell the kind of rows and the market from the file name, the header and the first row."""
        layout = self._layout(source, options)
        named = unified_symbol(layout.market_id, layout.market) if layout.market_id else ""
        if options.symbol and named and options.symbol != named and not options.force:
            raise UsageError(
                f"{source.label}: the file holds {named}, not {options.symbol}:"
                f" pass --force to import it as {options.symbol} anyway (--symbol)"
            )
        symbol = options.symbol or named
        if not symbol:
            raise UsageError(f"{source.label}: the file name does not tell the market: pass --symbol")
        channel = {"trades": "trades", "aggTrades": "aggtrades", "klines": "bars"}[layout.kind]
        exchange = options.exchange or EXCHANGES[layout.market]
        first = _first_time(source, layout)
        detail = layout.timeframe or layout.kind
        return FilePlan(exchange, (symbol,), (channel,), first, layout.market_id, detail)

    def _layout(self, source: SourceFile, options: Options) -> _Layout:
        named = _NAME.match(source.path.name)
        header, columns = _first_rows(source)
        kind = timeframe = ""
        if named:
            kind = named["kind"]
            if kind not in ("trades", "aggTrades"):
                kind, timeframe = "klines", _timeframe(named["kind"])
        elif header in _HEADERS:
            kind = _HEADERS[header]
        if not kind or (kind == "klines" and not timeframe):
            raise UsageError(
                f"{source.label}: cannot tell trades, aggTrades or klines (and their interval) from the file name;"
                " keep Binance's name, e.g. BTCUSDT-1m-2024-08-08.zip"
            )
        market = options.market or _market(source, kind, header, columns)
        return _Layout(kind, timeframe, market, named["market"] if named else "")

    def chunks(self, job: FileJob, opened: Opened) -> Iterator[Sequence[Event]]:
        """The file's events, in chunks."""
        source, plan = job.source, job.plan
        job.continuity.attach(job.out)
        kind = "klines" if plan.detail not in ("trades", "aggTrades") else plan.detail
        channel = {"trades": "trades", "aggTrades": "aggtrades", "klines": "bars"}[kind]
        stream = stream_name(plan.exchange, plan.symbols[0], channel)
        rows = _Rows(source.label, kind, plan.detail, stream, stream_name(plan.exchange, plan.symbols[0], "gaps"))
        return rows.chunks(opened, job.out, job.continuity)


class _Rows:
    """CSV rows of one kind to events."""

    def __init__(self, label: str, kind: str, timeframe: str, stream: str, gaps: str) -> None:
        self._label = label
        self._kind = kind
        self._timeframe = timeframe
        self._stream = stream
        self._gaps = gaps
        self._widths = _COLUMNS[kind]
        row: dict[str, Callable[[list[bytes], Output, Continuity], None]] = {
            "trades": self._trade,
            "aggTrades": self._trade,
            "klines": self._kline,
        }
        self._row = row[kind]

    def chunks(self, opened: Opened, out: Output, continuity: Continuity) -> Iterator[Sequence[Event]]:
        for first, text in _numbered_blocks(opened.stream):
            bulk = first > 1 and self._kind != "klines"  # line 1 may be a header
            block = parse_trades(text, first, self._kind, self._widths) if bulk else None
            if block is None:
                yield from self._lines(text.split(b"\n"), first, out, continuity)
            else:
                yield from self._block(block, out, continuity)
        if out.chunk:
            yield out.take()

    def _lines(self, lines: list[bytes], first: int, out: Output, continuity: Continuity) -> Iterator[Sequence[Event]]:
        """Rows parsed one at a time: what the bulk parse does not vouch for, and klines."""
        for number, raw in enumerate(lines, first):
            line = raw.rstrip(b"\r")
            if not line:
                continue
            fields = line.split(b",")
            if number == 1 and not fields[0].strip().isdigit():
                continue  # the header row
            if len(fields) not in self._widths:
                expected = " or ".join(str(w) for w in sorted(set(self._widths)))
                raise ImportFormatError(self._label, number, f"expected {expected} columns, found {len(fields)}")
            try:
                self._row(fields, out, continuity)
            except PARSE_ERRORS as exc:
                raise ImportFormatError(self._label, number, f"bad value in a {self._kind} row: {exc}") from None
            if len(out.chunk) >= CHUNK:
                yield out.take()

    def _block(self, block: TradeBlock, out: Output, continuity: Continuity) -> Iterator[Sequence[Event]]:
        """Rows parsed in bulk, as one chunk built column by column: the same events and checks as :meth:`_lines`.

        Ids, payloads and events are made by C-level maps over the columns, the value rules run on the
        arrays (:func:`~virtuoso.events.checked_trades`), and the store takes the checked chunk as it is.
        """
        if out.chunk:
            yield out.take()
        ids = out.ids(self._stream).many(block.times_ns)
        b = block
        columns = TradeColumns.numbered(ids, b.times_ns, b.prices, b.amounts, b.sells, numbers=b.ids)
        checked = checked_trades(columns, stream=self._stream, session=out.session)
        gaps = continuity.trade_gaps(self._stream, self._gaps, block.ids, block.times_ns)
        rows = None
        if gaps and not isinstance(checked, Problem):
            events = list(checked)
            rows = self._insert_gaps(events, gaps, out)
            checked = check_events(events)
        if isinstance(checked, Problem):
            row = checked.index if rows is None else rows[checked.index]
            what = f"bad value in a {self._kind} row: {Trade.TYPE} {checked.text}"
            raise ImportFormatError(self._label, block.first + row, what)
        out.counts[Trade.TYPE] += len(columns.trade_ids)
        out.last_recv = int(block.times_ns[-1])
        yield checked

    def _insert_gaps(self, events: list[Event], gaps: list[tuple[int, Gap]], out: Output) -> list[int]:
        """Put each Gap event after the row that revealed it (in place); the row of each event."""
        rows = list(range(len(events)))
        made = out.ids(self._gaps)
        gap_events = [Event(made(gap.end_ns), self._gaps, gap.end_ns, gap.end_ns, out.session, gap) for _, gap in gaps]
        for (row, _), event in zip(reversed(gaps), reversed(gap_events), strict=True):
            events.insert(row + 1, event)
            rows.insert(row + 1, row)
        out.counts[Gap.TYPE] += len(gaps)
        return rows

    def _trade(self, fields: list[bytes], out: Output, continuity: Continuity) -> None:
        time_column, maker_column = (4, 5) if self._kind == "trades" else (5, 6)
        trade_id = int(fields[0])
        ts = to_ns(int(fields[time_column]))
        price, amount = float(fields[1]), float(fields[2])
        self._trade_event((trade_id, price, amount, ts, _flag(fields[maker_column])), out, continuity)

    def _trade_event(self, row: tuple[int, float, float, int, bool], out: Output, continuity: Continuity) -> None:
        trade_id, price, amount, ts, sell = row
        out.emit(self._stream, ts, ts, Trade(price, amount, "sell" if sell else "buy", str(trade_id)))
        out.last_recv = ts
        continuity.trade(self._stream, self._gaps, trade_id, ts, ts)

    def _kline(self, fields: list[bytes], out: Output, continuity: Continuity) -> None:
        open_ns, close_ns = to_ns(int(fields[0])), to_ns(int(fields[6]))
        o, h, low, c, v = (float(f) for f in fields[1:6])
        out.emit(self._stream, close_ns, close_ns, Bar(self._timeframe, open_ns, o, h, low, c, v, int(fields[8])))
        out.last_recv = close_ns


def _numbered_blocks(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Blocks of whole lines (``\\n``-separated, blank ones kept) with the number of their first line; line 1 alone."""
    first = 1
    for block in text_blocks(stream):
        for text in block.split(b"\n", 1) if first == 1 else (block,):
            yield first, text
            first += text.count(b"\n") + 1


def _flag(value: bytes) -> bool:
    value = value.strip()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected true or false, found {value.decode(errors='replace')!r}")


def _timeframe(interval: str) -> str:
    """Binance's kline interval in ccxt notation (``1mo`` is ``1M``)."""
    return interval.replace("mo", "M")


def _first_rows(source: SourceFile) -> tuple[str, int]:
    """The first field of the first line (a header's first name, else a value) and the column count of a data row."""
    header, columns = "", 0
    with open_source(source) as opened:
        for number, line in numbered_lines(opened.stream):
            fields = line.split(b",")
            if number == 1 and not fields[0].strip().isdigit():
                header = fields[0].strip().decode(errors="replace")
                continue
            columns = len(fields)
            break
    return header, columns


def _first_time(source: SourceFile, layout: _Layout) -> int:
    column = {"trades": 4, "aggTrades": 5, "klines": 6}[layout.kind]
    with open_source(source) as opened:
        for number, line in numbered_lines(opened.stream):
            fields = line.split(b",")
            if len(fields) > column and fields[column].strip().isdigit():
                ts = to_ns(int(fields[column]))
                if ts > MAX_NS:
                    raise ImportFormatError(source.label, number, f"time {ts} ns is after 2**63-1")
                return ts
    return 0


def _market(source: SourceFile, kind: str, header: str, columns: int) -> Market:
    """Spot or USD-M: by the path Binance publishes under, else by the columns."""
    path = source.path.as_posix()
    if "/futures/um/" in path:
        return "usdm"
    if "/spot/" in path:
        return "spot"
    if kind in ("trades", "aggTrades") and columns:
        return "spot" if columns == _COLUMNS[kind][1] else "usdm"
    return "usdm" if header else "spot"
