"""The result of one backtest run: its ledger frames, its metrics, and the files they can be saved to."""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from virtuoso.backtest._frames import Frames, ledger_frames
from virtuoso.backtest._metrics import Metric, annualization, compute_metrics
from virtuoso.backtest._tables import benchmark, drawdowns, period_returns
from virtuoso.backtest._trips import PricePath, round_trips
from virtuoso.errors import UsageError
from virtuoso.events import Event

if TYPE_CHECKING:
    from virtuoso.backtest._market import MarketData

FRAME_NAMES = ("orders", "fills", "equity", "positions", "round_trips", "drawdowns", "benchmark")
"""The frames of a result, each saved as ``<name>.parquet``."""


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A backtest run's ledger (DataFrames of :func:`ledger_frames`) and its metrics.

    ``run`` is the run's session id and ``digest`` the digest of what it wrote;
    ``events_in`` counts the input events it replayed; ``config`` is the run
    manifest's config; ``cached`` says the run was found already done, not run.
    ``prices`` (``ts_ns, symbol, price`` of the market's trades, as
    :func:`load_market_data` reads them) makes the round trips' MAE/MFE exact at
    trade resolution; without it they look at the equity marks' prices.
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
    prices: pd.DataFrame | None = None

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

    @cached_property
    def round_trips(self) -> pd.DataFrame:
        """The closed round trips, one row each, in the order they closed (see :func:`round_trips`)."""
        return round_trips(self.fills, PricePath(self.equity, self.prices))

    @cached_property
    def drawdowns(self) -> pd.DataFrame:
        """Every spell of equity below its running peak, deepest first (see :func:`drawdowns`)."""
        return drawdowns(self.equity)

    @cached_property
    def benchmark(self) -> pd.DataFrame:
        """Buy-and-hold of the same symbols over the same marks, beside the equity (see :func:`benchmark`)."""
        return benchmark(self.equity, self.initial_cash)

    def with_prices(self, prices: pd.DataFrame) -> BacktestResult:
        """This result with the market's trade prices (``ts_ns, symbol, price``) for the round trips' MAE/MFE."""
        return replace(self, prices=prices)

    def period_returns(self, freq: str | None = None) -> pd.DataFrame:
        """Returns per calendar period, the period adapted to the span (see :func:`period_returns`)."""
        return period_returns(self.equity, self.initial_cash, freq)

    @property
    def annualization(self) -> str:
        """``"ok"``, or ``"too short"`` when the run's span withholds the annualized metrics."""
        return annualization(self.metrics)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: run, digest, events_in, cached, annualization and the metrics (None where undefined)."""
        return {
            "run": self.run,
            "digest": self.digest,
            "events_in": int(self.events_in),
            "cached": bool(self.cached),
            "annualization": self.annualization,
            "metrics": {key: _plain(value) for key, value in self.metrics.items()},
        }

    def to_parquet(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write the frames of :data:`FRAME_NAMES` as Parquet and ``metrics.json`` into ``directory``.

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

    def report(self, directory: str | os.PathLike[str], market: MarketData | None = None) -> Path:
        """Write the interactive ``report.html`` and the static ``chart.png`` into ``directory``; the HTML's path.

        ``market`` holds the traded prices and the analyzers' series the page draws
        (:func:`load_market_data` reads them from the log); without it the prices are
        the equity marks'.
        """
        from virtuoso.backtest._report import write_report  # noqa: PLC0415 - plotly and matplotlib load only here

        return write_report(self, directory, market)


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


def compare_report(results: Sequence[BacktestResult], directory: str | os.PathLike[str]) -> Path:
    """Write ``compare.html`` into ``directory``: the runs' metrics side by side, their equity curves on one
    chart and the settings in which they differ; its path."""
    from virtuoso.backtest._report import write_comparison  # noqa: PLC0415 - plotly loads only for a report

    return write_comparison(results, directory)
