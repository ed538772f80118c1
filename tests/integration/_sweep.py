"""What the sweep tests share: a demo log, a small grid, and strategies that fail or kill their worker."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pandas as pd

from virtuoso.demo import build_demo_log
from virtuoso.sweep import Executor, SerialExecutor, SweepConfig, SweepReport, load_grid, run_sweep
from virtuoso.synthetic import MarketConfig

MA_CROSS = "virtuoso.strategies:MovingAverageCross"
GRID = """
[sweep]
constraints = ["fast < slow"]

[grid]
timeframe = "1s"
amount = 0.1
fast = [2, 4]
slow = {from = 4, to = 8, step = 2}
"""
STRATEGIES = """
import os
from virtuoso.strategies import MovingAverageCross
from virtuoso.strategies._ma_cross import MovingAverageCrossConfig


class FailsConfig(MovingAverageCrossConfig, frozen=True, kw_only=True):
    explode: bool = False


class Fails(MovingAverageCross):
    '''Raises on its 100th trade when ``explode``.'''

    Config = FailsConfig

    def on_trade(self, event, trade):
        self._seen = getattr(self, "_seen", 0) + 1
        if self.config.explode and self._seen == 100:
            raise ZeroDivisionError("no edge")


class DiesOnceConfig(MovingAverageCrossConfig, frozen=True, kw_only=True):
    marker: str = ""


class DiesOnce(MovingAverageCross):
    '''The first of all its runs to create ``marker`` kills its own process (a worker dying mid-task).'''

    Config = DiesOnceConfig

    def on_start(self):
        try:
            os.close(os.open(self.config.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(17)
"""


def demo_log(folder: Path, hours: float = 0.4) -> Path:
    """A demo log (one synthetic session, about 2,000 trades in 0.4 h) in ``folder``."""
    path = folder / "demo.sqlite"
    asyncio.run(build_demo_log(path, 7, MarketConfig(hours=hours)))
    return path


def grid_file(folder: Path, text: str = GRID) -> Path:
    """A grid file holding ``text``."""
    path = folder / "grid.toml"
    path.write_text(text)
    return path


def strategies_file(folder: Path) -> Path:
    """The test strategies (``Fails``, ``DiesOnce``) as a file to load by path."""
    path = folder / "test_strategies.py"
    path.write_text(STRATEGIES)
    return path


def sweep_config(db: Path, grid: Path, strategy: str = MA_CROSS, **options: object) -> SweepConfig:
    """A sweep of ``grid`` over every session of ``db``."""
    return SweepConfig(db, strategy, load_grid(grid), **options)  # type: ignore[arg-type]


def sweep(config: SweepConfig, out: Path, executor: Executor | None = None) -> tuple[SweepReport, pd.DataFrame]:
    """Run ``config`` into ``out`` (serially by default); its report and its Parquet table."""
    with executor or SerialExecutor() as chosen:
        report = run_sweep(config, chosen, out)
    return report, pd.read_parquet(report.files["parquet"])


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
