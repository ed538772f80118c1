"""``binance-vision`` CSV files, written in tmp_path from real Binance REST rows (GoCryptoTrader's mock)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import Bar, Event, Gap, Trade
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, open_sqlite_store

MOCK = "gocryptotrader/testdata/http_mock/binance/binance.json"


@cache
def _routes() -> dict[str, Any]:
    routes: dict[str, Any] = json.loads(require_data(MOCK).read_text())["routes"]
    return routes


def _data(route: str, query_part: str) -> list[Any]:
    entry = next(e for e in _routes()[route]["GET"] if query_part in e["queryString"])
    data: list[Any] = entry["data"]
    return data


def trades_csv(*, futures: bool = False) -> list[str]:
    """The 1,000 raw /api/v3/trades rows as Binance's trades CSV (spot: no header, with is_best_match)."""
    rows = [] if not futures else ["id,price,qty,quote_qty,time,is_buyer_maker"]
    for t in _data("/api/v3/trades", "limit=1000"):
        fields = [t["id"], t["price"], t["qty"], t["quoteQty"], t["time"], t["isBuyerMaker"]]
        rows.append(",".join(str(f) for f in (fields if futures else [*fields, t["isBestMatch"]])))
    return rows


def agg_trades_csv() -> list[str]:
    return [
        ",".join(str(a[k]) for k in ("a", "p", "q", "f", "l", "T", "m", "M"))
        for a in _data("/api/v3/aggTrades", "limit=1000&symbol")
    ]


def klines_csv() -> list[str]:
    return [",".join(str(v) for v in k) for k in _data("/api/v3/klines", "interval=1d")]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.with_suffix(".csv").name, text)
    elif path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


async def _run(db: Path, paths: list[Path], **options: str) -> tuple[dict[str, Any], list[Event]]:
    store = await open_sqlite_store(db)
    try:
        report = await import_files(store, "binance-vision", paths, **options)  # type: ignore[arg-type]
        events = [e async for e in store.read(EventFilter(session=report.session))]
        return report.as_dict(), events
    finally:
        await store.close()


def _market(events: list[Event]) -> list[Event]:
    return [e for e in events if not e.stream.startswith("system:")]


def test_spot_trades_zip_without_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "BTCUSDT-trades-2020-08-31.zip", trades_csv())

    report, events = asyncio.run(_run(tmp_path / "log.sqlite", [path]))

    assert report["counts"] == {"Trade": 1000}
    market = _market(events)
    assert {e.stream for e in market} == {"binance:BTC/USDT:trades"}
    first = _data("/api/v3/trades", "limit=1000")[0]
    assert market[0].payload == Trade(float(first["price"]), float(first["qty"]), "sell", str(first["id"]))
    assert market[0].ts_event == market[0].ts_recv == first["time"] * 1_000_000
    assert [int(e.payload.trade_id) for e in market] == list(range(399088278, 399089278))  # type: ignore[union-attr]


def test_futures_trades_with_header_under_the_um_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2020-08-31.csv", trades_csv(futures=True)
    )

    report, events = asyncio.run(_run(tmp_path / "log.sqlite", [path]))

    assert report["counts"] == {"Trade": 1000}
    assert {e.stream for e in _market(events)} == {"binanceusdm:BTC/USDT:USDT:trades"}


def test_agg_trades_gzip_and_a_missing_id_is_a_gap(tmp_path: Path) -> None:
    rows = agg_trades_csv()
    path = _write(tmp_path / "BTCUSDT-aggTrades-2020-05-06.csv.gz", rows[:500] + rows[501:])

    report, events = asyncio.run(_run(tmp_path / "log.sqlite", [path]))

    assert report["counts"] == {"Gap": 1, "Trade": 999}
    (gap,) = [e for e in events if isinstance(e.payload, Gap)]
    assert gap.stream == "binance:BTC/USDT:gaps"
    assert gap.payload.stream == "binance:BTC/USDT:aggtrades"
    assert gap.payload.reason == "trade ids 284861705..284861705 missing"


def test_daily_klines(tmp_path: Path) -> None:
    path = _write(tmp_path / "BTCUSDT-1d-2019-01.zip", klines_csv())

    report, events = asyncio.run(_run(tmp_path / "log.sqlite", [path]))

    assert report["counts"] == {"Bar": 365}
    bars = _market(events)
    raw = _data("/api/v3/klines", "interval=1d")[0]
    assert bars[0].stream == "binance:BTC/USDT:bars"
    assert bars[0].payload == Bar(
        "1d",
        raw[0] * 1_000_000,
        *(float(v) for v in raw[1:6]),
        trades=raw[8],
        closed=True,  # type: ignore[arg-type]
    )
    assert bars[0].ts_event == raw[6] * 1_000_000, "a bar is an event at its close"


def test_microsecond_times_are_recognised(tmp_path: Path) -> None:
    rows = [",".join([*r.split(",")[:4], r.split(",")[4] + "123", *r.split(",")[5:]]) for r in trades_csv()[:3]]
    path = _write(tmp_path / "BTCUSDT-trades-2025-01-01.csv", rows)

    _, events = asyncio.run(_run(tmp_path / "log.sqlite", [path]))

    first = _data("/api/v3/trades", "limit=1000")[0]
    assert _market(events)[0].ts_event == first["time"] * 1_000_000 + 123_000


def test_symbol_override_and_unknown_names(tmp_path: Path) -> None:
    renamed = _write(tmp_path / "trades.csv", ["id,price,qty,quote_qty,time,is_buyer_maker", *trades_csv()[:5]])
    with pytest.raises(UsageError, match="pass --symbol"):
        asyncio.run(_run(tmp_path / "a.sqlite", [renamed]))

    _, events = asyncio.run(_run(tmp_path / "b.sqlite", [renamed], symbol="XBT/USDT", exchange="binance"))
    assert {e.stream for e in _market(events)} == {"binance:XBT/USDT:trades"}

    headless = _write(tmp_path / "klines.csv", klines_csv()[:3])
    with pytest.raises(UsageError, match="cannot tell trades, aggTrades or klines"):
        asyncio.run(_run(tmp_path / "c.sqlite", [headless], symbol="BTC/USDT"))


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("399088300,11700.1,0.5,5850.05,1598850897967", "expected 6 or 7 columns, found 5"),
        ("399088300,eleven,0.5,5850.05,1598850897967,True,True", "bad value in a trades row"),
        ("399088300,11700.1,0.5,5850.05,1598850897967,yes,True", "bad value in a trades row: expected true or false"),
    ],
)
def test_a_malformed_row_names_file_and_line_and_keeps_nothing(tmp_path: Path, line: str, what: str) -> None:
    rows = trades_csv()[:20]
    path = _write(tmp_path / "BTCUSDT-trades-2020-08-31.csv", [*rows[:12], line, *rows[12:]])
    db = tmp_path / "log.sqlite"

    with pytest.raises(ImportFormatError, match=f"^{re.escape(str(path))}:13: {what}"):
        asyncio.run(_run(db, [path]))

    async def market_events() -> int:
        store = await open_sqlite_store(db)
        try:
            return len([e async for e in store.read() if not e.stream.startswith("system:")])
        finally:
            await store.close()

    assert asyncio.run(market_events()) == 0
