"""Where a sweep's tasks run: in this process, in a local process pool, or on a Dask cluster.

Each executor takes tasks and yields their outcomes as they finish (in any
order: the results table sorts them). A task's own errors come back inside its
outcome (:func:`~virtuoso.sweep._tasks.run_task` catches them); an executor
only turns the loss of a worker into a retry, and a task that keeps killing
its workers into a failed outcome.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from virtuoso.errors import UsageError
from virtuoso.sweep._ship import export_session, run_shipped
from virtuoso.sweep._tasks import Task, TaskOutcome, run_task

MAX_ATTEMPTS = 3
"""How many times a local task is started before a worker's death while running it counts as its failure."""


class Executor(Protocol):
    """Runs sweep tasks; a context manager that releases its workers on exit."""

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        """The outcome of each task, as each finishes."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *_: object) -> None: ...


class SerialExecutor:
    """Every task in this process, one after another (``--workers 1``)."""

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        """Run each task in turn."""
        return (run_task(task) for task in tasks)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class LocalExecutor:
    """A pool of ``workers`` processes on this machine, started with ``spawn``.

    Not ``fork``: the parent may hold threads (aiosqlite's) and an event loop,
    which a forked child inherits in whatever state they were. A worker that
    dies (killed, out of memory) breaks the pool: the tasks it took down are
    started again in a new pool, up to :data:`MAX_ATTEMPTS` times each.
    """

    def __init__(self, workers: int, *, context: str = "spawn") -> None:
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, not {workers}")
        self.workers = workers
        self._context = multiprocessing.get_context(context)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> LocalExecutor:
        """Start the worker processes now (they start on the first task otherwise); wait until each is up."""
        pool = self._ensure()
        for future in [pool.submit(_ready) for _ in range(self.workers)]:
            future.result()
        return self

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context)
        return self._pool

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        """Run the tasks on the pool, restarting it when a worker dies."""
        attempts = dict.fromkeys(range(len(tasks)), 0)
        pending = list(range(len(tasks)))
        while pending:
            pool = self._ensure()
            futures = {pool.submit(run_task, tasks[i]): i for i in pending}
            pending = []
            for future in as_completed(futures):
                index = futures[future]
                outcome = self._outcome(future, tasks[index], attempts, index)
                if outcome is None:
                    pending.append(index)
                else:
                    yield outcome
            if pending:
                self._discard()

    def _outcome(
        self, future: Future[TaskOutcome], task: Task, attempts: dict[int, int], index: int
    ) -> TaskOutcome | None:
        try:
            return future.result()
        except BrokenProcessPool:
            attempts[index] += 1
            if attempts[index] >= MAX_ATTEMPTS:
                return TaskOutcome.failure(task, f"worker process died {MAX_ATTEMPTS} times while running it")
            return None

    def _discard(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes."""
        self._discard()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _ready() -> bool:
    return True


class DaskExecutor:
    """Tasks on a ``dask.distributed`` cluster: the scheduler at ``address``, or an existing ``client``.

    Dask reschedules the tasks of a worker that dies; a task that took down
    too many workers (Dask's ``KilledWorker``) comes back as a failed outcome.
    Workers need Virtuoso installed, and the log at :attr:`Task.db`, unless
    ``ship``: then this process exports each session to Parquet (reading
    :attr:`Task.db` here) and Dask sends it to every worker, which rebuilds it
    locally once.
    """

    def __init__(
        self, address: str | None = None, *, client: Any = None, ship: bool = False, timeout_s: float = 30.0
    ) -> None:
        distributed = _distributed()
        self.ship = ship
        self._own = client is None
        try:
            self.client = client if client is not None else distributed.Client(address, timeout=timeout_s)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self._as_completed = distributed.as_completed

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        """Submit every task; yield outcomes as they complete."""
        shipped = self._ship(tasks) if self.ship else {}
        futures = {self._submit(task, shipped): task for task in tasks}
        for future in self._as_completed(list(futures)):
            task = futures.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # the cluster's failure (KilledWorker, lost connection), not the task's
                yield TaskOutcome.failure(task, f"{type(exc).__name__}: {exc}")
            finally:
                future.release()

    def _ship(self, tasks: Sequence[Task]) -> dict[str, Any]:
        """Each session's Parquet export, scattered to every worker (futures, by session id)."""
        sessions = {task.session: Path(task.db) for task in tasks}
        return {
            session: self.client.scatter(asyncio.run(export_session(db, session)), broadcast=True, hash=False)
            for session, db in sessions.items()
        }

    def _submit(self, task: Task, shipped: dict[str, Any]) -> Any:
        if task.session in shipped:
            return self.client.submit(run_shipped, task, shipped[task.session], pure=False)
        return self.client.submit(run_task, task, pure=False)

    def close(self) -> None:
        """Disconnect (a client passed in is left open for its owner)."""
        if self._own:
            self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415  # optional: only the dask executor needs it
    except ImportError:
        raise UsageError("the dask executor needs dask.distributed: pip install 'virtuoso[sweep-dask]'") from None
    return distributed
