"""Analyzers by name: ``"rsi,vwap,confluence"``, ``"default"``, ``"none"`` or a TOML ``[[analyzers]]`` list.

A spec resolves to ``(class, config)`` pairs; a ``bars`` analyzer for every
timeframe the bar indicators need (and no ``bars`` entry builds) is put first,
so that ``"rsi"`` alone works.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from virtuoso.analysis._bars import BarBuilder, BarsConfig
from virtuoso.analysis._protocol import Analyzer, AnalyzerConfig
from virtuoso.clock import Clock
from virtuoso.errors import UsageError

A = TypeVar("A", bound=type[Any])
ANALYZERS: dict[str, type[Any]] = {}
"""Registered analyzer classes by name (each has ``name``, ``consumes`` and ``config_type``)."""
DEFAULT = (
    "bars",
    "ema",
    "rsi",
    "macd",
    "bollinger",
    "atr",
    "realized-vol",
    "relative-volume",
    "cvd",
    "vwap",
    "confluence",
)
"""The analyzers of ``default``: every bar indicator on 1m bars, and the confluence score on 1m and 5m."""
Resolved = tuple[type[Any], AnalyzerConfig]


def register_analyzer(cls: A) -> A:
    """Class decorator: make ``cls`` buildable by its ``name``."""
    ANALYZERS[cls.name] = cls
    return cls


def _config_type(cls: type[Any]) -> type[AnalyzerConfig]:
    config_type: type[AnalyzerConfig] = cls.config_type
    return config_type


def config_for(name: str, values: Mapping[str, Any]) -> AnalyzerConfig:
    """The config of analyzer ``name`` from ``values``; a one-line :class:`UsageError` naming a bad key."""
    cls = _class(name)
    try:
        return _config_type(cls).from_mapping(dict(values))
    except msgspec.ValidationError as exc:
        raise UsageError(f"analyzer {name!r}: {exc}") from None


def _class(name: str) -> type[Any]:
    cls = ANALYZERS.get(name)
    if cls is None:
        raise UsageError(f"unknown analyzer {name!r} (known: {', '.join(sorted(ANALYZERS))}; or default, none)")
    return cls


def parse_spec(spec: str | Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, config values)`` for each analyzer of ``spec``: names, ``default``, ``none``, a TOML file
    path (``*.toml`` with an ``[[analyzers]]`` list) or such a list of tables (``name`` plus config keys)."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.endswith(".toml"):
            return parse_spec(_toml_list(Path(text)))
        if text in ("", "none"):
            return []
        names = DEFAULT if text == "default" else [n.strip() for n in text.split(",") if n.strip()]
        return [(name, {}) for name in names]
    return [_table(i, table) for i, table in enumerate(spec)]


def _table(index: int, table: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    values = dict(table)
    name = values.pop("name", None)
    if not isinstance(name, str):
        raise UsageError(f"analyzers[{index}]: 'name' (a string) is missing")
    return name, values


def _toml_list(path: Path) -> list[Mapping[str, Any]]:
    try:
        tables = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the analyzers list: {exc}") from None
    found = tables.get("analyzers")
    if not isinstance(found, list):
        raise UsageError(f"{path}: no [[analyzers]] list")
    return found


def resolve(spec: str | Sequence[Mapping[str, Any]]) -> list[Resolved]:
    """The ``(class, config)`` pairs of ``spec``, with the bars the others need: added to the first ``bars``
    analyzer's timeframes, or built by a ``bars`` analyzer put first.

    >>> [(cls.name, cfg.as_dict()) for cls, cfg in resolve("rsi")]
    [('bars', {'timeframes': ('1m',)}), ('rsi', {'timeframe': '1m', 'period': 14})]
    """
    entries = zip(_places(spec), parse_spec(spec), strict=False)  # _places is endless
    resolved = [_resolved(where, name, values) for where, (name, values) in entries]
    built = {tf for cls, cfg in resolved if cls is BarBuilder for tf in _timeframes(cfg)}
    needed: list[str] = []
    for _, cfg in resolved:
        needed.extend(tf for tf in _needs(cfg) if tf not in built and tf not in needed)
    if not needed:
        return resolved
    first = next((i for i, (cls, _) in enumerate(resolved) if cls is BarBuilder), None)
    if first is None:
        resolved.insert(0, (BarBuilder, BarsConfig(timeframes=tuple(needed))))
    else:
        resolved[first] = (BarBuilder, BarsConfig(timeframes=(*_timeframes(resolved[first][1]), *needed)))
    return resolved


def _places(spec: str | Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Where each entry of ``spec`` comes from, for error messages: ``FILE: analyzers[i]: `` for tables."""
    source = f"{spec.strip()}: " if isinstance(spec, str) and spec.strip().endswith(".toml") else ""
    tables = isinstance(spec, Sequence) and not isinstance(spec, str)
    for index in count():
        yield f"{source}analyzers[{index}]: " if source or tables else ""


def _resolved(where: str, name: str, values: dict[str, Any]) -> Resolved:
    try:
        return _class(name), config_for(name, values)
    except UsageError as exc:
        raise UsageError(f"{where}{exc}") from None


def _timeframes(config: AnalyzerConfig) -> tuple[str, ...]:
    return config.timeframes if isinstance(config, BarsConfig) else ()


def _needs(config: AnalyzerConfig) -> tuple[str, ...]:
    needs: Callable[[], tuple[str, ...]] | None = getattr(config, "bar_timeframes", None)
    return needs() if needs is not None else ()


def instantiate(cls: type[Any], config: AnalyzerConfig, clock: Clock | None = None) -> Analyzer:
    """An analyzer of ``cls`` with ``config`` (and ``clock`` when its constructor takes one)."""
    analyzer: Analyzer = cls(config, clock=clock) if "clock" in cls.__init__.__annotations__ else cls(config)
    return analyzer


def build_analyzers(spec: str | Sequence[Mapping[str, Any]], clock: Clock | None = None) -> list[Analyzer]:
    """Fresh analyzers for ``spec`` (see :func:`parse_spec`), in pipeline order.

    >>> [a.name for a in build_analyzers("rsi,confluence")]
    ['bars', 'rsi', 'confluence']
    >>> build_analyzers([{"name": "rsi", "period": 0}])
    Traceback (most recent call last):
    virtuoso.errors.UsageError: analyzers[0]: analyzer 'rsi': Expected `int` >= 1 - at `$.period`
    """
    return [instantiate(cls, config, clock) for cls, config in resolve(spec)]
