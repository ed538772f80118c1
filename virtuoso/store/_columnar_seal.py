"""Sealing: a finished session's small live blobs re-encoded into large segments.

A live recording commits tens to hundreds of events a stream at a time, and a blob
compresses as well as it is long (~9 bytes a trade at 100 events, ~5 at 50,000).
When a session ends (or is marked crashed), a :class:`Sealer` (one background task
per writable log) decodes each of its streams' runs of small blobs, joins them and
encodes them again at :data:`SEAL_LEVEL` as segments of up to
:data:`SEGMENT_EVENTS` events. The encoding runs in a worker thread, outside any
transaction; a short write transaction then inserts each segment and deletes the
blobs it replaces (the only deletion the triggers let through: a longer blob of the
same stream covers the positions). A segment is checked before it is stored: it
must decode to exactly the events, and the exact payload bytes, of the blobs it
replaces, so the chain links, which never move, still verify.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from virtuoso.errors import StoreError, StoreFullError, VirtuosoError
from virtuoso.events import Event, TypeRegistry
from virtuoso.store._batch_codec import decode_batch, encode_batch, stored_payloads
from virtuoso.store._rows import Catalog

SEGMENT_EVENTS = 50_000
"""The most events a segment holds."""

LIVE_EVENTS = 5_000
"""Runs of blobs averaging fewer events than this are sealed; larger ones (an import's) gain too little."""

SEAL_LEVEL = 9
"""zstd level of segments: 1 to 4 % smaller than level 3 on market data; level 19 is another 3 to 6 % at 15 to
30 times the time (see docs/store.md, "Sealing: the level")."""

SEAL_WAIT_S = 60.0
"""How long closing a writable columnar log lets queued sealing finish before it stops it between segments."""


@dataclass(frozen=True, slots=True)
class Live:
    """A blob that sealing may replace."""

    seq: int
    count: int
    kinds: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Segment:
    """A sealed blob and the index row it goes in with."""

    replaces: tuple[int, ...]
    row: tuple[object, ...]


def runs_to_seal(blobs: Sequence[Live], catalog: Catalog) -> list[list[Live]]:
    """Consecutive blobs of one stream grouped into future segments; only groups worth sealing.

    A blob holding a payload of an older schema is left alone: decoding upcasts it,
    and its stored bytes could not be re-encoded.
    """
    groups: list[list[Live]] = []
    current: list[Live] = []
    for blob in blobs:
        if not _current_kinds(blob, catalog) or blob.count >= LIVE_EVENTS:
            groups.append(current)
            current = []
            continue
        if current and sum(b.count for b in current) + blob.count > SEGMENT_EVENTS:
            groups.append(current)
            current = []
        current.append(blob)
    groups.append(current)
    return [g for g in groups if len(g) > 1]


def _current_kinds(blob: Live, catalog: Catalog) -> bool:
    for number in (int(k) for k in blob.kinds.split(",") if k):
        type_name, schema = catalog.kind_names.get(number, ("", -1))
        cls = catalog.registry.current(type_name)
        if cls is None or schema != cls.SCHEMA:
            return False
    return True


def build_segment(stream: int, group: Sequence[Live], registry: TypeRegistry) -> Segment:
    """The segment replacing ``group`` (runs in a worker thread); ``StoreError`` if it would change anything."""
    events: list[Event] = []
    payloads: list[bytes] = []
    for blob in group:
        events.extend(decode_batch(blob.data, registry))
        payloads.extend(stored_payloads(blob.data, registry))
    data = encode_batch(events, level=SEAL_LEVEL)
    if decode_batch(data, registry) != events or stored_payloads(data, registry) != payloads:
        raise StoreError(
            f"sealing positions {events[0].position}..{events[-1].position} would change them; left as they are"
        )
    kinds = sorted({int(k) for blob in group for k in blob.kinds.split(",") if k})
    times = [e.ts_event for e in events]
    row = (
        stream,
        events[0].position,
        events[-1].position,
        events[0].version,
        events[-1].version,
        min(times),
        max(times),
        len(events),
        ",".join(map(str, kinds)),
        data,
    )
    return Segment(tuple(blob.seq for blob in group), row)


SealSession = Callable[[str, Callable[[], bool]], Awaitable[int]]
"""Seal one session, asking the callable between segments whether to stop; the number of blobs replaced."""

_log = logging.getLogger("virtuoso.store")


class Sealer:
    """Ended sessions sealed one at a time by one background task, in the order they ended.

    :meth:`add` never waits: the session is queued and the task started if it is
    not running. A session that cannot be sealed (a full disk) keeps its blobs as
    committed and costs one warning (an INFO record when ``full_reported()`` says an
    append of this log met the full disk already and raised it to its caller); the
    next session is sealed all the same.
    :meth:`close` lets the queue drain for at most ``wait_s`` seconds, then stops
    the task between two segments; what is left is found again by the next
    writable open. Nothing here reads a clock except that bound, and no result
    (events, chain, digests) depends on when a segment is stored.
    """

    def __init__(
        self, path: Path, seal: SealSession, *, wait_s: float, full_reported: Callable[[], bool] = lambda: False
    ) -> None:
        self._path = path
        self._seal = seal
        self._full_reported = full_reported
        self._wait_s = wait_s
        self._queue: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def add(self, session_id: str) -> None:
        """Queue ``session_id`` for sealing (once; ignored once the sealer is closing)."""
        if self._stopping:
            return
        self._queue.setdefault(session_id, None)
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"seal {self._path.name}")

    def stopping(self) -> bool:
        """Whether the sealer was asked to stop (checked between segments)."""
        return self._stopping

    async def idle(self) -> None:
        """Return once every queued session has been sealed (or has failed to be)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Let the queue drain for at most the bound, then stop the task between segments and wait for it."""
        if self._task is None:
            self._stopping = True
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self._wait_s)
        except TimeoutError:
            _log.info(
                "%s: sealing stopped at close after %.0f s; %d session(s) left for the next writable open",
                self._path,
                self._wait_s,
                len(self._queue),
            )
        self._stopping = True
        self._wake.set()
        await self._task

    async def _run(self) -> None:
        while not self._stopping:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            session_id = next(iter(self._queue))
            await self._seal_one(session_id)
            if not self._stopping:
                del self._queue[session_id]
        self._idle.set()

    async def _seal_one(self, session_id: str) -> None:
        try:
            await self._seal(session_id, self.stopping)
        except StoreFullError as exc:
            # When a write met the full disk first, its caller has said so already: a second line adds nothing.
            level = logging.INFO if self._full_reported() else logging.WARNING
            _log.log(level, "%s: session %s was not sealed: %s", self._path, session_id, exc)
        except VirtuosoError as exc:  # the session has ended either way; its blobs stay as committed
            _log.warning("%s: session %s was not sealed: %s", self._path, session_id, exc)
        except Exception:  # a background task must not die silently: the next session is still sealed
            _log.exception("%s: session %s was not sealed", self._path, session_id)
