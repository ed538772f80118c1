"""``ccxt-json``: a JSON list of ccxt unified trades, or of OHLCV rows.

* trades: what ``exchange.fetch_trades()`` returns, dumped as JSON: objects with at
  least ``id``, ``timestamp`` (ms), ``symbol``, ``side`` (the taker's), ``price``, ``amount``.
* OHLCV: what ``exchange.fetch_ohlcv()`` returns: ``[timestamp, open, high, low, close, volume]``
  rows. They name neither symbol nor timeframe: ``--symbol`` is required and the
  timeframe is told by the spacing of the rows.

Neither names its exchange, so ``--exchange`` is required. The lists are read item by
item (memory stays flat). There is no receive time: ``ts_recv`` is ``ts_event``,
which is the trade's time, or a bar's close (its last millisecond, as Binance
stamps its candles).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import Bar, Event, Trade, stream_name
from virtuoso.importers._output import CHUNK, MAX_NS, PARSE_ERRORS
from virtuoso.importers._plan import FileJob, FilePlan, Options
from virtuoso.importers._source import Opened, SourceFile, json_array_items, open_source

MS = 1_000_000
_UNITS = (("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))
_OHLCV_WIDTH = 6


def timeframe_of(spacing_ms: int) -> str:
    """The ccxt timeframe of candles ``spacing_ms`` apart.

    >>> timeframe_of(60_000), timeframe_of(14_400_000), timeframe_of(86_400_000)
    ('1m', '4h', '1d')
    """
    for unit, size in _UNITS:
        if spacing_ms >= size and spacing_ms % size == 0:
            return f"{spacing_ms // size}{unit}"
    raise ValueError(f"rows {spacing_ms} ms apart are not candles of a timeframe")


def _duration_ms(timeframe: str) -> int:
    return int(timeframe[:-1]) * dict(_UNITS)[timeframe[-1]]


class CcxtJsonFormat:
    """The ``ccxt-json`` format."""

    name = "ccxt-json"

    def inspect(self, source: SourceFile, options: Options) -> FilePlan:
        """Trades or OHLCV, the symbol and (for OHLCV) the timeframe, from the first two items."""
        if not options.exchange:
            raise UsageError(
                f"{source.label}: ccxt-json files do not name their exchange: pass --exchange (e.g. binance)"
            )
        first: list[tuple[int, Any]] = []
        with open_source(source) as opened:
            for item in json_array_items(opened.stream, source.label):
                first.append(item)
                if len(first) == 2:
                    break
        if not first:
            raise ImportFormatError(source.label, 1, "an empty list: nothing to import")
        line, item = first[0]
        if isinstance(item, dict):
            named = item.get("symbol")
            if options.symbol and isinstance(named, str) and named != options.symbol and not options.force:
                raise UsageError(
                    f"{source.label}: the file holds {named}, not {options.symbol}:"
                    f" pass --force to import it as {options.symbol} anyway (--symbol)"
                )
            symbol = options.symbol or named
            if not isinstance(symbol, str) or not symbol:
                raise ImportFormatError(source.label, line, "a trade without 'symbol': pass --symbol")
            first_ts = _ms(item.get("timestamp")) * MS
            if not 0 < first_ts <= MAX_NS:
                stamp = item.get("timestamp")
                raise ImportFormatError(source.label, line, f"'timestamp' {stamp!r} is not a time in ms")
            return FilePlan(options.exchange, (symbol,), ("trades",), first_ts, detail="trades")
        return self._ohlcv_plan(source, options, first)

    def _ohlcv_plan(self, source: SourceFile, options: Options, first: list[tuple[int, Any]]) -> FilePlan:
        if not options.symbol:
            raise UsageError(f"{source.label}: OHLCV rows do not name their market: pass --symbol (e.g. BTC/USDT)")
        line = first[0][0]
        if len(first) < 2:
            raise ImportFormatError(source.label, line, "one OHLCV row alone does not tell its timeframe")
        opened_at = [_ohlcv(source.label, n, r)[0] for n, r in first]
        try:
            timeframe = timeframe_of(opened_at[1] - opened_at[0])
        except ValueError as exc:
            raise ImportFormatError(source.label, first[1][0], str(exc)) from None
        start = (opened_at[0] + _duration_ms(timeframe) - 1) * MS
        if not 0 < start <= MAX_NS:
            raise ImportFormatError(source.label, line, f"timestamp {opened_at[0]!r} is not a time in ms")
        return FilePlan(options.exchange or "", (options.symbol,), ("bars",), start, detail=timeframe)

    def chunks(self, job: FileJob, opened: Opened) -> Iterator[list[Event]]:
        """The file's events, in chunks."""
        items = _Items(job)
        for line, item in json_array_items(opened.stream, job.source.label):
            try:
                items.add(line, item)
            except PARSE_ERRORS as exc:
                raise ImportFormatError(job.source.label, line, str(exc)) from None
            if len(job.out.chunk) >= CHUNK:
                yield job.out.take()
        if job.out.chunk:
            yield job.out.take()


class _Items:
    """Trades or OHLCV rows of one file to events."""

    def __init__(self, job: FileJob) -> None:
        self._label = job.source.label
        self._out = job.out
        self._exchange = job.plan.exchange
        self._symbol = job.options.symbol
        self._trades = job.plan.detail == "trades"
        self._timeframe = job.plan.detail
        self._duration = 0 if self._trades else _duration_ms(job.plan.detail)
        self._streams: dict[str, str] = {}
        self._bars = "" if self._trades else stream_name(self._exchange, job.plan.symbols[0], "bars")

    def add(self, line: int, item: Any) -> None:
        """The event of one item."""
        if self._trades:
            self._trade(line, item)
        else:
            self._bar(line, item)

    def _trade(self, line: int, item: Any) -> None:
        label = self._label
        if not isinstance(item, dict):
            raise ImportFormatError(label, line, "expected a trade object like the items before it")
        symbol = self._symbol or _field(label, line, item, "symbol", str)
        stream = self._streams.get(symbol)
        if stream is None:
            stream = self._streams[symbol] = stream_name(self._exchange, symbol, "trades")
        ts = _ms(_field(label, line, item, "timestamp", int)) * MS
        side = item.get("side")
        if side not in ("buy", "sell"):
            raise ImportFormatError(label, line, f"'side' must be 'buy' or 'sell', not {side!r}")
        price = float(_field(label, line, item, "price", (int, float)))
        amount = float(_field(label, line, item, "amount", (int, float)))
        trade_id = item.get("id")
        self._out.emit(stream, ts, ts, Trade(price, amount, side, "" if trade_id is None else str(trade_id)))
        self._out.last_recv = max(self._out.last_recv, ts)

    def _bar(self, line: int, item: Any) -> None:
        opened_ms, o, h, low, c, v = _ohlcv(self._label, line, item)
        close_ns = (opened_ms + self._duration - 1) * MS
        self._out.emit(self._bars, close_ns, close_ns, Bar(self._timeframe, opened_ms * MS, o, h, low, c, v))
        self._out.last_recv = max(self._out.last_recv, close_ns)


def _ohlcv(label: str, line: int, row: Any) -> tuple[int, float, float, float, float, float]:
    if not isinstance(row, list) or len(row) != _OHLCV_WIDTH:
        raise ImportFormatError(label, line, "expected an OHLCV row [timestamp, open, high, low, close, volume]")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
        raise ImportFormatError(label, line, "OHLCV values must be numbers")
    ts, o, h, low, c, v = row
    return _ms(ts), float(o), float(h), float(low), float(c), float(v)


def _field(label: str, line: int, item: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = item.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ImportFormatError(label, line, f"trade field {name!r} is missing or not a {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return "number" if isinstance(kind, tuple) else {int: "integer", str: "string"}.get(kind, kind.__name__)


def _ms(value: Any) -> int:
    """A time in ms as an int; 0 for anything else (NaN, infinities, text), which the value rules refuse."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if math.isfinite(value) else 0
