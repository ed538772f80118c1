"""The book at a time: checkpoints written into the log, and the seek that uses them.

The book of stream S at time T (exchange time) is the state after applying, in
stream order, the events of S in the session up to the first one stamped after
T. Exchange times within a stream are nearly always in order; where one is not
(Binance's spot REST snapshot carries our receive time, about a second before the
deltas around it), the book waits for it rather than showing state from after T.

A checkpoint is a :class:`BookSnapshot` on ``<S>.checkpoints`` holding every level
after some event of S: ``causation`` is that event's position, ``ts_event`` the
latest exchange time up to it, ``payload.sequence`` the update id. The book at T
starts from the checkpoint with the highest ``causation`` among those stamped at
or before T, and applies the events of S after that position.
"""

from __future__ import annotations

from dataclasses import dataclass

from virtuoso.book._builder import BookBuilder, BookState, checkpoint_stream, rule_for_stream, symbol_of
from virtuoso.book._sync import SyncRule
from virtuoso.errors import UsageError
from virtuoso.events import Event, EventIdFactory
from virtuoso.store import AppendResult, EventFilter, EventStore, SessionInfo

DEFAULT_CHECKPOINT_EVERY = 2_000
"""Book events between two checkpoints by default: at most this many are applied per query."""
_APPEND_EVERY = 50
_SEEK_CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class CheckpointReport:
    """What :func:`write_checkpoints` did."""

    stream: str
    """The checkpoint stream written to."""
    events: int
    """Book events replayed."""
    checkpoints: int
    """Checkpoints made; ``written`` of them were new, ``duplicates`` were already in the log."""
    written: int
    duplicates: int
    gaps: int
    """Breaks of the delta chain met on the way (no checkpoint is made while out of sync)."""


async def write_checkpoints(
    store: EventStore,
    session: str,
    stream: str,
    *,
    every: int = DEFAULT_CHECKPOINT_EVERY,
    rule: SyncRule | None = None,
) -> CheckpointReport:
    """Replay ``stream`` of ``session`` and append a checkpoint about every ``every`` book events.

    A checkpoint is made at the first event, ``every`` or more events after the
    previous one, where the book is in sync with a delta applied on its snapshot.
    Idempotent: a checkpoint's id depends only on the session, the stream and the
    position it reflects, so running this again appends nothing.
    """
    if every < 1:
        raise UsageError(f"checkpoints need every >= 1, not {every}")
    builder = BookBuilder.for_stream(stream, rule)
    target = checkpoint_stream(stream)
    pending: list[Event] = []
    results: list[AppendResult] = []
    events = checkpoints = gaps = since = 0
    async for chunk in store.read_chunks(EventFilter(session=session, streams=(stream,))):
        for event in chunk:
            gaps += builder.apply(event) is not None
            since += 1
            if since >= every and builder.sync.chained:
                pending.append(_checkpoint_event(builder, session, target))
                since = 0
        events += len(chunk)
        if len(pending) >= _APPEND_EVERY:
            checkpoints += len(pending)
            results.append(await store.append(pending))
            pending = []
    if pending:
        checkpoints += len(pending)
        results.append(await store.append(pending))
    written = sum(result.written for result in results)
    duplicates = sum(result.duplicates for result in results)
    return CheckpointReport(target, events, checkpoints, written, duplicates, gaps)


def _checkpoint_event(builder: BookBuilder, session: str, target: str) -> Event:
    ts = builder.ts_event or 0
    # One id per (session, checkpoint stream, position reflected): rerunning, with any
    # interval, makes the same ids for the same positions.
    event_id = EventIdFactory(f"{session}:{target}@{builder.position}")(ts)
    payload = builder.book.snapshot(builder.sync.last_sequence)
    return Event(event_id, target, ts, builder.ts_recv, session, payload, causation=builder.position)


async def latest_checkpoint(store: EventStore, session: str, stream: str, at_ns: int) -> Event | None:
    """The checkpoint of ``stream`` to start from for the book at ``at_ns``: the newest one
    at or before that time (checkpoints are written in stream order); None if there is none."""
    flt = EventFilter(session=session, streams=(checkpoint_stream(stream),), end_ns=at_ns + 1)
    return await store.last_event(flt)


async def book_at(
    store: EventStore,
    session: str,
    stream: str,
    at_ns: int,
    *,
    depth: int | None = None,
    rule: SyncRule | None = None,
    use_checkpoints: bool = True,
) -> BookState:
    """The book of ``stream`` in ``session`` at exchange time ``at_ns`` (see the module docstring).

    ``depth`` limits the levels returned per side (all when None). Without
    ``use_checkpoints`` the book is replayed from the session's first event.
    """
    rule = rule_for_stream(stream, rule)
    start = await latest_checkpoint(store, session, stream, at_ns) if use_checkpoints else None
    builder = BookBuilder(rule, stream) if start is None else BookBuilder.from_checkpoint(start, rule, stream)
    await replay_until(store, builder, session, at_ns)
    return builder.state(depth, session=session, at_ns=at_ns)


async def replay_until(store: EventStore, builder: BookBuilder, session: str, at_ns: int) -> None:
    """Apply the events of ``builder.stream`` in ``session`` after ``builder.position``, up to the first
    one stamped after ``at_ns``."""
    stream = builder.stream
    # Read together with the checkpoint stream (whose events are skipped): a read of two
    # streams pages along the log's positions from ``after_position`` on, while a read of
    # one stream pages along its version index from the stream's start, a scan that costs
    # milliseconds per 100,000 events before the first row arrives.
    flt = EventFilter(session=session, streams=(stream, checkpoint_stream(stream)), after_position=builder.position)
    chunks = store.read_chunks(flt, chunk_size=_SEEK_CHUNK)
    try:
        async for chunk in chunks:
            for event in chunk:
                if event.stream != stream:
                    continue
                if event.ts_event > at_ns:
                    return
                builder.apply(event)
    finally:
        # Stopping early leaves the read suspended; close it now rather than at garbage collection.
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def find_book_stream(info: SessionInfo, symbol: str) -> str:
    """The book stream of ``symbol`` in session ``info``.

    ``symbol`` is the ccxt symbol (``BTC/USDT``, ``BTC/USDT:USDT``) or, when that
    is unambiguous in the session, the venue's compact name (``BTCUSDT``).
    """
    books = sorted(name for name in info.streams if name.endswith(":book"))
    matches = [name for name in books if symbol_of(name) == symbol]
    if not matches:
        compact = symbol.replace("/", "").upper()
        matches = [name for name in books if symbol_of(name).split(":")[0].replace("/", "").upper() == compact]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(symbol_of(name) for name in books) or "none"
    what = "no book stream" if not matches else f"{len(matches)} book streams"
    raise UsageError(f"{what} for symbol {symbol!r} in session {info.id[:12]} (books: {known})")
