"""``export_session``: one Parquet or CSV file per type, chunk by chunk, equal to ``to_frame``; nothing on failure."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import pytest_asyncio
from pandas.testing import assert_frame_equal

from tests.conftest import require_data
from virtuoso.errors import SessionError, UsageError
from virtuoso.export import ExportProgress, export, export_session, to_frame
from virtuoso.importers import import_files, plan_import
from virtuoso.store import SQLiteEventStore, open_sqlite_store

pytestmark = pytest.mark.asyncio

BTC_0808 = "hftbacktest/examples/spot/btcusdt_20240808.gz"
CHUNK = 200
"""Events a read chunk of the exports below: the capture's 518 trades take several."""
TYPES = ["SessionStarted", "BookSnapshot", "Trade", "BookDelta", "Quote", "FileImported", "SessionEnded"]
"""The types of an imported capture session."""


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteEventStore]:
    """A log holding the first 3,000 lines of the real BTCUSDT capture, imported as one session."""
    with gzip.open(require_data(BTC_0808), "rb") as f:
        lines = [next(f) for _ in range(3000)]
    capture = tmp_path / "btcusdt_20240808.gz"
    capture.write_bytes(gzip.compress(b"".join(lines)))
    opened = await open_sqlite_store(tmp_path / "log.sqlite")
    try:
        await import_files(opened, plan_import("binance-capture", [capture]))
        yield opened
    finally:
        await opened.close()


async def session_id(store: SQLiteEventStore) -> str:
    (info,) = await store.sessions()
    return info.id


async def test_parquet_files_hold_what_to_frame_returns_one_row_group_per_chunk(
    store: SQLiteEventStore, tmp_path: Path
) -> None:
    session = await session_id(store)
    seen: list[ExportProgress] = []

    report = await export(store, session[:6], tmp_path / "out", "parquet", progress=seen.append, chunk_size=CHUNK)

    assert sorted(report.files) == sorted(TYPES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{t}.parquet" for t in TYPES)
    for name, path in report.files.items():
        expected = await to_frame(store, session=session, types=name)
        assert report.rows[name] == len(expected)
        assert_frame_equal(pd.read_parquet(path), expected, check_dtype=False)
    trades = pq.ParquetFile(report.files["Trade"])
    assert trades.metadata.num_rows == report.rows["Trade"]
    assert trades.num_row_groups > 1  # written per chunk, not as one table
    assert seen[-1].done == seen[-1].total == seen[-1].rows == sum(report.rows.values())
    # Told once per CHUNK events read; a chunk holds one type and at most CHUNK events (fewer in a row log,
    # whose chunks of CHUNK events are split by type), so every report but the last covers CHUNK to 2 * CHUNK - 1.
    steps = [b.rows - a.rows for a, b in zip([ExportProgress(0, 0, 0), *seen], seen, strict=False)]
    assert all(CHUNK <= step < 2 * CHUNK for step in steps[:-1]), steps
    assert 0 < steps[-1] < 2 * CHUNK


async def test_parquet_dtypes_survive_the_round_trip(store: SQLiteEventStore, tmp_path: Path) -> None:
    [path] = await export_session(store, await session_id(store), tmp_path, "parquet", types=["BookDelta"])

    frame = pd.read_parquet(path)

    assert path.name == "BookDelta.parquet"
    assert str(frame["time_event"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["first_sequence"].dtype) == "int64"
    assert frame["bids"].str.startswith("[[").any()


async def test_csv_files_have_a_header_and_every_row(store: SQLiteEventStore, tmp_path: Path) -> None:
    session = await session_id(store)

    paths = await export_session(store, session, tmp_path, "csv", types=("Trade", "Quote"))

    assert [p.name for p in paths] == ["Trade.csv", "Quote.csv"]
    expected = await to_frame(store, session=session, types="Trade")
    written = pd.read_csv(paths[0], keep_default_na=False)
    assert list(written.columns) == list(expected.columns)
    assert list(written["position"]) == list(expected["position"])
    assert list(written["price"]) == list(expected["price"])
    assert list(pd.to_datetime(written["time_event"], utc=True)) == list(expected["time_event"])
    assert paths[0].read_text().count("\n") == len(expected) + 1


async def test_a_named_type_without_events_still_gets_its_file(store: SQLiteEventStore, tmp_path: Path) -> None:
    report = await export(store, await session_id(store), tmp_path, "csv", types=["Trade", "Gap"])

    assert report.rows == {"Trade": report.rows["Trade"], "Gap": 0}
    assert report.files["Gap"].read_text().startswith('"position","id","stream"')


@pytest.mark.parametrize(
    ("types", "message"),
    [(["Gap"], "has no events of type Gap: nothing to export"), (["Trades"], "unknown event type 'Trades'")],
)
async def test_an_empty_selection_or_unknown_type_writes_nothing(
    store: SQLiteEventStore, tmp_path: Path, types: list[str], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=message):
        await export_session(store, await session_id(store), out, "parquet", types=types)
    assert not out.exists()


async def test_a_failure_midway_leaves_no_partial_files(store: SQLiteEventStore, tmp_path: Path) -> None:
    def stop(progress: ExportProgress) -> None:
        if progress.rows > 1000:
            raise RuntimeError("interrupted")

    out = tmp_path / "out"
    out.mkdir()
    (out / "Trade.parquet").write_bytes(b"an earlier export")
    with pytest.raises(RuntimeError, match="interrupted"):
        await export(store, await session_id(store), out, "parquet", progress=stop, chunk_size=500)

    assert [p.name for p in out.iterdir()] == ["Trade.parquet"]
    assert (out / "Trade.parquet").read_bytes() == b"an earlier export"


async def test_an_output_folder_that_cannot_be_made_is_an_error(store: SQLiteEventStore, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UsageError, match=r"a-file/out: the output folder cannot be created \(.*a-file is not"):
        await export_session(store, await session_id(store), blocker / "out", "csv")
    with pytest.raises(UsageError, match=r"a-file: the output folder is not a folder"):
        await export_session(store, await session_id(store), blocker, "csv")


async def test_unknown_sessions_and_formats_are_errors(store: SQLiteEventStore, tmp_path: Path) -> None:
    with pytest.raises(SessionError):
        await export_session(store, "ffffffff", tmp_path, "csv")
    with pytest.raises(UsageError, match="unknown export format 'xlsx'"):
        await export_session(store, await session_id(store), tmp_path, "xlsx")  # type: ignore[arg-type]
