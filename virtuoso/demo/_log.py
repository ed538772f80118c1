"""The demo's event log: a synthetic session written from the generator, or imported Binance captures."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from virtuoso.errors import UsageError
from virtuoso.events import Event
from virtuoso.importers import import_files, plan_import
from virtuoso.store import SessionInfo, open_sqlite_store
from virtuoso.synthetic import MarketConfig, SyntheticMarket

DEMO_NAME = "demo"
DEMO_SOURCE = "synthetic"
_BATCH = 5000
_RUN_SOURCES = ("replay", "backtest")
_RUN_NAME_PREFIXES = ("replay of ", "backtest of ")


def demo_manifest(config: MarketConfig, seed: int) -> dict[str, Any]:
    """The session config of a synthetic demo log: marked synthetic, with the generator's config and seed."""
    return {"synthetic": True, "generator": "virtuoso.synthetic.SyntheticMarket", "seed": seed,
            "market": config.as_dict()}  # fmt: skip


async def build_demo_log(
    path: str | os.PathLike[str], seed: int = 7, config: MarketConfig | None = None
) -> SessionInfo:
    """Write one synthetic session (name ``demo``, source ``synthetic``) into the log at ``path``; its info.

    The session id depends on the name, source and start time only, so it is the
    same for every seed; the events depend on the config and the seed alone
    (batches of a fixed size, so the hash-chain head does too).
    """
    market = SyntheticMarket(config, seed)
    store = await open_sqlite_store(Path(path))
    try:
        info = await store.begin_session(
            DEMO_NAME, DEMO_SOURCE, started_ns=market.config.start_ns, symbols=(market.config.symbol,),
            channels=("trades", "book"), config=demo_manifest(market.config, seed),
        )  # fmt: skip
        last = market.config.start_ns
        # Batches (and so the head hash) must depend on the event count alone, never on timing.
        async with store.writer(max_events=_BATCH, max_delay_s=3600.0) as writer:
            for chunk in _chunks(market.events(info.id), _BATCH):
                await writer.write_many(chunk)
                last = max(last, *(event.ts_recv for event in chunk))
        await store.end_session(info.id, ended_ns=last, reason="demo complete")
        return await store.session(info.id)
    finally:
        await store.close()


def _chunks(events: Iterator[Event], size: int) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def check_captures(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The capture files as paths, checked before anything is written (a one-line error naming a bad one)."""
    plan_import("binance-capture", [Path(p) for p in paths])
    return [Path(p) for p in paths]


async def import_captures(path: str | os.PathLike[str], captures: Sequence[Path]) -> SessionInfo:
    """Import Binance capture files into one session of the log at ``path``; its info."""
    store = await open_sqlite_store(Path(path))
    try:
        report = await import_files(store, "binance-capture", captures, session_name=DEMO_NAME)
        return await store.session(report.session)
    finally:
        await store.close()


async def replace_event_log(path: str | os.PathLike[str], *, replace: bool = False) -> None:
    """Delete the event log at ``path`` with its -wal and -shm files, if the demo made it; else refuse.

    Only an event log is ever removed (a mistyped path must not delete someone's file),
    and only one the demo wrote (:func:`is_demo_log`) unless ``replace`` says so: a log of
    imported or recorded data is refused with a :class:`UsageError` naming what it holds.
    """
    target = Path(path)
    if not _existing_file(target):
        return
    store = await open_sqlite_store(target, readonly=True)
    try:
        foreign = [info for info in await store.sessions() if not _made_by_demo(info)]
    finally:
        await store.close()
    if foreign and not replace:
        first = foreign[0]
        raise UsageError(
            f"the log holds data the demo did not make ({len(foreign)} session(s), first {first.id[:12]} "
            f"{first.name!r} from {first.source}): choose another --db, or pass --replace to delete it ({target})"
        )
    for name in (target.name, f"{target.name}-wal", f"{target.name}-shm"):
        (target.parent / name).unlink(missing_ok=True)


def _made_by_demo(info: SessionInfo) -> bool:
    """The demo writes one input session named ``demo`` (synthetic, or its captures imported) and the runs on it."""
    return info.name == DEMO_NAME or (info.source in _RUN_SOURCES and info.name.startswith(_RUN_NAME_PREFIXES))


def _existing_file(path: Path) -> bool:
    """Whether ``path`` exists; a one-line error when it is there but not a file."""
    if not path.exists():
        return False
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    return True
