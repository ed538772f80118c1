"""The built-in analyzers: bars, indicators, confluence, the registry and the pipeline."""

from __future__ import annotations

import re

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.analysis import (
    ANALYZERS,
    Analyzer,
    AnalyzerPipeline,
    BarBuilder,
    BarsConfig,
    Confluence,
    ConfluenceConfig,
    Ema,
    EmaConfig,
    Rsi,
    RsiConfig,
    build_analyzers,
    next_stance,
)
from virtuoso.errors import UsageError
from virtuoso.events import Bar, ConfluenceScore, Event, IndicatorValue, Signal, Trade

S = 1_000_000_000
STREAM = "x:BTC/USDT:trades"


def trade(ts: int, price: float, amount: float = 1.0, side: str = "buy", n: int = 0) -> Event:
    payload = Trade(price, amount, "buy" if side == "buy" else "sell", str(n or ts))
    return Event(f"t{n or ts}", STREAM, ts, ts + 1, "s", payload, position=n or 1)


def bar_event(i: int, close: float, timeframe: str = "1m") -> Event:
    payload = Bar(timeframe, i * 60 * S, close, close, close, close, 1.0, 1, True, 0.5, close)
    return Event(f"b{i}", f"analysis:bars:{STREAM}", i, i, "s", payload)


def test_bars_close_on_a_later_bucket_with_count_side_volumes_and_vwap() -> None:
    builder = BarBuilder(BarsConfig(timeframes=("1s",)))
    events = [trade(1, 10.0, 1.0, "buy", 1), trade(2, 12.0, 3.0, "sell", 2), trade(3, 8.0, 1.0, "buy", 3)]
    assert [list(builder.on_event(e)) for e in events] == [[], [], []]
    assert not builder.ready

    [out] = builder.on_event(trade(S + 5, 11.0, 1.0, "buy", 4))

    assert out.payload == Bar("1s", 0, 10.0, 12.0, 8.0, 8.0, 5.0, 3, True, 2.0, 54.0 / 5.0)
    assert (out.id, out.stream, out.ts_event, out.causation) == ("t4/bars/0", f"analysis:bars:{STREAM}", S + 5, 4)
    assert builder.ready


def test_a_late_trade_counts_in_the_open_bar() -> None:
    builder = BarBuilder(BarsConfig(timeframes=("1s",)))
    builder.on_event(trade(S, 10.0, n=1))
    builder.on_event(trade(5, 20.0, n=2))  # its bucket (0) is earlier than the open bar's
    [out] = builder.on_event(trade(2 * S, 1.0, n=3))
    assert (out.payload.open_ns, out.payload.high, out.payload.trades) == (S, 20.0, 2)


def test_ema_is_seeded_with_the_mean_then_smoothed() -> None:
    ema = Ema(EmaConfig(period=3))
    outputs = [ema.on_event(bar_event(i, c)) for i, c in enumerate([1.0, 2.0, 3.0, 7.0])]
    assert outputs[:2] == [[], []]
    values = [o[0].payload.value for o in outputs[2:]]
    assert values == [2.0, 2.0 + 0.5 * (7.0 - 2.0)]


def test_rsi_matches_wilder_by_hand() -> None:
    closes = [10.0, 11.0, 10.5, 11.5, 11.0, 12.0]
    rsi = Rsi(RsiConfig(period=3))
    outputs = [rsi.on_event(bar_event(i, c)) for i, c in enumerate(closes)]
    assert [bool(o) for o in outputs] == [False, False, False, True, True, True]
    gain, loss = (1.0 + 0.0 + 1.0) / 3, 0.5 / 3
    gain, loss = gain * 2 / 3 + 0.0, loss * 2 / 3 + 0.5 / 3
    expected = 100 - 100 / (1 + gain / loss)
    value = outputs[4][0].payload
    assert isinstance(value, IndicatorValue)
    assert value.value == pytest.approx(expected, rel=1e-12)
    assert (value.name, value.timeframe, value.at_ns) == ("rsi", "1m", 4 * 60 * S)


def test_indicators_ignore_other_timeframes_and_open_bars() -> None:
    rsi = Rsi(RsiConfig(period=1))
    for i in range(5):
        assert rsi.on_event(bar_event(i, float(i), "5m")) == []
    assert not rsi.ready


def _walk(seed_prices: list[float]) -> list[Event]:
    return [trade(i * 20 * S, p, 1.0 + (i % 3), "buy" if i % 2 else "sell", i + 1) for i, p in enumerate(seed_prices)]


prices = st.lists(st.floats(1.0, 1000.0, allow_nan=False), min_size=5, max_size=300)


@settings(max_examples=25, deadline=None)
@given(prices, st.integers(0, 300))
def test_a_restored_pipeline_continues_exactly(walk: list[float], cut: int) -> None:
    events = _walk(walk)
    cut = min(cut, len(events))
    spec = [{"name": "bars", "timeframes": ["1m", "2m"]}, {"name": "ema", "period": 2}, {"name": "rsi", "period": 2}]
    spec += [{"name": n} for n in ("macd", "bollinger", "atr", "realized-vol", "relative-volume", "cvd", "vwap")]
    spec.append({"name": "confluence", "timeframes": {"1m": 1.0, "2m": 2.0}, "ema_period": 2, "rsi_period": 2,
                 "macd_fast": 2, "macd_slow": 3, "macd_signal": 2, "bollinger_period": 2})  # fmt: skip
    whole = AnalyzerPipeline(build_analyzers(spec))
    expected = [out for e in events for out in whole(e)]

    first = build_analyzers(spec)
    head = AnalyzerPipeline(first)
    got = [out for e in events[:cut] for out in head(e)]
    states = [msgspec.json.decode(msgspec.json.encode(a.snapshot())) for a in first]
    second = build_analyzers(spec)
    for analyzer, state in zip(second, states, strict=True):
        analyzer.restore(state)
    tail = AnalyzerPipeline(second)
    got += [out for e in events[cut:] for out in tail(e)]

    assert got == expected


def test_confluence_emits_scores_and_a_signal_when_the_stance_changes() -> None:
    config = ConfluenceConfig(timeframes={"1m": 1.0}, ema_period=2, rsi_period=2, macd_fast=2, macd_slow=3,
                              macd_signal=2, bollinger_period=2)  # fmt: skip
    confluence = Confluence(config)
    outputs = [confluence.on_event(bar_event(i, 100.0 + i)) for i in range(10)]
    scores = [o.payload for out in outputs for o in out if isinstance(o.payload, ConfluenceScore)]
    signals = [o.payload for out in outputs for o in out if isinstance(o.payload, Signal)]
    assert scores, "warm after a few bars"
    assert all(0.0 <= s.total <= 100.0 for s in scores)
    assert scores[-1].state == "long"
    assert scores[-1].components["1m:momentum"] == 100.0
    assert signals == [Signal("confluence", "long", "neutral", signals[0].score)]


def test_hysteresis_keeps_a_stance_inside_its_buffer() -> None:
    config = ConfluenceConfig(long=60.0, short=40.0, hysteresis=5.0)
    assert next_stance("short", 44.0, config) == "short"
    assert next_stance("short", 46.0, config) == "neutral"
    assert next_stance("neutral", 40.0, config) == "short"


def test_registry_knows_the_default_set_and_reports_bad_keys_in_one_line() -> None:
    assert {"bars", "ema", "rsi", "macd", "bollinger", "atr", "confluence", "vwap", "cvd"} <= set(ANALYZERS)
    assert all(isinstance(a, Analyzer) for a in build_analyzers("default"))
    assert build_analyzers("none") == []
    with pytest.raises(UsageError, match="unknown field `perod`"):
        build_analyzers([{"name": "rsi", "perod": 3}])
    with pytest.raises(UsageError, match="unknown analyzer 'nope'"):
        build_analyzers("rsi,nope")
    with pytest.raises(UsageError, match="timeframe '7x'"):
        build_analyzers([{"name": "ema", "timeframe": "7x"}])


def test_a_toml_list_builds_the_analyzers(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "analyzers.toml"
    path.write_text('[[analyzers]]\nname = "rsi"\nperiod = 7\n\n[[analyzers]]\nname = "vwap"\ntimeframe = "5m"\n')
    built = build_analyzers(str(path))
    assert [a.name for a in built] == ["bars", "rsi", "vwap"]
    assert built[0].config.as_dict() == {"timeframes": ("1m", "5m")}
    assert built[1].config == RsiConfig(period=7)
    path.write_text('[[analyzers]]\nname = "rsi"\n\n[[analyzers]]\nname = "rsi"\nperiod = -1\n')
    with pytest.raises(UsageError, match=rf"^{re.escape(str(path))}: analyzers\[1\]: analyzer 'rsi': "):
        build_analyzers(str(path))


def test_two_analyzers_of_one_name_give_distinct_ids() -> None:
    pipeline = AnalyzerPipeline(
        build_analyzers([{"name": "vwap", "timeframe": "1s"}, {"name": "vwap", "timeframe": "1s"}])
    )
    pipeline(trade(1, 10.0, n=1))
    ids = [e.id for e in pipeline(trade(S, 10.0, n=2))]
    assert len(ids) == len(set(ids)) == 3
