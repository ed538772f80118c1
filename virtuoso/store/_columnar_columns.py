"""Column reads of the columnar layout: blobs decoded into numpy and Arrow columns, never into events.

The same walk as :mod:`._columnar_read` (blobs by first position, a position
known complete once the blob starting after it is decoded), but what waits is a
*slab* per blob and payload type: that type's matching rows of the blob, as the
columns a ``ColumnReader`` gives (each blob opened once, text as Arrow strings). Slabs of one type are cut at the bound,
concatenated and put in position order with one stable argsort, then handed out
in chunks of at most ``chunk_size``.

Two kinds of rows go through events instead (decoded, then transposed by
:func:`~virtuoso.store._column_chunks.events_as_columns`): a type whose blob holds
an older schema (its payloads are upcast as events are), and a type with a field
named like an envelope column (``Gap.stream``: a blob's columns are named by field).
Both are rare streams of notes and gaps, not market data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np
import numpy.typing as npt

from virtuoso.events import Payload, TypeRegistry
from virtuoso.store._batch_codec import ColumnReader, decode_batch
from virtuoso.store._column_chunks import (
    ENVELOPE_COLUMNS,
    ColumnChunk,
    Values,
    events_as_columns,
    payload_key,
    with_arrow_text,
)
from virtuoso.store._columnar_read import BlobPages, BlobPlan, BlobRow, _spanning, decode_blob
from virtuoso.store._rows import Catalog

Slab = dict[str, Values]
Slabs = list[tuple[type[Payload], Slab]]


async def merged_columns(
    db: aiosqlite.Connection,
    path: Path,
    plan: BlobPlan,
    catalog: Catalog,
    *,
    chunk_size: int,
) -> AsyncIterator[ColumnChunk]:
    """The plan's matching events as column chunks, one type each, a type's rows in position order."""
    registry = catalog.registry
    pending = _Pending(chunk_size)

    def slabs_of(row: BlobRow) -> Slabs:
        return decode_blob(path, row, lambda r, reg: blob_slabs(r, plan, catalog, reg), registry)

    for row in await _spanning(db, path, plan):
        pending.add(slabs_of(row))
    pages = BlobPages(db, path, plan, chunk_size)
    while True:
        rows, known = await pages.next()
        for row in rows:
            pending.add(slabs_of(row))
        for chunk in pending.take_until(known):
            yield chunk
        if known is None:
            break
    for chunk in pending.flush():
        yield chunk


def blob_slabs(row: BlobRow, plan: BlobPlan, catalog: Catalog, registry: TypeRegistry) -> Slabs:
    """The rows of one blob that match ``plan``, a slab per payload type (in order of first appearance).

    The blob is opened once (decompressed and unpacked), and each column decoded once.
    """
    batch = ColumnReader(row.data, registry, arrow_text=True)
    keep = _matching(plan, batch)
    if not keep.any():
        return []
    slabs: Slabs = []
    for name in batch.types_among(keep):
        cls = registry.current(name)
        if cls is None:  # a type no class reads: decoding it as events raises the registry's error
            decode_batch(row.data, registry)
            continue
        of_type = batch.of_types({name})
        if _through_events(cls, row, catalog):
            events = [e for e, k in zip(decode_batch(row.data, registry), (keep & of_type).tolist(), strict=True) if k]
            slabs.append((cls, events_as_columns(events, cls)))
            continue
        columns = batch.columns([*ENVELOPE_COLUMNS, *cls.__struct_fields__], type_name=name)
        chosen = keep[of_type]
        if not chosen.all():
            columns = _rows(columns, np.flatnonzero(chosen))
        slabs.append((cls, with_arrow_text(columns, cls)))
    return slabs


def _matching(plan: BlobPlan, batch: ColumnReader) -> npt.NDArray[np.bool_]:
    positions = batch.envelope("position")
    keep: npt.NDArray[np.bool_] = positions > plan.after
    if plan.until is not None:
        keep &= positions <= plan.until
    if plan.session is not None:
        keep &= batch.equals("session", plan.session)
    if plan.start_ns is not None:
        keep &= batch.envelope("ts_event") >= plan.start_ns
    if plan.end_ns is not None:
        keep &= batch.envelope("ts_event") < plan.end_ns
    if plan.types is not None:
        keep &= batch.of_types(plan.types)
    return keep


def _rows(slab: Slab, indexes: npt.NDArray[np.intp]) -> Slab:
    """The rows ``indexes`` of every column of ``slab`` (numpy or Arrow)."""
    return {name: _take(values, indexes) for name, values in slab.items()}


def _take(values: Values, indexes: npt.NDArray[np.intp]) -> Values:
    if isinstance(values, np.ndarray):
        return values[indexes]
    from virtuoso.store import _arrow_text  # noqa: PLC0415 - an Arrow column: pyarrow is loaded already

    return _arrow_text.take(values, indexes)


def _through_events(cls: type[Payload], row: BlobRow, catalog: Catalog) -> bool:
    """Whether ``cls``'s rows of ``row`` must be read as events (an older schema, or a clashing field name)."""
    schemas = {catalog.kind_names[k][1] for k in row.kind_numbers() if catalog.kind_names[k][0] == cls.TYPE}
    return schemas != {cls.SCHEMA} or any(payload_key(f) != f for f in cls.__struct_fields__)


class _Pending:
    """Slabs waiting for every earlier position to be decoded, then ready rows waiting to fill a chunk."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.waiting: dict[type[Payload], list[Slab]] = {}
        self.ready: dict[type[Payload], list[Slab]] = {}

    def add(self, slabs: Slabs) -> None:
        for cls, slab in slabs:
            if len(slab["position"]):
                self.waiting.setdefault(cls, []).append(slab)

    def take_until(self, bound: int | None) -> list[ColumnChunk]:
        """Move every waiting row at or before ``bound`` (None: all) to ready, in position order; full chunks."""
        for cls, slabs in self.waiting.items():
            cut = [_cut(slab, bound) for slab in slabs]
            heads = [head for head, _ in cut if head is not None]
            self.waiting[cls] = [tail for _, tail in cut if tail is not None]
            if heads:
                self.ready.setdefault(cls, []).extend(_in_position_order(heads))
        return [chunk for cls in list(self.ready) for chunk in self._chunks(cls, full_only=True)]

    def flush(self) -> list[ColumnChunk]:
        """Whatever is ready, in chunks (the last of each type may be short)."""
        return [chunk for cls in list(self.ready) for chunk in self._chunks(cls, full_only=False)]

    def _chunks(self, cls: type[Payload], *, full_only: bool) -> list[ColumnChunk]:
        """Chunks of ``chunk_size`` rows cut from the ready slabs, which follow each other in position order.

        Only a chunk that straddles two slabs is copied (its pieces joined); the others are slices.
        """
        size = self.chunk_size
        chunks: list[ColumnChunk] = []
        pieces: list[Slab] = []
        count = 0
        for slab in self.ready.pop(cls, []):
            start, rows = 0, len(slab["position"])
            while start < rows:
                stop = min(start + size - count, rows)
                pieces.append(slab if stop - start == rows else _slice(slab, start, stop))
                count, start = count + stop - start, stop
                if count == size:
                    chunks.append(ColumnChunk(cls, _concatenate(pieces)))
                    pieces, count = [], 0
        if pieces and full_only:
            self.ready[cls] = pieces
        elif pieces:
            chunks.append(ColumnChunk(cls, _concatenate(pieces)))
        return chunks


def _cut(slab: Slab, bound: int | None) -> tuple[Slab | None, Slab | None]:
    """The rows of ``slab`` at or before ``bound``, and the others (``None`` for no rows)."""
    positions = slab["position"]
    at = len(positions) if bound is None else int(np.searchsorted(positions, bound, side="right"))
    if at == len(positions):
        return slab, None
    if at == 0:
        return None, slab
    return _slice(slab, 0, at), _slice(slab, at, len(positions))


def _slice(slab: Slab, start: int, stop: int) -> Slab:
    return {name: values[start:stop] for name, values in slab.items()}


def _concatenate(slabs: list[Slab]) -> Slab:
    if len(slabs) == 1:
        return slabs[0]
    return {name: _join([slab[name] for slab in slabs]) for name in slabs[0]}


def _join(parts: list[Values]) -> Values:
    masked = [isinstance(part, np.ma.MaskedArray) for part in parts]
    if all(masked):
        data = np.concatenate([part.data for part in parts])
        return np.ma.MaskedArray(data, mask=np.concatenate([np.ma.getmaskarray(part) for part in parts]))
    if any(masked):  # a type read from events in one blob and from columns in another (an older schema)
        joined: npt.NDArray[Any] = np.ma.concatenate([np.ma.asarray(p) for p in parts])  # type: ignore[no-untyped-call]
        return joined
    arrays = [isinstance(part, np.ndarray) for part in parts]
    if all(arrays):
        return np.concatenate(parts)
    if any(arrays):  # text that is not all strings somewhere (an object array, for the caller to name)
        return np.concatenate([np.asarray(part, dtype=object) for part in parts])
    from virtuoso.store import _arrow_text  # noqa: PLC0415 - Arrow columns: pyarrow is loaded already

    return _arrow_text.concat(parts)


def _in_position_order(slabs: list[Slab]) -> list[Slab]:
    """``slabs`` as slabs that follow each other in position order: as they are when they do (one stream's
    blobs), else joined and sorted by one stable argsort (streams interleaved)."""
    firsts = [int(slab["position"][0]) for slab in slabs]
    lasts = [int(slab["position"][-1]) for slab in slabs]
    if all(last < first for last, first in zip(lasts, firsts[1:], strict=False)):
        return slabs
    rows = _concatenate(slabs)
    return [_rows(rows, np.argsort(rows["position"], kind="stable"))]
