"""The recorder's configuration: a TOML file, flags that override it, one frozen :class:`RecordConfig`.

The file has four tables::

    [exchange]
    id = "binance"                      # a ccxt exchange id

    [ccxt]                              # passed verbatim to the ccxt constructor
    timeout = 10000
    # apiKey = "..."  (secrets never reach the log)

    [record]
    symbols = ["BTC/USDT"]
    channels = ["trades", "book", "ohlcv:1m", "ticker"]
    mode = "ws"                         # or "rest"
    markets_ttl_s = 3600                # how often the markets are asked again
    commit_delay_s = 0.1                # received events reach the writer within this (a kill loses ~this)
    stall_timeout_s = 30                # a watch silent this long, on a silent connection, is a fault

    [resilience]
    failure_threshold = 5

Any wrong value is a :class:`~virtuoso.errors.ConfigError` naming the file,
table and key: ``record.toml: [record] channels: unknown channel 'bookz'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from virtuoso._toml import load_toml
from virtuoso.errors import ConfigError
from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.exchange._rotate import rotation_period_ns
from virtuoso.exchange._secrets import Secrets
from virtuoso.store import config_hash

Mode = Literal["ws", "rest"]
CHANNEL_KINDS = ("trades", "book", "ohlcv", "ticker")


@dataclass(frozen=True, slots=True)
class Channel:
    """One market-data channel: ``trades``, ``book``, ``ticker`` or ``ohlcv`` of a ccxt timeframe."""

    kind: str
    timeframe: str | None = None

    @classmethod
    def parse(cls, text: str) -> Channel:
        """``"trades"``, ``"book"``, ``"ticker"`` or ``"ohlcv:1m"``; ``ValueError`` on anything else."""
        kind, _, timeframe = text.strip().partition(":")
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel {text!r} (known: trades, book, ohlcv:<timeframe>, ticker)")
        if (kind == "ohlcv") != bool(timeframe):
            raise ValueError(f"channel {text!r}: only ohlcv takes a timeframe, and it needs one (ohlcv:1m)")
        return cls(kind, timeframe or None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.timeframe}" if self.timeframe else self.kind


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    """The ``[resilience]`` table: retry and circuit-breaker settings of every exchange call."""

    max_attempts: int = 5
    max_elapsed_s: float = 30.0
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    rate_limit_delay_s: float = 5.0
    failure_threshold: int = 5
    window_s: float = 60.0
    open_s: float = 30.0
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """Everything ``virtuoso record`` needs; frozen and hashable, with a content hash for the manifest."""

    exchange: str
    symbols: tuple[str, ...]
    channels: tuple[Channel, ...] = (Channel("trades"),)
    mode: Mode = "ws"
    ccxt: Mapping[str, Any] = field(default_factory=dict, hash=False)
    session_name: str | None = None
    book_limit: int | None = None
    book_snapshot_every_s: float = 60.0
    poll_interval_s: float = 1.0
    trades_limit: int = 1000
    trades_cursor: str | None = "fromId"
    status_interval_s: float = 1.0
    health_interval_s: float = 10.0
    markets_ttl_s: float = 3600.0
    markets_cache: str | None = None
    commit_delay_s: float = 0.1
    max_unsaved_events: int = 200_000
    secret_keys: tuple[str, ...] = ()
    stall_timeout_s: float = 30.0
    max_time_ahead_s: float = 300.0
    max_time_behind_s: float = 0.0
    restart_base_s: float = 1.0
    restart_max_s: float = 60.0
    rejected_note_interval_s: float = 60.0
    rotate: str = "1d"
    resilience: ResilienceSettings = ResilienceSettings()

    def as_dict(self) -> dict[str, Any]:
        """The config as plain data (channels as text); secrets still in it: redact before storing."""
        data = asdict(self)
        data["channels"] = [str(c) for c in self.channels]
        data["symbols"] = list(self.symbols)
        data["secret_keys"] = list(self.secret_keys)
        data["ccxt"] = dict(self.ccxt)
        return data

    @property
    def hash(self) -> str:
        """sha256 of the config with secrets redacted (what the session manifest stores)."""
        return config_hash(Secrets.of(self).redact(self.as_dict()))


def _check(ok: bool, problem: str) -> None:
    if not ok:
        raise ValueError(problem)


def _str(value: Any) -> str:
    _check(isinstance(value, str) and bool(value.strip()), f"expected a non-empty string, got {value!r}")
    return str(value).strip()


def _opt_str(value: Any) -> str | None:
    return None if value in ("", None) else _str(value)


def _positive(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        _check(
            numeric and value > 0 and (kind is float or isinstance(value, int)),
            f"expected a positive {kind.__name__}, got {value!r}",
        )
        return kind(value)

    return convert


def _non_negative_float(value: Any) -> float:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    _check(numeric and value >= 0, f"expected a number >= 0, got {value!r}")
    return float(value)


def _str_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    _check(isinstance(items, list | tuple) and bool(items), f"expected a non-empty list of strings, got {value!r}")
    return tuple(_str(item) for item in items)


def _channels(value: Any) -> tuple[Channel, ...]:
    return tuple(dict.fromkeys(Channel.parse(text) for text in _str_list(value)))


def _mode(value: Any) -> str:
    _check(value in ("ws", "rest"), f"expected 'ws' or 'rest', got {value!r}")
    return str(value)


def _int(value: Any) -> int:
    _check(isinstance(value, int) and not isinstance(value, bool), f"expected an integer, got {value!r}")
    return int(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else _positive(int)(value)


def _rotate(value: Any) -> str:
    _check(isinstance(value, str), f"expected 'off' or a period such as '1d', got {value!r}")
    rotation_period_ns(value)
    return str(value)


_RECORD_KEYS: dict[str, Callable[[Any], Any]] = {
    "symbols": _str_list,
    "channels": _channels,
    "mode": _mode,
    "session_name": _opt_str,
    "book_limit": _opt_int,
    "book_snapshot_every_s": _non_negative_float,
    "poll_interval_s": _positive(float),
    "trades_limit": _positive(int),
    "trades_cursor": _opt_str,
    "status_interval_s": _positive(float),
    "health_interval_s": _positive(float),
    "markets_ttl_s": _positive(float),
    "markets_cache": _opt_str,
    "commit_delay_s": _positive(float),
    "max_unsaved_events": _positive(int),
    "secret_keys": lambda v: () if v == [] else _str_list(v),
    "stall_timeout_s": _non_negative_float,
    "max_time_ahead_s": _non_negative_float,
    "max_time_behind_s": _non_negative_float,
    "restart_base_s": _positive(float),
    "restart_max_s": _positive(float),
    "rejected_note_interval_s": _non_negative_float,
    "rotate": _rotate,
}

_RESILIENCE_KEYS: dict[str, Callable[[Any], Any]] = {
    "max_attempts": _positive(int),
    "max_elapsed_s": _positive(float),
    "base_delay_s": _non_negative_float,
    "max_delay_s": _non_negative_float,
    "rate_limit_delay_s": _non_negative_float,
    "failure_threshold": _positive(int),
    "window_s": _positive(float),
    "open_s": _positive(float),
    "seed": _int,
}

TABLES = ("exchange", "ccxt", "record", "resilience")


class _Reader:
    """Converts one table's values, turning every problem into a ConfigError naming ``[table] key``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {problem}")

    def table(self, raw: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{name}]", f"expected a table, got {value!r}")
        return value

    def convert(
        self, table: str, values: Mapping[str, Any], keys: Mapping[str, Callable[[Any], Any]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in keys:
                raise self.fail(f"[{table}] {key}", f"unknown key (known: {', '.join(keys)})")
            try:
                out[key] = keys[key](value)
            except ValueError as exc:
                raise self.fail(f"[{table}] {key}", str(exc)) from None
        return out


def load_record_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> RecordConfig:
    """Read ``path`` (TOML; ``None``: flags only) and apply ``overrides`` (flag name -> value, ``None`` = unset).

    Overrides use the ``[record]`` key names, plus ``exchange`` for ``[exchange] id``.

    >>> flags = {"exchange": "binance", "symbols": "BTC/USDT,ETH/USDT", "channels": "trades,ohlcv:1m"}
    >>> cfg = load_record_config(None, flags)
    >>> cfg.symbols, [str(c) for c in cfg.channels], cfg.mode
    (('BTC/USDT', 'ETH/USDT'), ['trades', 'ohlcv:1m'], 'ws')
    """
    raw = load_toml(path, "config") if path is not None else {}
    return config_from_mapping(raw, overrides or {}, source=path.name if path is not None else "flags")


def config_from_mapping(raw: Mapping[str, Any], overrides: Mapping[str, Any], *, source: str) -> RecordConfig:
    """A :class:`RecordConfig` from parsed TOML ``raw`` and flag ``overrides`` (see :func:`load_record_config`).

    An error's message never holds a secret value of the ``[ccxt]`` table.
    """
    try:
        return _config(raw, overrides, source)
    except ConfigError as exc:
        raise ConfigError(_secrets_of_raw(raw).scrub(str(exc))) from None


def _secrets_of_raw(raw: Mapping[str, Any]) -> Secrets:
    ccxt, record = raw.get("ccxt"), raw.get("record")
    marked = record.get("secret_keys") if isinstance(record, Mapping) else None
    marked_keys = [str(k) for k in marked] if isinstance(marked, list) else []
    return Secrets.from_config(ccxt if isinstance(ccxt, Mapping) else {}, marked_keys)


def _config(raw: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> RecordConfig:
    reader = _Reader(source)
    for name in raw:
        if name not in TABLES:
            raise reader.fail(f"[{name}]", f"unknown table (known: {', '.join(TABLES)})")
    exchange = _exchange_id(reader, raw, overrides.get("exchange"))
    record = reader.convert("record", reader.table(raw, "record"), _RECORD_KEYS)
    record.update(_flags(overrides))
    if "symbols" not in record:
        raise reader.fail("[record] symbols", "missing (or give --symbols)")
    resilience = reader.convert("resilience", reader.table(raw, "resilience"), _RESILIENCE_KEYS)
    ccxt = reader.table(raw, "ccxt")
    return RecordConfig(exchange=exchange, ccxt=ccxt, resilience=ResilienceSettings(**resilience), **record)


def _flags(overrides: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "exchange" or value is None:
            continue
        try:
            out[key] = _RECORD_KEYS[key](value)
        except (KeyError, ValueError) as exc:
            problem = "unknown option" if isinstance(exc, KeyError) else str(exc)
            raise ConfigError(f"--{key.replace('_', '-')}: {problem}") from None
    return out


def _exchange_id(reader: _Reader, raw: Mapping[str, Any], override: str | None) -> str:
    table = reader.table(raw, "exchange")
    for key in table:
        if key != "id":
            raise reader.fail(f"[exchange] {key}", "unknown key (known: id)")
    value = override if override is not None else table.get("id")
    if value is None:
        raise reader.fail("[exchange] id", "missing (or give --exchange)")
    try:
        exchange = _str(value)
    except ValueError as exc:
        raise reader.fail("[exchange] id", str(exc)) from None
    return _known_exchange(reader, exchange)


def _known_exchange(reader: _Reader, exchange: str) -> str:
    if exchange not in ccxt_module().exchanges:
        raise reader.fail("[exchange] id", f"unknown ccxt exchange {exchange!r}")
    return exchange


def channels_text(channels: Sequence[Channel]) -> list[str]:
    """Channels as the text the config and flags use."""
    return [str(c) for c in channels]
