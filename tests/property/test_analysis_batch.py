"""Each streaming analyzer equals its batch counterpart (relative and absolute tolerance 1e-9) on generated trades."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.analysis import (
    AnalyzerPipeline,
    BarBuilder,
    BarsConfig,
    ConfluenceConfig,
    batch,
    build_analyzers,
    next_stance,
)
from virtuoso.analysis._batch_confluence import stances as batch_stances
from virtuoso.events import Bar, ConfluenceScore, Event, IndicatorValue, Signal, Stance, Trade

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


def _indicator(values: list[IndicatorValue], name: str) -> list[tuple[int, float, dict[str, float]]]:
    return [(v.at_ns, v.value, v.components) for v in values if v.name == name]


def _expected(bars: pd.DataFrame, frame: pd.DataFrame, value: str) -> list[tuple[int, float, dict[str, float]]]:
    rows = zip(bars["open_ns"], frame.to_dict("records"), strict=True)
    return [(t, r[value], {k: x for k, x in r.items() if k != value}) for t, r in rows if not math.isnan(r[value])]


def _same(got: list[tuple[int, float, dict[str, float]]], want: list[tuple[int, float, dict[str, float]]]) -> bool:
    assert [t for t, _, _ in got] == [t for t, _, _ in want]
    for (_, a, ca), (_, b, cb) in zip(got, want, strict=True):
        assert _close(a, b), (a, b)
        assert all(_close(ca[k], cb[k]) for k in ca), (ca, cb)
    return True


@settings(max_examples=60, deadline=None)
@given(trade_rows, st.integers(1, 5), st.integers(1, 4))
def test_bar_indicators_equal_their_batch_counterparts(
    rows: list[tuple[int, float, float, str]], period: int, fast: int
) -> None:
    spec: list[dict[str, object]] = [
        {"name": "macd", "timeframe": "1s", "fast": fast, "slow": period + 1, "signal": period},
        {"name": "bollinger", "timeframe": "1s", "period": period, "width": 1.5},
        {"name": "atr", "timeframe": "1s", "period": period},
        {"name": "realized-vol", "timeframe": "1s", "period": period},
        {"name": "relative-volume", "timeframe": "1s", "period": period},
        {"name": "cvd", "timeframe": "1s"},
    ]
    values = [e.payload for e in _stream(rows, spec) if isinstance(e.payload, IndicatorValue)]
    bars = batch.bars(_frame(rows), "1s")
    band = batch.bollinger(bars, period, 1.5)
    expected = {
        "macd": _expected(bars, batch.macd(bars, fast, period + 1, period), "macd"),
        "bollinger": _expected(bars, band, "middle"),
        "atr": _expected(bars, batch.atr(bars, period).to_frame("v"), "v"),
        "realized-vol": _expected(bars, batch.realized_vol(bars, period).to_frame("v"), "v"),
        "relative-volume": _expected(bars, batch.relative_volume(bars, period).to_frame("v"), "v"),
        "cvd": _expected(bars, batch.cvd(bars), "cvd"),
    }
    for name, want in expected.items():
        assert _same(_indicator(values, name), want), name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 100.0, allow_nan=False), max_size=60), st.floats(0.0, 15.0))
def test_the_batch_stances_follow_next_stance(totals: list[float], hysteresis: float) -> None:
    config = ConfluenceConfig(hysteresis=hysteresis)
    stance: Stance = "neutral"
    want = []
    for total in totals:
        stance = next_stance(stance, total, config)
        want.append(stance)
    assert list(batch_stances(np.array(totals, dtype=np.float64), config)) == want


def _confluence_values(n: int) -> dict[str, object]:
    return {
        "timeframes": {"1s": 1.0, "3s": 2.0},
        "ema_period": n,
        "rsi_period": n,
        "macd_fast": n,
        "macd_slow": n + 1,
        "macd_signal": n,
        "bollinger_period": n + 1,
        "trend_scale": 0.5,
        "macd_scale": 0.5,
        "hysteresis": 5.0,
    }


def _compare_confluence(rows: list[tuple[int, float, float, str]], values: dict[str, object]) -> tuple[int, int]:
    """Assert the streamed scores and signals equal the batch ones; their counts."""
    streamed = _stream(rows, [{"name": "confluence", **values}])
    scores = [e for e in streamed if isinstance(e.payload, ConfluenceScore)]
    signals = [e.payload for e in streamed if isinstance(e.payload, Signal)]
    frame = batch.confluence(_frame(rows), ConfluenceConfig(**values))  # type: ignore[arg-type]
    assert [int(e.id[1:].split("/")[0]) for e in scores] == list(frame["trade"])
    for event, row in zip(scores, frame.to_dict("records"), strict=True):
        score = event.payload
        assert isinstance(score, ConfluenceScore)
        assert _close(score.total, row["total"])
        assert score.state == row["state"]
        assert all(_close(v, row[f"score:{tf}"]) for tf, v in score.timeframes.items())
        assert all(_close(v, row[k]) for k, v in score.components.items())
    states = list(frame["state"])
    changes = zip(states, ["neutral", *states][: len(states)], frame["signal"], strict=True)
    assert [(s.state, s.previous) for s in signals] == [(s, p) for s, p, changed in changes if changed]
    return len(scores), len(signals)


@settings(max_examples=40, deadline=None)
@given(trade_rows, st.integers(1, 3))
def test_the_confluence_score_equals_its_batch_counterpart(rows: list[tuple[int, float, float, str]], n: int) -> None:
    _compare_confluence(rows, _confluence_values(n))


def test_the_confluence_comparison_sees_scores_and_signals_on_a_random_walk() -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(0, 120 * S, 1500))
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, 1500)))
    rows = [(int(t), float(p), float(a), "buy" if b else "sell")
            for t, p, a, b in zip(ts, prices, rng.random(1500), rng.random(1500) < 0.5, strict=True)]  # fmt: skip
    scores, signals = _compare_confluence(rows, _confluence_values(3))
    assert scores > 50
    assert signals > 5


@settings(max_examples=60, deadline=None)
@given(trade_rows, st.integers(0, 300))
def test_bars_of_several_timeframes_equal_the_batch_and_survive_a_restore(
    rows: list[tuple[int, float, float, str]], cut: int
) -> None:
    events = [
        Event(
            f"t{i}", "x:B/Q:trades", ts, ts, "s", Trade(p, a, "buy" if s == "buy" else "sell", str(i)), position=i + 1
        )
        for i, (ts, p, a, s) in enumerate(rows)
    ]
    original = BarBuilder(BarsConfig(timeframes=("3s", "1s")))
    streamed = [e.payload for e in events[:cut] for e in original.on_event(e)]
    restored = BarBuilder(BarsConfig(timeframes=("3s", "1s")))
    restored.restore(msgspec.json.decode(msgspec.json.encode(original.snapshot())))
    tail = [e.payload for e in events[cut:] for e in restored.on_event(e)]
    assert tail == [e.payload for e in events[cut:] for e in original.on_event(e)]
    for timeframe in ("1s", "3s"):
        bars = [b for b in streamed + tail if isinstance(b, Bar) and b.timeframe == timeframe]
        frame = batch.bars(_frame(rows), timeframe)
        assert [(b.open_ns, b.trades, b.high, b.low, b.close) for b in bars] == list(
            zip(frame["open_ns"], frame["trades"], frame["high"], frame["low"], frame["close"], strict=True)
        )
        assert all(_close(b.volume, v) for b, v in zip(bars, frame["volume"], strict=True))
