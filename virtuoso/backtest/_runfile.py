"""Backtest run files: a strategy, its parameters, analyzers and venue settings in one TOML file.

The files in ``replays/`` are examples; ``virtuoso backtest --config FILE`` reads
one, and its flags override what the file says::

    [backtest]
    strategy = "virtuoso.strategies:MovingAverageCross"
    seed = 0                     # optional
    order = "exchange-time"      # optional: or "position"
    analyzers = "bars"           # optional: what the strategy asks for by default

    [backtest.params]
    timeframe = "1m"

    [venue]                      # optional: VenueConfig's keys (see docs/backtest.md)
    taker_fee_bps = 10.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso._toml import load_toml
from virtuoso.errors import ConfigError

_KEYS = ("strategy", "params", "seed", "order", "analyzers")


@dataclass(frozen=True)
class RunFile:
    """What a run file says (``None``: not said, the flag or the default decides)."""

    path: Path
    strategy: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    order: str | None = None
    analyzers: str | list[dict[str, Any]] | None = None
    venue: dict[str, Any] | None = None


def load_run_file(path: Path) -> RunFile:
    """Read the run file ``path``; a one-line :class:`ConfigError` names the file and the key at fault.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "run.toml").write_text('[backtest]\\nstrategy = "m:C"\\n[backtest.params]\\nfast = 5\\n')
    >>> load_run_file(folder / "run.toml").params
    {'fast': 5}
    """
    raw = load_toml(path, "run")
    unknown = sorted(set(raw) - {"backtest", "venue"})
    if unknown:
        raise ConfigError(f"{path}: unknown table {unknown[0]!r} (known: backtest, venue)")
    table = _table(path, raw, "backtest")
    extra = sorted(set(table) - set(_KEYS))
    if extra:
        raise ConfigError(f"{path}: [backtest] has an unknown key {extra[0]!r} (known: {', '.join(_KEYS)})")
    return RunFile(
        path,
        strategy=_typed(path, table, "strategy", str),
        params=_table(path, table, "params", "[backtest.params]"),
        seed=_typed(path, table, "seed", int),
        order=_typed(path, table, "order", str),
        analyzers=_analyzers(path, table.get("analyzers")),
        venue=_table(path, raw, "venue") if "venue" in raw else None,
    )


def _table(path: Path, raw: dict[str, Any], key: str, name: str = "") -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name or f'[{key}]'} must be a table")
    return value


def _typed(path: Path, table: dict[str, Any], key: str, kind: type) -> Any:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ConfigError(f"{path}: [backtest] {key} must be a {kind.__name__}, not {value!r}")
    return value


def _analyzers(path: Path, value: Any) -> str | list[dict[str, Any]] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise ConfigError(f"{path}: [backtest] analyzers must be a string or a list of tables")
