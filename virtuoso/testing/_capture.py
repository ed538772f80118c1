"""Loading WebSocket captures: hftbacktest's ``<local ns> <raw message>`` gzip lines, or cryptofeed's recordings.

Each WebSocket line is a Binance combined-stream frame ``{"stream": ..., "data": {...}}``;
one line per symbol is the raw REST depth snapshot the collector fetched after connecting.
The frames are kept byte for byte: the combined endpoint sends a line's frame as it is,
the raw endpoint sends the ``data`` object sliced out of it.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import msgspec

from virtuoso.errors import UsageError

DEFAULT_CAPTURES = (
    "hftbacktest/examples/spot/btcusdt_20240808.gz",
    "hftbacktest/examples/spot/btcusdt_20240809.gz",
)
"""The captures served by default, relative to the data directory: 11 minutes of BTCUSDT spot."""

_DATA_KEY = '"data":'
_STREAM_KEY = '{"stream":"'


def symbol_key(market: str, symbol: str) -> str:
    """How the loopback exchange names a symbol: the exchange id for spot (``BTCUSDT``), else ``linear:BTCUSDT``."""
    return symbol if market == "spot" else f"{market}:{symbol}"


class Frame:
    """One recorded WebSocket message: receive time, stream, market (``spot``/``linear``) and exact text.

    ``data`` is the decoded payload, decoded on first use (most frames are only ever sent as text).
    """

    __slots__ = ("_data", "combined", "event", "index", "key", "market", "raw", "stream", "symbol", "topic", "ts_ns")

    def __init__(self, index: int, ts_ns: int, market: str, stream: str, *, combined: str, raw: str) -> None:
        self.index = index
        self.ts_ns = ts_ns
        self.market = market
        self.stream = stream
        name, _, rest = stream.partition("@")
        self.symbol = name.upper()
        self.event = rest.partition("@")[0]
        self.key = symbol_key(market, self.symbol)
        """The symbol as :func:`symbol_key` names it."""
        self.topic = f"{self.symbol}@{self.event}".lower()
        """``btcusdt@depth`` for every depth rate; otherwise the stream name; lower case (as subscriptions match)."""
        self.combined = combined
        self.raw = raw
        self._data: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, stream={self.stream!r}, ts_ns={self.ts_ns})"

    def moved(self, index: int, ts_ns: int, data: dict[str, Any]) -> Frame:
        """A copy of this frame numbered ``index``, received at ``ts_ns``, carrying ``data`` (re-encoded)."""
        raw = msgspec.json.encode(data).decode()
        copy = Frame.__new__(Frame)
        copy.index, copy.ts_ns, copy.market, copy.stream = index, ts_ns, self.market, self.stream
        copy.symbol, copy.event, copy.raw, copy._data = self.symbol, self.event, raw, data
        copy.key, copy.topic = self.key, self.topic
        copy.combined = f'{_STREAM_KEY}{self.stream}",{_DATA_KEY}{raw}}}'
        return copy

    @property
    def data(self) -> dict[str, Any]:
        """The decoded ``data`` object of the frame."""
        if self._data is None:
            self._data = msgspec.json.decode(self.raw)
        return self._data


@dataclass(slots=True)
class Capture:
    """Every frame of a set of capture files, in recorded order, and the REST snapshot per symbol key."""

    frames: list[Frame] = field(default_factory=list)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def trades(self, key: str) -> list[Frame]:
        """The ``trade`` frames of the symbol named ``key`` (see :func:`symbol_key`), in recorded order."""
        return [f for f in self.frames if f.key == key and f.event == "trade"]

    def depth(self, key: str) -> list[Frame]:
        """The depth-update frames of the symbol named ``key``, in recorded order."""
        return [f for f in self.frames if f.key == key and f.event == "depth"]


def load_captures(data_dir: Path, files: tuple[str | Path, ...], max_messages: int | None = None) -> Capture:
    """Read ``files`` (relative to ``data_dir`` unless absolute) into one :class:`Capture`.

    ``max_messages`` keeps only the first N WebSocket frames (and the snapshots among them:
    the BTCUSDT capture's snapshot is its 8th line). Loads are cached per process: a
    :class:`Capture` is never changed after loading.
    """
    paths = tuple(Path(name) if Path(name).is_absolute() else data_dir / name for name in files)
    for path in paths:
        if not path.is_file():
            raise UsageError(f"capture file {path} does not exist")
    return _load(paths, max_messages)


@functools.lru_cache(maxsize=4)
def _load(paths: tuple[Path, ...], max_messages: int | None) -> Capture:
    capture = Capture()
    for path in paths:
        room = None if max_messages is None else max_messages - len(capture.frames)
        _add_file(capture, _read_file(path, room))
    return capture


class _Line(NamedTuple):
    """One parsed line: a frame (``snapshot`` None) or a depth snapshot, and its symbol key if the line names it."""

    ts_ns: int
    body: str
    snapshot: dict[str, Any] | None = None
    key: str | None = None


def _read_file(path: Path, room: int | None) -> list[_Line]:
    """Parse ``path``'s lines: WebSocket frames stay text (decoded later if needed), snapshots are decoded."""
    if path.suffix != ".gz":
        return _read_cryptofeed(path, room)
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode()
    lines: list[_Line] = []
    frames = 0
    for number, line in enumerate(text.splitlines(), 1):
        if room is not None and frames >= room:
            break
        stamp, _, body = line.partition(" ")
        if not stamp.isdigit() or not body.startswith("{"):
            raise UsageError(f"{path}:{number}: not a '<ns> <json>' capture line")
        framed = body.startswith(_STREAM_KEY)
        lines.append(_Line(int(stamp), body, None if framed else _snapshot(path, number, body)))
        frames += framed
    return lines


def _read_cryptofeed(path: Path, room: int | None) -> list[_Line]:
    """cryptofeed's recordings: ``<epoch s>: <frame>`` WebSocket lines, ``<url> -> <epoch s>: <body>`` REST lines.

    REST lines other than depth snapshots (exchange infos) and the header and configuration lines are skipped.
    """
    lines: list[_Line] = []
    frames = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if room is not None and frames >= room:
            break
        if not line.strip() or line.startswith(("wss://", "configuration:")):
            continue
        url, arrow, rest = line.partition(" -> ") if line.startswith("http") else ("", "", line)
        stamp, colon, body = rest.partition(": ")
        try:
            ts_ns = round(float(stamp) * 1e9)
        except ValueError:
            ts_ns, colon = 0, ""
        if not colon or not body.startswith("{"):
            raise UsageError(f"{path}:{number}: not a cryptofeed '<epoch>: <message>' line")
        if not arrow:
            lines.append(_Line(ts_ns, body))
            frames += 1
        elif "/depth?" in url:
            lines.append(_Line(ts_ns, body, _snapshot(path, number, body), _url_key(url)))
    return lines


def _url_key(url: str) -> str:
    """``https://fapi.binance.com/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000`` -> ``linear:SUSHIUSDT``."""
    query = dict(part.split("=", 1) for part in urlsplit(url).query.split("&") if "=" in part)
    return symbol_key("linear" if "/fapi/" in url else "spot", query.get("symbol", ""))


def _snapshot(path: Path, number: int, body: str) -> dict[str, Any]:
    try:
        message = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path}:{number}: not JSON ({exc})") from None
    if not isinstance(message, dict) or "lastUpdateId" not in message:
        raise UsageError(f"{path}:{number}: neither a combined-stream frame nor a depth snapshot")
    return message


def _add_file(capture: Capture, lines: list[_Line]) -> None:
    """Append one file's frames; the file is futures if its depth updates carry ``pu``."""
    futures = any(line.snapshot is None and '"pu":' in line.body for line in lines)
    market = "linear" if futures else "spot"
    for line in lines:
        if line.snapshot is None:
            capture.frames.append(_frame(len(capture.frames), line.ts_ns, market, line.body))
        else:
            capture.snapshots.setdefault(line.key or _snapshot_key(capture, market), line.snapshot)


def _frame(index: int, ts_ns: int, market: str, body: str) -> Frame:
    stream = body[len(_STREAM_KEY) : body.index('"', len(_STREAM_KEY))]
    start = body.find(_DATA_KEY)
    if start < 0 or not body.endswith("}"):
        raise UsageError(f"capture frame {index} of stream {stream!r} has no trailing data object")
    return Frame(index, ts_ns, market, stream, combined=body, raw=body[start + len(_DATA_KEY) : -1])


def _snapshot_key(capture: Capture, market: str) -> str:
    """A snapshot line carries no symbol: it belongs to the symbol of the depth frames before it."""
    symbols = {frame.symbol for frame in capture.frames[-50:] if frame.event == "depth" and frame.market == market}
    if len(symbols) != 1:
        raise UsageError("a depth snapshot line must follow depth frames of exactly one symbol")
    return symbol_key(market, symbols.pop())


def rest_trade(event: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket ``trade`` event in the shape of a ``/api/v3/trades`` row."""
    quote = Decimal(event["p"]) * Decimal(event["q"])
    return {
        "id": event["t"],
        "price": event["p"],
        "qty": event["q"],
        "quoteQty": f"{quote.normalize():f}",
        "time": event["T"],
        "isBuyerMaker": event["m"],
        "isBestMatch": event.get("M", True),
    }


def agg_trade(row: dict[str, Any]) -> dict[str, Any]:
    """A ``/api/v3/trades`` row as a ``/api/v3/aggTrades`` row of one trade (``a == f == l == id``)."""
    return {
        "a": row["id"],
        "p": row["price"],
        "q": row["qty"],
        "f": row["id"],
        "l": row["id"],
        "T": row["time"],
        "m": row["isBuyerMaker"],
        "M": row["isBestMatch"],
    }
