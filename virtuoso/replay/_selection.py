"""What a replay reads: sessions, streams or symbols, event types, a time range, an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from virtuoso.book import checkpoint_stream, symbol_of
from virtuoso.errors import UsageError
from virtuoso.store import EventFilter, EventStore, SessionInfo

Order = Literal["position", "exchange-time"]
ORDERS: tuple[Order, ...] = ("position", "exchange-time")
_CHECKPOINTS = checkpoint_stream("")


@dataclass(frozen=True, slots=True)
class ReplaySelection:
    """The events a replay publishes; every criterion given must hold.

    ``sessions`` empty means the session the run is started with. ``streams``
    and ``symbols`` (the symbol part of ``exchange:symbol:channel``) select
    streams; with neither, every stream of the session except book checkpoint
    streams (derived data: name them in ``streams`` to replay them).
    ``start_ns``/``end_ns`` bound ``ts_event`` (start inclusive, end exclusive).

    >>> ReplaySelection(sessions=("s1",), types=("Trade",)).as_config()["types"]
    ['Trade']
    """

    sessions: tuple[str, ...] = ()
    streams: tuple[str, ...] | None = None
    symbols: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    order: Order = "position"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise UsageError(f"order must be one of {', '.join(ORDERS)}, not {self.order!r}")
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            raise UsageError(f"empty time range: end {self.end_ns} is not after start {self.start_ns}")

    def as_config(self) -> dict[str, Any]:
        """The selection as plain JSON values (what a run manifest stores and hashes)."""
        return {
            "sessions": list(self.sessions),
            "streams": None if self.streams is None else sorted(self.streams),
            "symbols": None if self.symbols is None else sorted(self.symbols),
            "types": None if self.types is None else sorted(self.types),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "order": self.order,
        }


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """One session's part of a replay: its streams and the position range that holds them."""

    session: SessionInfo
    streams: tuple[str, ...]
    first_position: int
    last_position: int

    def filter(self, selection: ReplaySelection, *, streams: tuple[str, ...] | None = None) -> EventFilter:
        """The store filter reading this plan (all its streams, or ``streams``).

        The position range spares the store a scan from the log's start: a
        session filter alone reads every position before the session too.
        """
        chosen = streams if streams is not None else self.streams
        everything = streams is None and len(chosen) == len(self.session.streams)
        return EventFilter(
            session=self.session.id,
            streams=None if everything else chosen,
            types=selection.types,
            start_ns=selection.start_ns,
            end_ns=selection.end_ns,
            after_position=self.first_position - 1,
            until_position=self.last_position,
        )


async def plan_sessions(store: EventStore, selection: ReplaySelection, default: str | None) -> list[SessionPlan]:
    """The session plans of ``selection`` (``default`` when it names no session), in selection order."""
    ids = selection.sessions or ((default,) if default else ())
    if not ids:
        raise UsageError("a replay needs at least one session")
    plans = [_plan(await store.session(session_id), selection) for session_id in ids]
    _check_streams_exist(selection, plans)
    return [plan for plan in plans if plan.streams]


def _plan(info: SessionInfo, selection: ReplaySelection) -> SessionPlan:
    streams = tuple(name for name in sorted(info.streams) if _selected(name, selection))
    stats = [info.streams[name] for name in streams]
    first = min((s.first_position for s in stats), default=0)
    last = max((s.last_position for s in stats), default=0)
    return SessionPlan(info, streams, first, last)


def _selected(stream: str, selection: ReplaySelection) -> bool:
    if selection.streams is not None and stream not in selection.streams:
        return False
    if selection.symbols is not None and (stream.startswith("system:") or symbol_of(stream) not in selection.symbols):
        return False
    return selection.streams is not None or not stream.endswith(_CHECKPOINTS)


def _check_streams_exist(selection: ReplaySelection, plans: list[SessionPlan]) -> None:
    found = {name for plan in plans for name in plan.session.streams}
    missing = sorted(set(selection.streams or ()) - found)
    if missing:
        raise UsageError(f"no stream {', '.join(map(repr, missing))} in the session(s) replayed")
    symbols = {symbol_of(name) for name in found}
    unknown = sorted(set(selection.symbols or ()) - symbols)
    if unknown:
        raise UsageError(f"no symbol {', '.join(map(repr, unknown))} in the session(s) replayed")
