"""The order book on the real hftbacktest captures (Binance spot and USD-M futures BTCUSDT).

Each capture is imported with the importer, then its book stream replayed:
the book is in sync from the snapshot on, never crossed, and wherever a
``bookTicker`` message (a Quote whose ``sequence`` is its update id ``u``) names
the same update id as an applied delta, the rebuilt book's best bid and ask,
prices and sizes, are exactly the ticker's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_data
from tests.integration._cli import cli, cli_json
from virtuoso.book import BookBuilder, book_at, checkpoint_stream
from virtuoso.events import Level, Quote
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, open_sqlite_store

CAPTURES = {
    "spot": ("binance:BTC/USDT:book", ["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"]),
    "usdm": ("binanceusdm:BTC/USDT:USDT:book", ["usdm/btcusdt_20240808.gz"]),
}


@dataclass(frozen=True)
class Imported:
    path: Path
    session: str
    stream: str


async def _import(path: Path, files: list[Path]) -> str:
    store = await open_sqlite_store(path)
    try:
        return (await import_files(store, "binance-capture", files)).session
    finally:
        await store.close()


@pytest.fixture(scope="module", params=sorted(CAPTURES))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    stream, names = CAPTURES[request.param]
    files = [require_data(f"hftbacktest/examples/{name}") for name in names]
    path = tmp_path_factory.mktemp(f"book-{request.param}") / "capture.sqlite"
    return Imported(path, asyncio.run(_import(path, files)), stream)


@dataclass
class Replayed:
    tops: dict[int, tuple[Level | None, Level | None]]
    """Best bid and ask after each applied update id."""
    quotes: list[Quote]
    events: int
    last_ts: int


async def _replay(imported: Imported) -> Replayed:
    store = await open_sqlite_store(imported.path, readonly=True)
    try:
        builder = BookBuilder.for_stream(imported.stream)
        tops: dict[int, tuple[Level | None, Level | None]] = {}
        events = 0
        async for event in store.read(EventFilter(session=imported.session, streams=(imported.stream,))):
            assert builder.apply(event) is None, f"gap at position {event.position}"
            events += 1
            if builder.in_sync:
                assert not builder.book.crossed, f"crossed book after position {event.position}"
                assert builder.sequence is not None
                tops[builder.sequence] = (builder.book.best_bid, builder.book.best_ask)
        assert builder.in_sync
        quotes_stream = imported.stream.removesuffix(":book") + ":quotes"
        flt = EventFilter(session=imported.session, streams=(quotes_stream,))
        quotes = [event.payload async for event in store.read(flt) if isinstance(event.payload, Quote)]
        return Replayed(tops, quotes, events, builder.ts_event or 0)
    finally:
        await store.close()


def test_the_rebuilt_book_is_never_crossed_and_agrees_with_book_ticker(imported: Imported) -> None:
    replayed = asyncio.run(_replay(imported))

    assert replayed.events > 3_000
    assert len(replayed.tops) > 3_000
    same_id = [q for q in replayed.quotes if q.sequence in replayed.tops]
    assert len(same_id) > 100, "too few bookTicker messages at a delta's update id to compare"
    for quote in same_id:
        assert quote.sequence is not None
        best_bid, best_ask = replayed.tops[quote.sequence]
        assert (best_bid, best_ask) == ((quote.bid, quote.bid_size), (quote.ask, quote.ask_size)), quote.sequence


def test_cli_book_on_the_imported_capture(imported: Imported) -> None:
    report = cli("book", "checkpoint", "--db", imported.path, "--session", imported.session, "--every", "500")
    assert report.exit_code == 0, report.output
    assert f"{checkpoint_stream(imported.stream)}: " in report.stdout
    assert ", 0 gaps" in report.stdout
    symbol = imported.stream.split(":", 1)[1].removesuffix(":book")
    at_ms = 1_723_161_540_000  # 2024-08-08T23:59:00Z, inside every capture

    shown = cli_json("book", "--db", imported.path, "--session", imported.session[:8], "--symbol", symbol,
                     "--at", str(at_ms), "--depth", "20")  # fmt: skip

    replayed = asyncio.run(_full_replay(imported, at_ms * 1_000_000))
    assert shown == replayed
    assert shown["in_sync"] is True
    assert shown["ts_event"] <= at_ms * 1_000_000
    assert len(shown["bids"]) == len(shown["asks"]) == 20
    assert shown["bids"][0][0] < shown["asks"][0][0]


async def _full_replay(imported: Imported, at_ns: int) -> dict[str, object]:
    store = await open_sqlite_store(imported.path, readonly=True)
    try:
        state = await book_at(store, imported.session, imported.stream, at_ns, depth=20, use_checkpoints=False)
        return state.as_dict()
    finally:
        await store.close()
