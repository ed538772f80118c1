"""A new event log without chosen sessions (``virtuoso sessions prune``): the log itself is append-only.

>>> import asyncio, tempfile
>>> from pathlib import Path
>>> from virtuoso.store import open_sqlite_store
>>> async def example(folder: Path) -> tuple[list[str], int]:
...     store = await open_sqlite_store(folder / "log.sqlite")
...     for name in ("keep", "drop"):
...         info = await store.begin_session(name, "example", started_ns=1)
...         await store.end_session(info.id, ended_ns=2)
...     dropped = await choose_dropped(store, [info.id], crashed=False)
...     await store.close()
...     report = await prune_log(folder / "log.sqlite", folder / "pruned.sqlite", dropped)
...     return [d.session.name for d in report.dropped], report.kept_sessions
>>> with tempfile.TemporaryDirectory() as folder:
...     asyncio.run(example(Path(folder)))
(['drop'], 1)
"""

from virtuoso.prune._prune import Dropped, PruneReport, choose_dropped, prune_log

__all__ = ["Dropped", "PruneReport", "choose_dropped", "prune_log"]
