"""``binance-capture`` on the real hftbacktest captures, and atomicity/re-runs on slices of them."""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import require_data
from virtuoso.errors import ImportFormatError
from virtuoso.events import BookDelta, BookSnapshot, Event, FileImported, Gap, Quote, SessionResumed, Trade
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, lifecycle_stream, open_sqlite_store

BTC_0808 = "hftbacktest/examples/spot/btcusdt_20240808.gz"
BTC_0809 = "hftbacktest/examples/spot/btcusdt_20240809.gz"
ETH_0808 = "hftbacktest/examples/spot/ethusdt_20240808.gz"
USDM_0808 = "hftbacktest/examples/usdm/btcusdt_20240808.gz"
SPOT = "binance:BTC/USDT"


async def _import(db: Path, paths: list[Path], **options: str) -> tuple[dict[str, object], list[Event]]:
    store = await open_sqlite_store(db)
    try:
        report = await import_files(store, "binance-capture", paths, **options)  # type: ignore[arg-type]
        events = [e async for e in store.read(EventFilter(session=report.session))]
        assert (await store.verify()).ok
        return report.as_dict(), events
    finally:
        await store.close()


def _by_stream(events: list[Event]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = {}
    for event in events:
        streams.setdefault(event.stream, []).append(event)
    return streams


@pytest.fixture(scope="module")
def btc_spot(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], list[Event]]:
    """Both BTCUSDT spot files imported once into one session."""
    paths = [require_data(BTC_0808), require_data(BTC_0809)]
    return asyncio.run(_import(tmp_path_factory.mktemp("btc") / "log.sqlite", paths))


def test_counts_per_type_match_the_files(btc_spot: tuple[dict[str, object], list[Event]]) -> None:
    report, _ = btc_spot
    first, second = report["files"]  # type: ignore[misc]
    # The counts the data's README gives for each file.
    assert first["counts"] == {"BookDelta": 3451, "BookSnapshot": 1, "Quote": 28040, "Trade": 9757}
    assert second["counts"] == {"BookDelta": 3044, "Quote": 45134, "Trade": 10147}
    assert report["counts"] == {"BookDelta": 6495, "BookSnapshot": 1, "Quote": 73174, "Trade": 19904}
    assert (first["status"], second["status"]) == ("imported", "imported")


def test_trade_ids_are_consecutive_across_the_two_files_and_no_gap_is_reported(
    btc_spot: tuple[dict[str, object], list[Event]],
) -> None:
    _, events = btc_spot
    streams = _by_stream(events)
    ids = [int(e.payload.trade_id) for e in streams[f"{SPOT}:trades"] if isinstance(e.payload, Trade)]
    assert ids == list(range(3735683259, 3735703162 + 1))
    assert f"{SPOT}:gaps" not in streams
    assert not [e for e in events if isinstance(e.payload, Gap)]


def test_streams_payloads_and_times(btc_spot: tuple[dict[str, object], list[Event]]) -> None:
    _, events = btc_spot
    streams = _by_stream(events)
    assert {s for s in streams if s.startswith("binance:")} == {f"{SPOT}:trades", f"{SPOT}:book", f"{SPOT}:quotes"}
    trade = streams[f"{SPOT}:trades"][0]
    # Line 4 of the 0808 file: buyer is maker, so the taker sold.
    assert trade.payload == Trade(61837.63, 0.02, "sell", "3735683259")
    assert (trade.ts_event, trade.ts_recv) == (1723161255342 * 1_000_000, 1723161254087896568)
    book = streams[f"{SPOT}:book"]
    snapshot = next(e for e in book if isinstance(e.payload, BookSnapshot))
    assert snapshot.payload.sequence == 50093239218
    assert len(snapshot.payload.bids) == len(snapshot.payload.asks) == 1000
    assert snapshot.payload.bids[0] == (61837.63, 3.78826)
    assert snapshot.ts_event == snapshot.ts_recv == 1723161254206652067, "the spot REST snapshot has no exchange time"
    assert [e.version for e in book[:9]] == list(range(1, 10)), "snapshot and deltas share one stream"
    first = book[0].payload
    assert isinstance(first, BookDelta)
    assert (first.first_sequence, first.last_sequence, first.previous_sequence) == (50093239189, 50093239202, None)
    quote = streams[f"{SPOT}:quotes"][0]
    assert quote.payload == Quote(61837.63, 3.78826, 61837.64, 1.54698, 50093239212)
    assert quote.ts_event == quote.ts_recv, "spot bookTicker has no exchange time"
    positions = [e.position for e in events]
    assert positions == sorted(positions)
    assert [e.ts_recv for e in events if e.stream.startswith("binance:")] == sorted(
        e.ts_recv for e in events if e.stream.startswith("binance:")
    ), "events are stored in the order they were received"


def test_each_file_is_recorded_with_its_hash(btc_spot: tuple[dict[str, object], list[Event]]) -> None:
    report, events = btc_spot
    records = [e.payload for e in events if isinstance(e.payload, FileImported)]
    assert [r.sha256[:12] for r in records] == ["5d263f4c5379", "2981a27474b8"]
    assert [r.bytes for r in records] == [1_274_097, 1_754_087]
    assert records[0].counts == report["files"][0]["counts"]  # type: ignore[index]
    assert records[1].cursors[f"{SPOT}:trades"][0] == 3735703162
    assert records[1].cursors[f"{SPOT}:book"][0] == 50093696318


def test_usdm_futures_capture(tmp_path: Path) -> None:
    report, events = asyncio.run(_import(tmp_path / "log.sqlite", [require_data(USDM_0808)]))

    assert report["counts"] == {"BookDelta": 6551, "BookSnapshot": 1, "Quote": 66089, "Trade": 21313}
    streams = _by_stream(events)
    prefix = "binanceusdm:BTC/USDT:USDT"
    assert {s for s in streams if s.startswith("binanceusdm")} == {
        f"{prefix}:trades",
        f"{prefix}:book",
        f"{prefix}:quotes",
    }
    ids = [int(e.payload.trade_id) for e in streams[f"{prefix}:trades"] if isinstance(e.payload, Trade)]
    assert ids == list(range(5266583935, 5266605247 + 1))
    assert not [e for e in events if isinstance(e.payload, Gap)], "the futures chain (pu == previous u) has no break"
    delta = next(e.payload for e in streams[f"{prefix}:book"] if isinstance(e.payload, BookDelta))
    assert delta.previous_sequence == 5123107831937
    snapshot = next(e for e in streams[f"{prefix}:book"] if isinstance(e.payload, BookSnapshot))
    assert snapshot.ts_event == 1723161256501 * 1_000_000, "the futures snapshot's E"
    quote = streams[f"{prefix}:quotes"][0]
    assert quote.ts_event < quote.ts_recv + 2_000_000_000
    assert quote.ts_event != quote.ts_recv


def test_eth_spot_capture(tmp_path: Path) -> None:
    report, _ = asyncio.run(_import(tmp_path / "log.sqlite", [require_data(ETH_0808)]))
    assert report["counts"] == {"BookDelta": 3434, "BookSnapshot": 1, "Quote": 24077, "Trade": 6106}


def test_reimporting_gives_the_same_ids_and_head(tmp_path: Path) -> None:
    lines = _lines(require_data(BTC_0808))[:3000]
    path = _write(tmp_path / "btcusdt_20240808.gz", lines)

    async def head(db: Path) -> tuple[str, list[str]]:
        store = await open_sqlite_store(db)
        try:
            report = await import_files(store, "binance-capture", [path])
            return (await store.verify()).head, [e.id async for e in store.read(EventFilter(session=report.session))]
        finally:
            await store.close()

    first, second = asyncio.run(head(tmp_path / "a.sqlite")), asyncio.run(head(tmp_path / "b.sqlite"))
    assert first == second
    assert len(set(first[1])) == len(first[1]) == 3000 + 3


# -- slices of the real files: atomicity, re-runs, gaps ----------------------------


def _lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines()


def _write(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def two_parts(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    """The first 4,000 lines of the 0808 file as two files, and the second part's lines."""
    lines = _lines(require_data(BTC_0808))[:4000]
    return _write(tmp_path / "part1.gz", lines[:2000]), tmp_path / "part2.gz", lines[2000:]


async def _session_events(db: Path) -> list[Event]:
    store = await open_sqlite_store(db)
    try:
        return [e async for e in store.read()]
    finally:
        await store.close()


def test_a_malformed_line_keeps_nothing_of_its_file_and_a_rerun_resumes(
    tmp_path: Path, two_parts: tuple[Path, Path, list[bytes]]
) -> None:
    part1, part2, rest = two_parts
    broken = [*rest[:1500], b'1723161300000000000 {"stream":"btcusdt@trade","data":{"e":"trade"', *rest[1500:]]
    _write(part2, broken)
    db = tmp_path / "log.sqlite"

    with pytest.raises(ImportFormatError) as caught:
        asyncio.run(_import(db, [part1, part2]))

    assert str(caught.value).startswith(f"{part2}:1501: ")
    assert (caught.value.path, caught.value.line) == (str(part2), 1501)
    after_failure = asyncio.run(_session_events(db))
    records = [e.payload for e in after_failure if isinstance(e.payload, FileImported)]
    assert [r.path for r in records] == [str(part1)], "the first file stays, nothing of the second"
    assert sum(1 for e in after_failure if e.stream.startswith("binance:")) == 2000
    ended = after_failure[-1].payload
    assert ended.TYPE == "SessionEnded"
    assert ended.reason.startswith(f"import failed: {part2}:1501: ")  # type: ignore[attr-defined]

    _write(part2, rest)
    report, _ = asyncio.run(_import(db, [part1, part2]))

    assert [f["status"] for f in report["files"]] == ["skipped", "imported"]  # type: ignore[attr-defined]
    events = asyncio.run(_session_events(db))
    lifecycle = [e.type for e in events if e.stream == lifecycle_stream(str(report["session"]))]
    assert lifecycle == ["SessionStarted", "SessionEnded", "SessionResumed", "SessionEnded"]
    assert isinstance(next(e.payload for e in events if e.type == "SessionResumed"), SessionResumed)
    market = [e for e in events if e.stream.startswith("binance:")]
    assert len(market) == 4000
    assert not [e for e in market if isinstance(e.payload, Gap)], "the cursors of the skipped file carry on"
    ids = [int(e.payload.trade_id) for e in market if isinstance(e.payload, Trade)]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_a_rerun_with_nothing_new_changes_nothing(tmp_path: Path, two_parts: tuple[Path, Path, list[bytes]]) -> None:
    part1, part2, rest = two_parts
    _write(part2, rest)
    db = tmp_path / "log.sqlite"
    first, _ = asyncio.run(_import(db, [part1, part2]))
    before = asyncio.run(_session_events(db))

    again, _ = asyncio.run(_import(db, [part1, part2]))

    assert again["session"] == first["session"]
    assert [f["status"] for f in again["files"]] == ["skipped", "skipped"]  # type: ignore[attr-defined]
    assert again["counts"] == {}
    assert asyncio.run(_session_events(db)) == before


def test_missing_trades_and_a_broken_depth_chain_become_gap_events(
    tmp_path: Path, two_parts: tuple[Path, Path, list[bytes]]
) -> None:
    part1, part2, rest = two_parts
    trade_lines = [i for i, line in enumerate(rest) if b"@trade" in line]
    depth_lines = [i for i, line in enumerate(rest) if b"@depth" in line]
    dropped = {trade_lines[10], trade_lines[11], depth_lines[5]}
    _write(part2, [line for i, line in enumerate(rest) if i not in dropped])
    db = tmp_path / "log.sqlite"

    report, events = asyncio.run(_import(db, [part1, part2]))

    gaps = [e for e in events if isinstance(e.payload, Gap)]
    assert report["files"][1]["counts"]["Gap"] == 2  # type: ignore[index]
    trade_gap, book_gap = sorted(gaps, key=lambda e: e.payload.stream)[::-1]
    assert trade_gap.stream == book_gap.stream == f"{SPOT}:gaps"
    assert trade_gap.payload.stream == f"{SPOT}:trades"  # type: ignore[union-attr]
    assert "missing" in trade_gap.payload.reason  # type: ignore[union-attr]
    assert book_gap.payload.stream == f"{SPOT}:book"  # type: ignore[union-attr]
    assert "expected first update id" in book_gap.payload.reason  # type: ignore[union-attr]
    for gap in gaps:
        assert gap.payload.start_ns < gap.payload.end_ns == gap.ts_event  # type: ignore[union-attr]
    trades_in_files = sum(b"@trade" in line for line in [*_lines(part1), *rest])
    assert Counter(e.type for e in events)["Trade"] == trades_in_files - 2
