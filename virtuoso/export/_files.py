"""A session as files: one Parquet or CSV file per event type, written chunk by chunk.

Each file is written under a temporary name in the output folder and renamed when
the whole export succeeded, so a file named ``Trade.parquet`` is always complete;
a failed export leaves no file of its own behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from virtuoso.errors import UsageError
from virtuoso.events import Payload
from virtuoso.export._columns import arrow_schema
from virtuoso.export._frames import columns_batch
from virtuoso.export._read import TypeNames, classes_of, selection
from virtuoso.store import READ_CHUNK, SessionInfo

if TYPE_CHECKING:
    from virtuoso.store import EventStore

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")
"""The file formats of :func:`export_session`."""


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """How far an export is: ``done`` of ``total`` positions of the session's span, ``rows`` written."""

    done: int
    total: int
    rows: int


Progress = Callable[[ExportProgress], object]


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export wrote: one file and a row count per type (in the order named, else of first appearance)."""

    session: str
    format: Format
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """The files written."""
        return list(self.files.values())

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``virtuoso export --json``)."""
        files = {name: str(path) for name, path in self.files.items()}
        return {"session": self.session, "format": self.format, "out_dir": str(self.out_dir), "files": files,
                "rows": dict(self.rows)}  # fmt: skip


class _Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class _File:
    """One output file: written under a temporary name, renamed by :meth:`commit`."""

    def __init__(self, final: Path, schema: pa.Schema, fmt: Format) -> None:
        self.final = final
        self.temp = final.with_name(f".{final.name}.partial")
        self.rows = 0
        self._sink: _Sink = (
            pq.ParquetWriter(self.temp, schema) if fmt == "parquet" else pa_csv.CSVWriter(self.temp, schema)
        )

    def write(self, batch: pa.RecordBatch) -> None:
        self._sink.write(batch)
        self.rows += batch.num_rows

    def commit(self) -> None:
        self._sink.close()
        os.replace(self.temp, self.final)

    def abort(self) -> None:
        try:
            self._sink.close()
        finally:
            self.temp.unlink(missing_ok=True)


class _Files:
    """The files of one export, opened on a type's first rows."""

    def __init__(self, out_dir: Path, fmt: Format) -> None:
        self._out_dir, self._fmt = out_dir, fmt
        self.open: dict[type[Payload], _File] = {}
        self.firsts: dict[type[Payload], int] = {}
        """Each type's first position: the order of the files found (chunks of types come in a layout's order)."""

    def found(self) -> list[type[Payload]]:
        """The types written, in order of their first event."""
        return sorted(self.open, key=lambda cls: self.firsts.get(cls, 0))

    def get(self, cls: type[Payload]) -> _File:
        if cls not in self.open:
            path = self._out_dir / f"{cls.TYPE}.{self._fmt}"
            try:
                self._out_dir.mkdir(parents=True, exist_ok=True)
                self.open[cls] = _File(path, arrow_schema(cls), self._fmt)
            except OSError as exc:
                raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return self.open[cls]

    def abort(self) -> None:
        for file in self.open.values():
            file.abort()


def check_out_dir(out_dir: Path) -> Path:
    """``out_dir`` if it is, or can be created as, a folder we can write in; else a one-line UsageError.

    Nothing is created here: the folder is made when the first file is written.
    """
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        what = "is not a folder" if existing == out_dir else f"cannot be created ({existing} is not a folder)"
        raise UsageError(f"{out_dir}: the output folder {what}")
    if not os.access(existing, os.W_OK):
        raise UsageError(f"{out_dir}: the output folder cannot be written ({existing} is not writable)")
    return out_dir


def _span(info: SessionInfo) -> tuple[int, int]:
    firsts = [s.first_position for s in info.streams.values()]
    lasts = [s.last_position for s in info.streams.values()]
    return (min(firsts), max(lasts)) if firsts else (0, 0)


async def export(
    store: EventStore,
    session: str,
    out_dir: Path,
    fmt: Format = "parquet",
    *,
    types: TypeNames | None = None,
    progress: Progress | None = None,
    chunk_size: int = READ_CHUNK,
) -> ExportReport:
    """Write the events of ``session`` (an id or prefix) as one file per type in ``out_dir``.

    Like :func:`export_session`, and returns the files and row counts per type.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    classes = classes_of(types)
    info = await store.session(session)
    flt = await selection(store, session=info.id, classes=classes)
    files = _Files(check_out_dir(out_dir), fmt)
    try:
        await _write(store, flt, files, _Progress(info, progress), chunk_size)
        _check_not_empty(files, info, classes)
        for cls in classes or ():
            files.get(cls)
        for file in files.open.values():
            file.commit()
    except BaseException:
        files.abort()
        raise
    written = [(cls, files.open[cls]) for cls in classes or files.found()]
    return ExportReport(
        info.id, fmt, out_dir, {c.TYPE: f.final for c, f in written}, {c.TYPE: f.rows for c, f in written}
    )


async def _write(store: EventStore, flt: Any, files: _Files, progress: _Progress, chunk_size: int) -> None:
    unreported, position = 0, 0
    async for chunk in store.read_columns(flt, chunk_size):
        files.get(chunk.cls).write(columns_batch(chunk.columns, chunk.cls))
        files.firsts.setdefault(chunk.cls, int(chunk.columns["position"][0]))
        # A chunk holds one type; progress is told once per chunk_size events read, whatever their types.
        unreported, position = unreported + len(chunk), max(position, int(chunk.columns["position"][-1]))
        if unreported >= chunk_size:
            progress(position, unreported)
            unreported = 0
    if unreported:
        progress(position, unreported)


def _check_not_empty(files: _Files, info: SessionInfo, classes: Sequence[type[Payload]] | None) -> None:
    if not files.open:
        what = "events" if classes is None else f"events of type {', '.join(c.TYPE for c in classes)}"
        raise UsageError(f"session {info.id} has no {what}: nothing to export")


class _Progress:
    def __init__(self, info: SessionInfo, report: Progress | None) -> None:
        self._first, last = _span(info)
        self._total = last - self._first + 1
        self._report = report
        self._rows = 0

    def __call__(self, position: int, rows: int) -> None:
        self._rows += rows
        if self._report is not None:
            self._report(ExportProgress(position - self._first + 1, self._total, self._rows))


async def export_session(
    store: EventStore,
    session: str,
    out_dir: Path,
    fmt: Format = "parquet",
    *,
    types: TypeNames | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the events of ``session`` (an id or prefix) as one file per event type in ``out_dir``.

    ``fmt`` is ``"parquet"`` (one ParquetWriter per type, a row group per chunk read)
    or ``"csv"`` (a header, then rows appended per chunk); the columns are those of
    :func:`~virtuoso.export.to_frame` for that type. The session is read
    in chunks and never held in memory whole. ``types`` limits the export to those
    types, and each of them gets a file even when it has no rows; without it every
    type present gets one. Files are named ``<Type>.<fmt>`` and replace earlier ones.
    ``progress`` is called after every chunk with an :class:`ExportProgress`. An
    unknown type, a session without any selected event, or an output folder that
    cannot be written is a one-line :class:`~virtuoso.errors.UsageError`, and
    nothing is written.
    """
    report = await export(store, session, out_dir, fmt, types=types, progress=progress)
    return report.paths
