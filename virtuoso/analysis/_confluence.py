"""The confluence score: several indicators on several timeframes folded into one 0-100 number.

Every component is mapped to 0-100 (50 neutral) by a documented function
(:func:`component_scores`), weighted within its timeframe, and the timeframes
are weighted into the total. Thresholds with a hysteresis buffer turn the total
into a stance (long, short, neutral); a :class:`~virtuoso.events.Signal` is
emitted when the stance changes. See ``docs/confluence.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from virtuoso.analysis._bars import timeframe_ns
from virtuoso.analysis._base import PerStream, derive, source_stream
from virtuoso.analysis._cores import BollingerCore, EmaCore, MacdCore, RsiCore
from virtuoso.analysis._protocol import AnalyzerConfig
from virtuoso.errors import UsageError
from virtuoso.events import Bar, ConfluenceScore, Event, Signal, Stance

COMPONENTS = ("trend", "momentum", "macd", "bands", "flow")
"""The components, in the order their scores are listed."""
Period = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


def _default_timeframes() -> dict[str, float]:
    return {"1m": 1.0, "5m": 1.0}


def _default_weights() -> dict[str, float]:
    return dict.fromkeys(COMPONENTS, 1.0)


class ConfluenceConfig(AnalyzerConfig, frozen=True, kw_only=True):
    """Timeframes and component weights, the indicators' periods, the score scales and the thresholds."""

    timeframes: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=_default_timeframes)
    weights: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=_default_weights)
    ema_period: Period = 20
    rsi_period: Period = 14
    macd_fast: Period = 12
    macd_slow: Period = 26
    macd_signal: Period = 9
    bollinger_period: Period = 20
    bollinger_width: Positive = 2.0
    trend_scale: Positive = 0.005
    macd_scale: Positive = 0.001
    long: float = 60.0
    short: float = 40.0
    hysteresis: Annotated[float, msgspec.Meta(ge=0)] = 5.0

    def __post_init__(self) -> None:
        for timeframe in self.timeframes:
            timeframe_ns(timeframe)
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise UsageError(
                f"confluence: unknown component {unknown[0]!r} in weights (known: {', '.join(COMPONENTS)})"
            )
        if not self.short < self.long:
            raise UsageError(f"confluence: short threshold {self.short} must be below long threshold {self.long}")
        if not self.timeframes or sum(self.timeframes.values()) <= 0 or sum(self.weights.values()) <= 0:
            raise UsageError("confluence: timeframes and weights need at least one positive weight")

    def bar_timeframes(self) -> tuple[str, ...]:
        """The timeframes of the bars the score needs."""
        return tuple(self.timeframes)


def _tanh_score(x: float) -> float:
    return 50.0 + 50.0 * math.tanh(x)


def component_scores(
    bar: Bar, ema: float, rsi: float, histogram: float, percent_b: float, *, config: ConfluenceConfig
) -> dict[str, float]:
    """Each component's 0-100 score for one bar (the functions ``docs/confluence.md`` documents).

    >>> bar = Bar("1m", 0, 100.0, 101.0, 99.0, 100.5, 10.0, 3, True, 7.0, 100.2)
    >>> scores = component_scores(bar, 100.0, 62.0, 0.05, 0.8, config=ConfluenceConfig())
    >>> {k: round(v, 2) for k, v in scores.items()}
    {'trend': 88.08, 'momentum': 62.0, 'macd': 73.01, 'bands': 80.0, 'flow': 70.0}
    """
    close = bar.close
    trend = _tanh_score((close / ema - 1.0) / config.trend_scale) if ema > 0.0 else 50.0
    macd = _tanh_score(histogram / (close * config.macd_scale)) if close > 0.0 else 50.0
    bands = 100.0 * min(1.0, max(0.0, percent_b))
    flow = 50.0
    if bar.buy_volume is not None and bar.volume > 0.0:
        flow = 50.0 + 50.0 * (2.0 * bar.buy_volume - bar.volume) / bar.volume
    return {"trend": trend, "momentum": rsi, "macd": macd, "bands": bands, "flow": flow}


def weighted(scores: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted mean of ``scores`` (keys without a weight count 0)."""
    total = sum(weights.get(key, 0.0) for key in scores)
    return sum(score * weights.get(key, 0.0) for key, score in scores.items()) / total if total else 50.0


def next_stance(stance: Stance, total: float, config: ConfluenceConfig) -> Stance:
    """The stance after ``total``: long at or above ``long``, short at or below ``short``; a stance is kept
    until the total leaves it by more than ``hysteresis``.

    >>> c = ConfluenceConfig()
    >>> next_stance("neutral", 58.0, c), next_stance("long", 58.0, c), next_stance("long", 54.0, c)
    ('neutral', 'long', 'neutral')
    """
    if total >= config.long:
        return "long"
    if total <= config.short:
        return "short"
    if stance == "long" and total >= config.long - config.hysteresis:
        return "long"
    if stance == "short" and total <= config.short + config.hysteresis:
        return "short"
    return "neutral"


class _Frame:
    """One timeframe's indicator cores and latest component scores."""

    __slots__ = ("bollinger", "ema", "macd", "rsi", "scores")

    def __init__(self, config: ConfluenceConfig) -> None:
        self.ema = EmaCore(config.ema_period)
        self.rsi = RsiCore(config.rsi_period)
        self.macd = MacdCore(config.macd_fast, config.macd_slow, config.macd_signal)
        self.bollinger = BollingerCore(config.bollinger_period, config.bollinger_width)
        self.scores: dict[str, float] | None = None

    def update(self, bar: Bar, config: ConfluenceConfig) -> None:
        """Feed every core; the scores once all of them are warm."""
        ema, rsi = self.ema.update(bar), self.rsi.update(bar)
        macd, bands = self.macd.update(bar), self.bollinger.update(bar)
        if ema is None or rsi is None or macd is None or bands is None:
            return
        self.scores = component_scores(bar, ema[0], rsi[0], macd[1]["histogram"], bands[1]["percent_b"], config=config)

    def dump(self) -> dict[str, Any]:
        """The cores' states and the scores."""
        cores = {name: getattr(self, name).dump() for name in ("bollinger", "ema", "macd", "rsi")}
        return {**cores, "scores": self.scores}

    def load(self, values: dict[str, Any]) -> None:
        """Continue from :meth:`dump`."""
        for name in ("bollinger", "ema", "macd", "rsi"):
            getattr(self, name).load(values[name])
        self.scores = values["scores"]


class _StreamState:
    __slots__ = ("frames", "stance")

    def __init__(self, config: ConfluenceConfig) -> None:
        self.frames = {timeframe: _Frame(config) for timeframe in config.timeframes}
        self.stance: Stance = "neutral"


class Confluence(PerStream[_StreamState]):
    """Closed bars of the configured timeframes in; a :class:`ConfluenceScore` per bar once every timeframe
    is warm, and a :class:`Signal` when the stance changes."""

    name: ClassVar[str] = "confluence"
    consumes: ClassVar[tuple[str, ...]] = ("market.bar",)
    config_type: ClassVar[type[ConfluenceConfig]] = ConfluenceConfig

    def __init__(self, config: ConfluenceConfig | None = None) -> None:
        super().__init__()
        self.config: ConfluenceConfig = config if config is not None else ConfluenceConfig()

    def fresh(self) -> _StreamState:
        """Cold cores for every timeframe, neutral."""
        return _StreamState(self.config)

    def dump(self, state: _StreamState) -> Any:
        """Every frame and the stance."""
        return {"stance": state.stance, "frames": {tf: frame.dump() for tf, frame in state.frames.items()}}

    def load(self, values: Any) -> _StreamState:
        """A stream state back from :meth:`dump`."""
        state = self.fresh()
        state.stance = values["stance"]
        for timeframe, frame in state.frames.items():
            frame.load(values["frames"][timeframe])
        return state

    def on_event(self, event: Event) -> Sequence[Event]:
        """The score after a closed bar, and a signal when the stance changed."""
        bar = event.payload
        if type(bar) is not Bar or bar.timeframe not in self.config.timeframes or not bar.closed:
            return []
        state = self.state_for(source_stream(event.stream))
        state.frames[bar.timeframe].update(bar, self.config)
        score = self.score(state)
        if score is None:
            return []
        self._ready = True
        out = [derive(event, self.name, 0, score)]
        if score.state != state.stance:
            signal = Signal(self.name, score.state, state.stance, score.total)
            state.stance = score.state
            out.append(derive(event, self.name, 1, signal))
        return out

    def score(self, state: _StreamState) -> ConfluenceScore | None:
        """The score of a stream's current frames (None while some timeframe is cold)."""
        per_frame: dict[str, float] = {}
        components: dict[str, float] = {}
        for timeframe, frame in state.frames.items():
            if frame.scores is None:
                return None
            per_frame[timeframe] = weighted(frame.scores, self.config.weights)
            components.update({f"{timeframe}:{k}": v for k, v in frame.scores.items()})
        total = weighted(per_frame, self.config.timeframes)
        return ConfluenceScore(total, next_stance(state.stance, total, self.config), per_frame, components)
