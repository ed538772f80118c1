"""Each streaming analyzer equals its batch counterpart (relative tolerance 1e-9) on generated trades."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.analysis import AnalyzerPipeline, batch, build_analyzers
from virtuoso.events import Bar, Event, IndicatorValue, Trade

S = 1_000_000_000
TOL = 1e-9

trade_rows = st.lists(
    st.tuples(
        st.integers(0, 40 * S),
        st.floats(1.0, 1e5, allow_nan=False),
        st.floats(0.0, 100.0, allow_nan=False),
        st.sampled_from(["buy", "sell"]),
    ),
    min_size=1,
    max_size=300,
)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL) or (math.isnan(a) and math.isnan(b))


def _stream(rows: list[tuple[int, float, float, str]], spec: list[dict[str, object]]) -> list[Event]:
    pipeline = AnalyzerPipeline(build_analyzers(spec))
    out: list[Event] = []
    for i, (ts, price, amount, side) in enumerate(rows):
        trade = Trade(price, amount, "buy" if side == "buy" else "sell", str(i))
        out.extend(pipeline(Event(f"t{i}", "x:B/Q:trades", ts, ts, "s", trade, position=i + 1)))
    return out


def _frame(rows: list[tuple[int, float, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ts_event", "price", "amount", "side"])


@settings(max_examples=60, deadline=None)
@given(trade_rows)
def test_bars_equal_the_batch_bars(rows: list[tuple[int, float, float, str]]) -> None:
    streamed = [e.payload for e in _stream(rows, [{"name": "bars", "timeframes": ["5s"]}])]
    frame = batch.bars(_frame(rows), "5s")
    assert len(streamed) == len(frame)
    for bar, row in zip(streamed, frame.itertuples(), strict=True):
        assert isinstance(bar, Bar)
        assert (bar.open_ns, bar.trades, bar.open, bar.close, bar.high, bar.low) == (
            row.open_ns, row.trades, row.open, row.close, row.high, row.low
        )  # fmt: skip
        assert _close(bar.volume, row.volume)
        assert _close(bar.buy_volume or 0.0, row.buy_volume)
        assert _close(np.nan if bar.vwap is None else bar.vwap, row.vwap)


@settings(max_examples=60, deadline=None)
@given(trade_rows, st.integers(1, 5))
def test_ema_rsi_and_vwap_equal_their_batch_counterparts(
    rows: list[tuple[int, float, float, str]], period: int
) -> None:
    spec: list[dict[str, object]] = [
        {"name": "ema", "timeframe": "1s", "period": period},
        {"name": "rsi", "timeframe": "1s", "period": period},
        {"name": "vwap", "timeframe": "1s"},
    ]
    values = [e.payload for e in _stream(rows, spec) if isinstance(e.payload, IndicatorValue)]
    bars = batch.bars(_frame(rows), "1s")
    expected = {
        "ema": batch.ema(bars, period),
        "rsi": batch.rsi(bars, period),
        "vwap": batch.anchored_vwap(bars).where(bars["vwap"].notna()),
    }
    for name, series in expected.items():
        got = [(v.at_ns, v.value) for v in values if v.name == name]
        want = [(t, x) for t, x in zip(bars["open_ns"], series, strict=True) if not math.isnan(x)]
        assert [t for t, _ in got] == [t for t, _ in want], name
        assert all(_close(a, b) for (_, a), (_, b) in zip(got, want, strict=True)), name
