"""The result of one backtest run: its ledger frames, its metrics, and the files they can be saved to."""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from virtuoso.backtest._frames import Frames, ledger_frames
from virtuoso.backtest._metrics import Metric, compute_metrics
from virtuoso.errors import UsageError
from virtuoso.events import Event

FRAME_NAMES = ("orders", "fills", "equity", "positions")
"""The frames of a result, each saved as ``<name>.parquet``."""


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A backtest run's ledger (DataFrames of :func:`ledger_frames`) and its metrics.

    ``run`` is the run's session id and ``digest`` the digest of what it wrote;
    ``events_in`` counts the input events it replayed; ``config`` is the run
    manifest's config; ``cached`` says the run was found already done, not run.
    """

    run: str
    digest: str
    events_in: int
    metrics: dict[str, Metric]
    orders: pd.DataFrame
    fills: pd.DataFrame
    equity: pd.DataFrame
    positions: pd.DataFrame
    initial_cash: float
    config: dict[str, Any]
    cached: bool = False

    @classmethod
    def from_events(
        cls,
        events: Iterable[Event],
        *,
        run: str,
        digest: str,
        events_in: int,
        initial_cash: float,
        interval_ns: int,
        config: dict[str, Any],
        cached: bool = False,
    ) -> BacktestResult:
        """Build the frames of a run's events and compute their metrics (``interval_ns``: the equity mark period)."""
        frames = ledger_frames(events)
        metrics = compute_metrics(frames, initial_cash=initial_cash, interval_ns=interval_ns)
        return cls(
            run, digest, events_in, metrics, frames.orders, frames.fills, frames.equity, frames.positions,
            initial_cash, dict(config), cached,
        )  # fmt: skip

    @property
    def frames(self) -> Frames:
        """The four ledger frames together."""
        return Frames(self.orders, self.fills, self.positions, self.equity)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: run, digest, events_in, cached and the metrics (None where undefined)."""
        return {
            "run": self.run,
            "digest": self.digest,
            "events_in": int(self.events_in),
            "cached": bool(self.cached),
            "metrics": {key: _plain(value) for key, value in self.metrics.items()},
        }

    def to_parquet(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write ``orders``, ``fills``, ``equity`` and ``positions`` as Parquet and ``metrics.json`` into ``directory``.

        The directory is created when missing. Each file is written under a
        temporary name and then renamed, so a file is never seen half-written.
        Returns the paths written; :class:`UsageError` names a path it cannot write.
        """
        folder = make_directory(directory)
        paths = [write_atomic(folder / f"{name}.parquet", getattr(self, name).to_parquet) for name in FRAME_NAMES]
        document = {**self.summary(), "initial_cash": self.initial_cash, "config": self.config}
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        paths.append(write_atomic(folder / "metrics.json", lambda f: f.write(text.encode())))
        return paths

    def report(self, directory: str | os.PathLike[str]) -> Path:
        """Draw ``chart.png`` and write ``report.html`` into ``directory``; the HTML file's path."""
        from virtuoso.backtest._report import write_report  # noqa: PLC0415 - matplotlib loads only for a report

        return write_report(self, directory)


def _plain(value: Metric) -> float | int | None:
    """A metric as a JSON value: ints stay ints, numpy scalars become Python ones, NaN/inf become None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def make_directory(directory: str | os.PathLike[str]) -> Path:
    """``directory`` as a Path, created with its parents when missing."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the results directory {folder}: {e.strerror or e}") from e
    return folder


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` with a binary file at a temporary name beside ``path``, then rename it to ``path``."""
    temporary = path.with_name(f".{path.name}.partial")
    try:
        try:
            with temporary.open("wb") as file:
                write(file)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)  # gone after the rename; a failed write leaves nothing behind
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from e
    return path
