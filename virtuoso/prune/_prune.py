"""Writing a new event log without chosen sessions, through the store's public API only.

The log is append-only, so nothing is ever removed from it: pruning copies every
kept event, in log order, into a NEW file, then checks the copy before it takes the
name asked for. Session rows are made the way every writer makes them
(``begin_session``, ``end_session``, ``resume_session``); because lifecycle event ids
derive from the stream, its version and the time, they come out identical to the
originals, and every other event is appended as it was (same id, payload and times;
its ``causation`` moved to the cause's new position).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from msgspec.structs import replace as replace_struct

from virtuoso.errors import UsageError, VirtuosoError
from virtuoso.events import Event, SessionEnded, SessionStarted
from virtuoso.store import EventStore, SessionInfo, VerifyReport, lifecycle_stream, open_sqlite_store

_BATCH = 5_000


@dataclass(frozen=True)
class Dropped:
    """A session left out of the new log, and why (``asked``, ``crashed`` or ``input dropped``)."""

    session: SessionInfo
    why: str


@dataclass(frozen=True)
class PruneReport:
    """What :func:`prune_log` wrote: the new log, what it left out and kept, and the checks it passed."""

    source: Path
    out: Path
    dropped: tuple[Dropped, ...]
    kept_sessions: int
    kept_events: int
    verify: VerifyReport
    checked_events: int = field(default=0)

    def as_dict(self) -> dict[str, object]:
        """Plain values for ``--json``."""
        return {
            "source": str(self.source),
            "out": str(self.out),
            "dropped": [_dropped_dict(d) for d in self.dropped],
            "kept_sessions": self.kept_sessions,
            "kept_events": self.kept_events,
            "verified": self.verify.ok,
            "checked_events": self.checked_events,
        }


def _dropped_dict(item: Dropped) -> dict[str, object]:
    info = item.session
    return {"id": info.id, "name": info.name, "source": info.source, "status": info.status, "events": info.events,
            "why": item.why}  # fmt: skip


async def choose_dropped(store: EventStore, wanted: Sequence[str], *, crashed: bool) -> list[Dropped]:
    """The sessions to leave out: those named (ids or prefixes), every crashed or open one if ``crashed``,
    and every run whose input is left out (it would name a session the new log does not have)."""
    sessions = await store.sessions()
    dropped: dict[str, Dropped] = {}
    for text in wanted:
        info = await store.session(text)
        dropped.setdefault(info.id, Dropped(info, "asked"))
    if crashed:
        for info in sessions:
            if info.status != "closed":
                dropped.setdefault(info.id, Dropped(info, info.status))
    changed = True
    while changed:
        changed = False
        for info in sessions:
            if info.id not in dropped and set(_inputs(info)) & set(dropped):
                dropped[info.id] = Dropped(info, "input dropped")
                changed = True
    return [dropped[info.id] for info in sessions if info.id in dropped]


def _inputs(info: SessionInfo) -> list[str]:
    config = info.manifest.get("config")
    inputs = config.get("inputs") if isinstance(config, dict) else None
    sessions = inputs.get("sessions") if isinstance(inputs, dict) else None
    return [s for s in sessions if isinstance(s, str)] if isinstance(sessions, list) else []


async def prune_log(
    source: str | os.PathLike[str], out: str | os.PathLike[str], dropped: Iterable[Dropped]
) -> PruneReport:
    """Write the log at ``source`` without the ``dropped`` sessions to the new file ``out``, verified.

    ``out`` must not exist. The copy is written under a temporary name beside it and
    renamed only once :meth:`verify` is clean and every kept event was found in it
    with its payload; otherwise the temporary file is removed and the error raised.
    A kept session must be closed: the store's API cannot end a copy as crashed.
    """
    source_path, out_path = Path(source), Path(out)
    _check_out(out_path)
    left_out = tuple(dropped)
    if not left_out:
        raise UsageError("nothing to prune: name sessions to leave out, or ask for the crashed ones")
    partial = out_path.with_name(f".{out_path.name}.partial-{os.getpid()}")
    store = await open_sqlite_store(source_path, readonly=True)
    try:
        kept = [i for i in await store.sessions() if i.id not in {d.session.id for d in left_out}]
        _check_closed(kept)
        try:
            checked, verified = await _copy_and_check(store, partial, kept)
        except BaseException:
            _remove(partial)
            raise
    finally:
        await store.close()
    _check_out(out_path)
    partial.rename(out_path)
    return PruneReport(source_path, out_path, left_out, len(kept), checked, verified, checked)


def _check_out(out: Path) -> None:
    for path in (out, out.with_name(out.name + "-wal"), out.with_name(out.name + "-shm")):
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path} exists: prune writes a new log and never overwrites a file")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder")
    try:
        os.rmdir(tempfile.mkdtemp(dir=out.parent))  # tried: permission bits do not tell root, nor /proc
    except OSError as exc:
        raise UsageError(f"{out.parent}: the new log cannot be written there ({exc.strerror})") from None


def _check_closed(kept: list[SessionInfo]) -> None:
    for info in kept:
        if info.status != "closed":
            raise UsageError(
                f"session {info.id[:12]} ({info.source}: {info.name}) is {info.status}: a copy could not be marked "
                f"{info.status}; leave it out too (--session {info.id[:12]}, or --crashed for every such session)"
            )


async def _copy_and_check(store: EventStore, partial: Path, kept: list[SessionInfo]) -> tuple[int, VerifyReport]:
    """Copy into ``partial`` and check it; the number of events checked and the verify report."""
    target = await open_sqlite_store(partial)
    try:
        moved = await _copy(store, target, {info.id: info for info in kept})
        report = await target.verify()
        if not report.ok:
            raise VirtuosoError(f"{partial}: the new log does not verify ({report.problem}); nothing was written")
        checked = await _compare(store, target, {info.id for info in kept}, moved)
        await _compare_sessions(target, kept)
    finally:
        await target.close()
    return checked, report


async def _copy(store: EventStore, target: EventStore, kept: dict[str, SessionInfo]) -> dict[int, int]:
    """Copy the kept sessions' events in log order; old position -> new position of every event copied."""
    moved: dict[int, int] = {}
    batch: list[Event] = []
    async for event in store.read():
        if event.session not in kept:
            continue
        if event.stream == lifecycle_stream(event.session):
            await _flush(target, batch, moved)
            await _lifecycle(target, kept[event.session], event)
            moved[event.position] = await target.max_position()
            continue
        batch.append(event)
        if len(batch) >= _BATCH:
            await _flush(target, batch, moved)
    await _flush(target, batch, moved)
    return moved


async def _flush(target: EventStore, batch: list[Event], moved: dict[int, int]) -> None:
    if not batch:
        return
    base = await target.max_position()
    copies = [_moved_cause(event, moved) for event in batch]
    result = await target.append(copies)
    if result.duplicates:
        raise VirtuosoError(f"{result.duplicates} event id(s) appear twice in the log: cannot copy it faithfully")
    for offset, event in enumerate(batch, 1):
        moved[event.position] = base + offset
    batch.clear()


def _moved_cause(event: Event, moved: dict[int, int]) -> Event:
    fresh = replace_struct(event, position=0, version=0)
    if event.causation is None:
        return fresh
    cause = moved.get(event.causation)
    if cause is None:
        raise VirtuosoError(
            f"event {event.id} of session {event.session[:12]} was caused by position {event.causation}, "
            "which is left out: leave its session out too"
        )
    return replace_struct(fresh, causation=cause)


async def _lifecycle(target: EventStore, info: SessionInfo, event: Event) -> None:
    payload = event.payload
    if isinstance(payload, SessionStarted):
        config = info.manifest.get("config")
        await target.begin_session(
            info.name, info.source, started_ns=event.ts_event, symbols=info.symbols, channels=info.channels,
            config=config if isinstance(config, dict) else {}, session_id=info.id,
        )  # fmt: skip
    elif isinstance(payload, SessionEnded) and payload.status == "closed":
        await target.end_session(info.id, ended_ns=event.ts_event, reason=payload.reason)
    else:
        # A resume, or the crash before it (kept sessions all end closed): the event as it was; the row stays open.
        await target.append([replace_struct(event, position=0, version=0)])


async def _compare(store: EventStore, target: EventStore, kept: set[str], moved: dict[int, int]) -> int:
    """Every kept event is in the new log, in order, with its id, stream, times, payload and (moved) cause."""
    copies = aiter(target.read())
    count = 0
    async for event in store.read():
        if event.session not in kept:
            continue
        copy = await anext(copies, None)
        if copy is None or not _same(event, copy, moved):
            raise VirtuosoError(f"the new log lost or changed event {event.id} (position {event.position})")
        count += 1
    extra = await anext(copies, None)
    if extra is not None:
        raise VirtuosoError(f"the new log holds an event the old one did not keep: {extra.id}")
    return count


def _same(event: Event, copy: Event, moved: dict[int, int]) -> bool:
    cause = None if event.causation is None else moved.get(event.causation)
    return (copy.id, copy.stream, copy.ts_event, copy.ts_recv, copy.session, copy.causation, copy.position) == (
        event.id,
        event.stream,
        event.ts_event,
        event.ts_recv,
        event.session,
        cause,
        moved[event.position],
    ) and copy.payload == event.payload


async def _compare_sessions(target: EventStore, kept: list[SessionInfo]) -> None:
    copies = {info.id: info for info in await target.sessions()}
    for info in kept:
        copy = copies.get(info.id)
        same = copy is not None and (copy.name, copy.source, copy.status, copy.config_hash, copy.events) == (
            info.name, info.source, info.status, info.config_hash, info.events
        )  # fmt: skip
        if not same:
            raise VirtuosoError(f"session {info.id[:12]} differs in the new log")
    if len(copies) != len(kept):
        raise VirtuosoError("the new log holds a session the old one did not keep")


def _remove(partial: Path) -> None:
    for path in (partial, partial.with_name(partial.name + "-wal"), partial.with_name(partial.name + "-shm")):
        path.unlink(missing_ok=True)
