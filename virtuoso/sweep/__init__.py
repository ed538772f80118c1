"""Parameter sweeps: a strategy's grid of configurations backtested across sessions, on a local process pool
or a Dask cluster, into a results table that a re-run resumes (see ``docs/sweep.md``)."""

from virtuoso.sweep._executors import DaskExecutor, Executor, LocalExecutor, SerialExecutor
from virtuoso.sweep._grid import Grid, load_grid
from virtuoso.sweep._heatmap import write_heatmap
from virtuoso.sweep._plan import SweepConfig, SweepPlan, parse_split, plan_sweep
from virtuoso.sweep._results import PARQUET_FILE, RESULTS_FILE, ResultsTable, outcomes_frame
from virtuoso.sweep._sweep import LOWER_IS_BETTER, Ranked, SweepReport, rank, run_sweep
from virtuoso.sweep._tasks import Task, TaskOutcome, run_task

__all__ = [
    "LOWER_IS_BETTER",
    "PARQUET_FILE",
    "RESULTS_FILE",
    "DaskExecutor",
    "Executor",
    "Grid",
    "LocalExecutor",
    "Ranked",
    "ResultsTable",
    "SerialExecutor",
    "SweepConfig",
    "SweepPlan",
    "SweepReport",
    "Task",
    "TaskOutcome",
    "load_grid",
    "outcomes_frame",
    "parse_split",
    "plan_sweep",
    "rank",
    "run_sweep",
    "run_task",
    "write_heatmap",
]
