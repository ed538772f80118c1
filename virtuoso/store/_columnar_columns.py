"""Column reads of the columnar layout: blobs decoded into numpy columns, never into events.

The same walk as :mod:`._columnar_read` (blobs by first position, a position
known complete once the blob starting after it is decoded), but what waits is a
*slab* per blob and payload type: that type's matching rows of the blob, as the
columns ``decode_columns`` gives. Slabs of one type are cut at the bound,
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
from virtuoso.store._batch_codec import decode_batch, decode_columns
from virtuoso.store._column_chunks import ENVELOPE_COLUMNS, ColumnChunk, events_as_columns, payload_key
from virtuoso.store._columnar_read import BlobPlan, BlobRow, _next_blobs, _spanning, decode_blob
from virtuoso.store._rows import Catalog

Slab = dict[str, npt.NDArray[Any]]
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
    after = plan.after
    while True:
        rows, complete = await _next_blobs(db, path, plan, after, chunk_size)
        for row in rows:
            pending.add(slabs_of(row))
        if rows:
            after = rows[-1].first_position
        for chunk in pending.take_until(None if complete else after):
            yield chunk
        if complete:
            break
    for chunk in pending.flush():
        yield chunk


def blob_slabs(row: BlobRow, plan: BlobPlan, catalog: Catalog, registry: TypeRegistry) -> Slabs:
    """The rows of one blob that match ``plan``, a slab per payload type (in order of first appearance)."""
    envelope = decode_columns(row.data, ["position", "session", "ts_event", "type"], registry=registry)
    names = envelope["type"]
    keep = _matching(plan, envelope)
    if not keep.any():
        return []
    slabs: Slabs = []
    for name in dict.fromkeys(names[keep].tolist()):
        cls = registry.current(name)
        if cls is None:  # a type no class reads: decoding it as events raises the registry's error
            decode_batch(row.data, registry)
            continue
        of_type = names == name
        if _through_events(cls, row, catalog):
            events = [e for e, k in zip(decode_batch(row.data, registry), (keep & of_type).tolist(), strict=True) if k]
            slabs.append((cls, events_as_columns(events, cls)))
            continue
        fields = [*ENVELOPE_COLUMNS, *cls.__struct_fields__]
        columns = decode_columns(row.data, fields, type_name=name, registry=registry)
        chosen = keep[of_type]
        slabs.append((cls, {name: values[chosen] for name, values in columns.items()}))
    return slabs


def _matching(plan: BlobPlan, envelope: Slab) -> npt.NDArray[np.bool_]:
    positions = envelope["position"]
    keep: npt.NDArray[np.bool_] = positions > plan.after
    if plan.until is not None:
        keep &= positions <= plan.until
    if plan.session is not None:
        keep &= envelope["session"] == plan.session
    if plan.start_ns is not None:
        keep &= envelope["ts_event"] >= plan.start_ns
    if plan.end_ns is not None:
        keep &= envelope["ts_event"] < plan.end_ns
    if plan.types is not None:
        keep &= np.isin(envelope["type"].astype(str), sorted(plan.types))
    return keep


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
            heads = [head for head, _ in cut if len(head["position"])]
            self.waiting[cls] = [tail for _, tail in cut if len(tail["position"])]
            if heads:
                self.ready.setdefault(cls, []).append(_in_position_order(heads))
        return [chunk for cls in list(self.ready) for chunk in self._chunks(cls, full_only=True)]

    def flush(self) -> list[ColumnChunk]:
        """Whatever is ready, in chunks (the last of each type may be short)."""
        return [chunk for cls in list(self.ready) for chunk in self._chunks(cls, full_only=False)]

    def _chunks(self, cls: type[Payload], *, full_only: bool) -> list[ColumnChunk]:
        slabs = self.ready.pop(cls, [])
        if not slabs:
            return []
        rows = _concatenate(slabs) if len(slabs) > 1 else slabs[0]
        total = len(rows["position"])
        size = self.chunk_size
        end = total - total % size if full_only else total
        chunks = [ColumnChunk(cls, _slice(rows, start, min(start + size, end))) for start in range(0, end, size)]
        if end < total:
            self.ready[cls] = [_slice(rows, end, total)]
        return chunks


def _cut(slab: Slab, bound: int | None) -> tuple[Slab, Slab]:
    at = len(slab["position"]) if bound is None else int(np.searchsorted(slab["position"], bound, side="right"))
    return _slice(slab, 0, at), _slice(slab, at, len(slab["position"]))


def _slice(slab: Slab, start: int, stop: int) -> Slab:
    return {name: values[start:stop] for name, values in slab.items()}


def _concatenate(slabs: list[Slab]) -> Slab:
    return {name: _join([slab[name] for slab in slabs]) for name in slabs[0]}


def _join(parts: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    if any(isinstance(part, np.ma.MaskedArray) for part in parts):
        joined: npt.NDArray[Any] = np.ma.concatenate([np.ma.asarray(p) for p in parts])  # type: ignore[no-untyped-call]
        return joined
    return np.concatenate(parts)


def _in_position_order(slabs: list[Slab]) -> Slab:
    if len(slabs) == 1:
        return slabs[0]
    rows = _concatenate(slabs)
    order = np.argsort(rows["position"], kind="stable")
    return {name: values[order] for name, values in rows.items()}
