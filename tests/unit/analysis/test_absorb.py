"""A stretch of trades absorbed at once leaves the analyzers as calling them on each trade does.

The runtime calls ``AnalyzerPipeline.absorb`` on a run of trades and the pipeline on
the trade it stops at; the outputs (ids, order, values to the bit) and the
analyzers' state must be those of the per-event calls, whatever the stretches.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.analysis import AnalyzerPipeline, BarBuilder, BarsConfig, build_analyzers
from virtuoso.events import Event, Note, Trade

SECOND = 1_000_000_000
STREAMS = ("binance:BTC/USDT:trades", "binance:ETH/USDT:trades")
SPEC = [
    {"name": "bars", "timeframes": ["1s", "5s"]},
    {"name": "ema", "timeframe": "1s", "period": 3},
    {"name": "rsi", "timeframe": "5s", "period": 2},
]

steps = st.sampled_from((0, 0, 1, 7_000_000, 300_000_000, 999_999_999, SECOND, 4 * SECOND, -200_000_000))
rows = st.lists(
    st.tuples(
        steps,
        st.sampled_from((0, 0, 0, 1)),  # which stream
        st.floats(min_value=1.0, max_value=1e5, allow_nan=False),
        st.floats(min_value=1e-8, max_value=50.0, allow_nan=False),
        st.booleans(),
        st.integers(min_value=0, max_value=40),  # 0: a non-trade event here
    ),
    max_size=120,
)


def market(drawn: list[tuple[int, int, float, float, bool, int]]) -> list[Event]:
    """Events from drawn rows: times walk by the step (a negative one is a late trade), a few Notes between."""
    events, ts = [], 10 * SECOND
    for i, (step, stream, price, amount, bought, other) in enumerate(drawn, start=1):
        ts = max(SECOND, ts + step)
        payload = Note("between") if other == 0 else Trade(price, amount, "buy" if bought else "sell", f"{i}")
        events.append(Event(f"e{i}", STREAMS[stream], ts, ts + 5, "s", payload, position=i))
    return events


def per_event(pipeline: AnalyzerPipeline, events: Sequence[Event]) -> list[Event]:
    return [out for event in events for out in pipeline(event)]


def absorbing(pipeline: AnalyzerPipeline, events: Sequence[Event], cuts: set[int]) -> list[Event]:
    """What the processor does with a run: absorb, call on the event absorb stops at, go on; runs end at ``cuts``."""
    out: list[Event] = []
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for start, stop in pairwise(bounds):
        index = start
        while index < stop:
            index = pipeline.absorb(events, index, stop)
            if index < stop:
                out.extend(pipeline(events[index]))
                index += 1
    return out


@settings(max_examples=150, deadline=None)
@given(rows, st.sets(st.integers(min_value=1, max_value=120)))
def test_absorbing_stretches_gives_the_outputs_and_state_of_one_call_a_trade(
    drawn: list[tuple[int, int, float, float, bool, int]], cuts: set[int]
) -> None:
    events = market(drawn)
    one_by_one = AnalyzerPipeline(build_analyzers(SPEC))
    stretches = AnalyzerPipeline(build_analyzers(SPEC))
    assert absorbing(stretches, events, cuts) == per_event(one_by_one, events)
    assert [a.snapshot() for a in stretches.analyzers] == [a.snapshot() for a in one_by_one.analyzers]


def test_the_bar_builder_absorbs_up_to_the_trade_that_closes_a_bar() -> None:
    builder = BarBuilder(BarsConfig(timeframes=("1s",)))
    events = market([(SECOND // 10, 0, 100.0 + i, 1.0, True, 1) for i in range(25)])
    assert builder.absorb(events, 0, len(events)) == 0  # a stream's first trade opens its bar: on_event's
    assert builder.on_event(events[0]) == ()
    closing = next(i for i, e in enumerate(events) if e.ts_event >= 11 * SECOND)
    assert builder.absorb(events, 1, len(events)) == closing
    (bar,) = builder.on_event(events[closing])
    assert bar.payload.trades == closing  # type: ignore[attr-defined]
    assert bar.payload.close == 100.0 + closing - 1  # type: ignore[attr-defined]


def test_nothing_is_absorbed_where_a_trade_goes_to_more_than_bars() -> None:
    events = market([(1, 0, 100.0, 1.0, True, 1)] * 5)
    pipeline = AnalyzerPipeline(build_analyzers([{"name": "bars"}, {"name": "bars", "timeframes": ["5m"]}]))
    pipeline(events[0])
    assert pipeline.absorb(events, 1, 5) == 1
    notes = AnalyzerPipeline(build_analyzers([{"name": "bars"}]))
    assert notes.absorb(market([(1, 0, 1.0, 1.0, True, 0)] * 3), 0, 3) == 0  # no analyzer takes a Note
