"""Streaming analyzers equal their batch counterparts on the real BTCUSDT spot capture (hftbacktest, 2024-08-08).

The capture is imported into a MemoryEventStore; the streaming analyzers run
over its trade and book events as read from the store, the batch functions over
a DataFrame of the same trades and over the book states.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import pandas as pd
import pytest

from tests.conftest import require_data
from virtuoso.analysis import AnalyzerPipeline, ConfluenceConfig, batch, build_analyzers
from virtuoso.events import Bar, ConfluenceScore, Event, IndicatorValue, Trade
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, MemoryEventStore

TOL = 1e-9
TRADES, BOOK = "binance:BTC/USDT:trades", "binance:BTC/USDT:book"
SCORE = {"timeframes": {"1s": 1.0, "5s": 1.0}}


@dataclass(frozen=True)
class Capture:
    trades: list[Event]
    book: list[Event]


async def _read() -> Capture:
    store = MemoryEventStore()
    path = require_data("hftbacktest/examples/spot/btcusdt_20240808.gz")
    session = (await import_files(store, "binance-capture", [path])).session
    trades = [e async for e in store.read(EventFilter(session=session, streams=(TRADES,)))]
    book = [e async for e in store.read(EventFilter(session=session, streams=(BOOK,)))]
    return Capture(trades, book)


@pytest.fixture(scope="module")
def capture() -> Capture:
    return asyncio.run(_read())


def _run(events: list[Event], spec: list[dict[str, object]]) -> list[Event]:
    pipeline = AnalyzerPipeline(build_analyzers(spec))
    return [derived for event in events for derived in pipeline(event)]


def _values(out: list[Event], name: str) -> list[tuple[int, float, dict[str, float]]]:
    return [
        (p.at_ns, p.value, p.components) for e in out if isinstance(p := e.payload, IndicatorValue) and p.name == name
    ]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def _assert_equal(got: list[tuple[int, float, dict[str, float]]], times: pd.Series, frame: pd.DataFrame) -> None:
    value = frame.columns[0]
    want = [(int(t), r) for t, r in zip(times, frame.to_dict("records"), strict=True) if not math.isnan(r[value])]
    assert len(got) == len(want) > 0
    for (t, v, components), (wt, row) in zip(got, want, strict=True):
        assert t == wt
        assert _close(v, row[value]), (t, v, row[value])
        assert all(_close(x, row[k]) for k, x in components.items()), (t, components, row)


def test_bar_indicators_equal_the_batch_on_real_trades(capture: Capture) -> None:
    spec: list[dict[str, object]] = [
        {"name": name, "timeframe": "1s"}
        for name in ("ema", "rsi", "macd", "bollinger", "atr", "realized-vol", "relative-volume", "cvd", "vwap")
    ]
    out = _run(capture.trades, spec)
    trades = pd.DataFrame(
        [(e.ts_event, p.price, p.amount, p.side) for e in capture.trades if isinstance(p := e.payload, Trade)],
        columns=["ts_event", "price", "amount", "side"],
    )
    bars = batch.bars(trades, "1s")
    assert len(bars) > 300
    expected = {
        "ema": batch.ema(bars).to_frame("v"),
        "rsi": batch.rsi(bars).to_frame("v"),
        "macd": batch.macd(bars),
        "bollinger": batch.bollinger(bars),
        "atr": batch.atr(bars).to_frame("v"),
        "realized-vol": batch.realized_vol(bars).to_frame("v"),
        "relative-volume": batch.relative_volume(bars).to_frame("v"),
        "cvd": batch.cvd(bars),
        "vwap": pd.DataFrame({"v": batch.anchored_vwap(bars), "bar": bars["vwap"]}),
    }
    for name, frame in expected.items():
        _assert_equal(_values(out, name), bars["open_ns"], frame)

    scores = [e for e in _run(capture.trades, [{"name": "confluence", **SCORE}]) if e.type == "ConfluenceScore"]
    frame = batch.confluence(trades, ConfluenceConfig(**SCORE))  # type: ignore[arg-type]
    assert len(scores) == len(frame) > 20
    for event, row in zip(scores, frame.to_dict("records"), strict=True):
        assert isinstance(event.payload, ConfluenceScore)
        assert _close(event.payload.total, row["total"])
        assert event.payload.state == row["state"]


def test_book_analyzers_equal_the_batch_on_the_real_book(capture: Capture) -> None:
    spec: list[dict[str, object]] = [
        {"name": "book-imbalance", "levels": 10},
        {"name": "spread"},
        {"name": "depth", "bps": 0.5},
    ]
    out = _run(capture.book, spec)
    frame = batch.book_frame(capture.book, levels=400)
    assert len(frame) > 3000
    depth = batch.depth_within(frame, 0.5)
    assert depth.notna().mean() > 0.99  # 400 levels a side reach 0.5 bps from the mid nearly always
    both_sides = frame[frame["bid_price_0"].notna() & frame["ask_price_0"].notna()].index
    got_depth = _values(out, "depth")
    assert len(got_depth) == len(both_sides)
    compared = [
        (got, want) for (_, got, _), want in zip(got_depth, depth[both_sides], strict=True) if not math.isnan(want)
    ]
    assert all(got == want for got, want in compared)
    assert len(compared) > 0.99 * len(got_depth)
    for name, series in (("book-imbalance", batch.imbalance(frame, 10)), ("spread", batch.spread_bps(frame))):
        got = [(t, v) for t, v, _ in _values(out, name)]
        assert got == [(int(t), v) for t, v in zip(frame["ts_event"], series, strict=True) if not math.isnan(v)], name


def test_the_bar_builder_equals_the_batch_bars_on_real_trades(capture: Capture) -> None:
    streamed = [e.payload for e in _run(capture.trades, [{"name": "bars", "timeframes": ["1s", "5s"]}])]
    trades = pd.DataFrame(
        [(e.ts_event, p.price, p.amount, p.side) for e in capture.trades if isinstance(p := e.payload, Trade)],
        columns=["ts_event", "price", "amount", "side"],
    )
    for timeframe in ("1s", "5s"):
        got = [bar for bar in streamed if isinstance(bar, Bar) and bar.timeframe == timeframe]
        want = batch.bars(trades, timeframe).to_dict("records")
        assert len(got) == len(want) > 50
        for bar, row in zip(got, want, strict=True):
            assert (bar.open_ns, bar.trades) == (int(row["open_ns"]), int(row["trades"]))
            fields = ("open", "high", "low", "close", "volume", "buy_volume", "vwap")
            assert all(_close(getattr(bar, name), row[name]) for name in fields), (bar, row)
