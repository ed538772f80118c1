"""The results table of a sweep: one row per task, in a SQLite file of its own, and its Parquet copy.

``OUT/results.sqlite`` holds the sweep's identity (what every task shares: the
strategy and its source, venue, seed, analyzers, order, split) and one row per
finished task keyed by (session, part, config hash). Only the sweep's process
writes it (workers return outcomes; they never touch it), and each outcome is
committed as it arrives: an interrupted sweep loses at most the tasks in
flight, and a re-run skips every key already there. ``OUT/results.parquet`` is
the table sorted by key, written atomically at the end of each run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from virtuoso.backtest import METRIC_KEYS
from virtuoso.errors import UsageError
from virtuoso.sweep._tasks import TaskOutcome

RESULTS_FILE = "results.sqlite"
PARQUET_FILE = "results.parquet"
KEY_COLUMNS = ("session", "part", "config_hash")
_INT_METRICS = ("trades", "fills", "orders")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweep (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    session TEXT NOT NULL, part TEXT NOT NULL, config_hash TEXT NOT NULL, params TEXT NOT NULL,
    start_ns INTEGER, end_ns INTEGER, status TEXT NOT NULL, error TEXT NOT NULL, digest TEXT NOT NULL,
    events_in INTEGER NOT NULL, metrics TEXT NOT NULL,
    PRIMARY KEY (session, part, config_hash)
) WITHOUT ROWID;
"""


class ResultsTable:
    """The results file of the sweep in ``directory`` (created if needed), for one sweep identity."""

    def __init__(self, directory: Path, identity: dict[str, Any]) -> None:
        self.directory = directory
        self.path = directory / RESULTS_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"{self.path}: cannot hold sweep results: {exc}") from None
        self._claim(identity)

    def _claim(self, identity: dict[str, Any]) -> None:
        text = json.dumps(identity, sort_keys=True)
        row = self._db.execute("SELECT value FROM sweep WHERE name = 'identity'").fetchone()
        if row is None:
            with self._db:
                self._db.execute("INSERT INTO sweep VALUES ('identity', ?)", (text,))
        elif row[0] != text:
            differs = _first_difference(json.loads(row[0]), identity)
            raise UsageError(f"{self.directory}: holds another sweep's results ({differs} differs): use another --out")

    def done(self, *, failed: bool = True) -> set[tuple[str, str, str]]:
        """Keys of the tasks with a result (with ``failed``, those that failed count as done too)."""
        query = "SELECT session, part, config_hash FROM results" + ("" if failed else " WHERE status = 'ok'")
        return {tuple(row) for row in self._db.execute(query)}

    def record(self, outcome: TaskOutcome) -> None:
        """Store ``outcome`` (replacing an earlier one of the same key) and commit."""
        row = (
            *outcome.key, json.dumps(outcome.params, sort_keys=True), outcome.start_ns, outcome.end_ns,
            outcome.status, outcome.error, outcome.digest, outcome.events_in, json.dumps(outcome.metrics),
        )  # fmt: skip
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def outcomes(self) -> list[TaskOutcome]:
        """Every stored outcome, sorted by key."""
        query = "SELECT * FROM results ORDER BY session, part, config_hash"
        return [_outcome(row) for row in self._db.execute(query)]

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame sorted by key (see :func:`outcomes_frame`)."""
        return outcomes_frame(self.outcomes())

    def write_parquet(self) -> Path:
        """Write ``results.parquet`` (under a temporary name, then renamed); its path."""
        target = self.directory / PARQUET_FILE
        partial = target.with_name(f".{target.name}.partial")
        self.frame().to_parquet(partial, index=False)
        partial.replace(target)
        return target

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def _outcome(row: tuple[Any, ...]) -> TaskOutcome:
    session, part, config_hash, params, start_ns, end_ns, status, error, digest, events_in, metrics = row
    return TaskOutcome(
        session, part, config_hash, json.loads(params), start_ns, end_ns, status, error, digest, events_in,
        json.loads(metrics),
    )  # fmt: skip


def outcomes_frame(outcomes: Iterable[TaskOutcome]) -> pd.DataFrame:
    """One row per outcome: the key, ``param:<name>`` columns, the time range, status, error, digest,
    ``events_in``, then every metric of :data:`~virtuoso.backtest.METRIC_KEYS` (null when undefined or failed)."""
    rows = [_row(outcome) for outcome in outcomes]
    params = sorted({name for row in rows for name in row["params"]})
    columns = [*KEY_COLUMNS, *(f"param:{p}" for p in params), "start_ns", "end_ns", "status", "error", "digest"]
    columns += ["events_in", *METRIC_KEYS]
    records = [{**row, **{f"param:{p}": row["params"].get(p) for p in params}} for row in rows]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for name in ("start_ns", "end_ns", *_INT_METRICS):
        frame[name] = frame[name].astype("Int64")
    for name in METRIC_KEYS:
        if name not in _INT_METRICS:
            frame[name] = frame[name].astype("float64")
    return frame.sort_values(list(KEY_COLUMNS), ignore_index=True)


def _row(outcome: TaskOutcome) -> dict[str, Any]:
    return {
        "session": outcome.session, "part": outcome.part, "config_hash": outcome.config_hash,
        "params": outcome.params, "start_ns": outcome.start_ns, "end_ns": outcome.end_ns, "status": outcome.status,
        "error": outcome.error, "digest": outcome.digest, "events_in": outcome.events_in,
        **{name: outcome.metrics.get(name) for name in METRIC_KEYS},
    }  # fmt: skip


def _first_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    for name in sorted((set(old) | set(new)) - {"hash"}):
        if old.get(name) != new.get(name):
            return name
    return "nothing"
