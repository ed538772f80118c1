"""Sessions shipped to workers as Parquet, for clusters whose workers cannot reach the log's file.

The sweep's process exports each input session once (:func:`export_session`:
its events as rows, payloads as their stored JSON, the session's header in the
file's metadata); Dask sends the bytes to every worker; a worker rebuilds a
private SQLite log of that one session in its temporary directory
(:func:`local_log`, once per session and worker process) and runs its tasks
against it, read-only, like any other.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import io
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from virtuoso.events import REGISTRY, Event, encode_payload
from virtuoso.store import EventFilter, SessionInfo, lifecycle_stream, open_sqlite_store
from virtuoso.sweep._tasks import Task, TaskOutcome, run_task

_HEADER = b"virtuoso.session"
_SCHEMA = pa.schema([
    ("id", pa.string()), ("stream", pa.string()), ("ts_event", pa.int64()), ("ts_recv", pa.int64()),
    ("type", pa.string()), ("schema", pa.int32()), ("payload", pa.binary()), ("causation", pa.int64()),
])  # fmt: skip
_BATCH = 5_000
_COPIES: dict[str, Path] = {}
"""This worker process's rebuilt logs, by the sha256 of the Parquet bytes they came from."""


async def export_session(db: Path, session: str) -> bytes:
    """The events of ``session`` in the log at ``db`` (read-only) as Parquet bytes, lifecycle events aside."""
    store = await open_sqlite_store(db, readonly=True)
    try:
        info = await store.session(session)
        lifecycle = lifecycle_stream(info.id)
        columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
        async for chunk in store.read_chunks(EventFilter(session=info.id), chunk_size=_BATCH):
            for event in chunk:
                if event.stream != lifecycle:
                    _add(columns, event)
    finally:
        await store.close()
    table = pa.table(columns, schema=_SCHEMA).replace_schema_metadata({_HEADER: _header(info)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _add(columns: dict[str, list[Any]], event: Event) -> None:
    values = (event.id, event.stream, event.ts_event, event.ts_recv, event.type, event.schema,
              encode_payload(event.payload), event.causation)  # fmt: skip
    for name, value in zip(_SCHEMA.names, values, strict=True):
        columns[name].append(value)


def _header(info: SessionInfo) -> bytes:
    return json.dumps({
        "id": info.id, "name": info.name, "source": info.source, "symbols": list(info.symbols),
        "channels": list(info.channels), "config": info.manifest.get("config", {}), "started_ns": info.started_ns,
        "ended_ns": info.ended_ns, "end_reason": info.end_reason,
    }).encode()  # fmt: skip


def local_log(blob: bytes) -> Path:
    """The path of this process's log rebuilt from ``blob`` (built on first use, kept until the process exits)."""
    key = hashlib.sha256(blob).hexdigest()
    if key not in _COPIES:
        folder = Path(tempfile.mkdtemp(prefix="virtuoso-sweep-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "session.sqlite"
        asyncio.run(_rebuild(blob, path))
        _COPIES[key] = path
    return _COPIES[key]


async def _rebuild(blob: bytes, path: Path) -> None:
    table = pq.read_table(io.BytesIO(blob))
    header = json.loads((table.schema.metadata or {})[_HEADER])
    store = await open_sqlite_store(path)
    try:
        await store.begin_session(
            header["name"], header["source"], started_ns=header["started_ns"], symbols=header["symbols"],
            channels=header["channels"], config=header["config"], session_id=header["id"],
        )  # fmt: skip
        for batch in table.to_batches(_BATCH):
            await store.append([_event(header["id"], row) for row in batch.to_pylist()])
        if header["ended_ns"] is not None:
            await store.end_session(header["id"], ended_ns=header["ended_ns"], reason=header["end_reason"])
    finally:
        await store.close()


def _event(session: str, row: dict[str, Any]) -> Event:
    payload = REGISTRY.kind(row["type"], row["schema"]).decode(row["payload"])
    return Event(row["id"], row["stream"], row["ts_event"], row["ts_recv"], session, payload, row["causation"])


def run_shipped(task: Task, blob: bytes) -> TaskOutcome:
    """Run ``task`` against the session shipped in ``blob`` (rebuilt locally once per worker process)."""
    try:
        path = local_log(blob)
    except Exception as exc:
        return TaskOutcome.failure(task, f"cannot rebuild the shipped session: {type(exc).__name__}: {exc}")
    return run_task(replace(task, db=str(path)))
