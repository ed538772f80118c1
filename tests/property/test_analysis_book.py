"""The book analyzers equal their batch counterparts over book states, on seeded synthetic depth streams."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.analysis import AnalyzerPipeline, batch, build_analyzers
from virtuoso.book import synthetic_book_events
from virtuoso.events import Event, IndicatorValue

STREAM = "binance:BTC/USDT:book"


def _streamed(events: list[Event], spec: list[dict[str, object]]) -> dict[str, list[tuple[int, float]]]:
    pipeline = AnalyzerPipeline(build_analyzers(spec))
    out: dict[str, list[tuple[int, float]]] = {}
    for event in events:
        for derived in pipeline(event):
            value = derived.payload
            assert isinstance(value, IndicatorValue)
            out.setdefault(value.name, []).append((value.at_ns, value.value))
    return out


def _batched(frame: pd.DataFrame, series: pd.Series) -> list[tuple[int, float]]:
    return [(int(t), float(x)) for t, x in zip(frame["ts_event"], series, strict=True) if not math.isnan(x)]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 120), st.integers(2, 30), st.integers(1, 8), st.floats(0.1, 3.0))
def test_book_analyzers_equal_the_batch_over_book_states(
    seed: int, deltas: int, levels: int, n: int, bps: float
) -> None:
    events = list(synthetic_book_events("s", STREAM, deltas, seed=seed, levels=levels))
    spec: list[dict[str, object]] = [
        {"name": "book-imbalance", "levels": n},
        {"name": "spread"},
        {"name": "depth", "bps": bps},
    ]
    streamed = _streamed(events, spec)
    frame = batch.book_frame(events, levels=3 * levels + 8)  # every level: the walk never holds more
    assert streamed.get("book-imbalance", []) == _batched(frame, batch.imbalance(frame, n))
    assert streamed.get("spread", []) == _batched(frame, batch.spread_bps(frame))
    assert streamed.get("depth", []) == _batched(frame, batch.depth_within(frame, bps))


def test_a_truncated_frame_gives_no_depth_rather_than_a_wrong_one() -> None:
    events = list(synthetic_book_events("s", STREAM, 50, seed=1, levels=200))
    frame = batch.book_frame(events, levels=3)
    assert batch.depth_within(frame, 50.0).isna().all()
    assert batch.depth_within(frame, 0.0001).notna().all()
