"""The confluence score in batch: every timeframe's bars and components at once, then the merge and the stance.

The streaming score is computed after each closed bar of a configured
timeframe from the latest component scores of every timeframe. Here each
timeframe's scores are computed over all its bars, the bars of all timeframes
are put in the order the stream sees them (by the trade that closes them, then
in the config's timeframe order, which is the order ``resolve()`` gives the bar
builder), each timeframe's latest score is carried forward, and the stance with
its hysteresis is found without a loop: within a run of totals in a hold zone
the stance stays what it was before the run until one total leaves the zone of
that stance, and is neutral from there to the end of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from virtuoso.analysis._batch_bars import bollinger, macd
from virtuoso.analysis._batch_core import bars, closing_trades, ema, rsi
from virtuoso.analysis._confluence import COMPONENTS, ConfluenceConfig


def _tanh_score(x: np.ndarray) -> np.ndarray:
    score: np.ndarray = 50.0 + 50.0 * np.tanh(x)
    return score


def component_frame(bars_frame: pd.DataFrame, config: ConfluenceConfig) -> pd.DataFrame:
    """Each bar's component scores (NaN while an indicator is warming up), as ``component_scores`` gives them."""
    close = bars_frame["close"].to_numpy(np.float64)
    volume = bars_frame["volume"].to_numpy(np.float64)
    average = ema(bars_frame, config.ema_period).to_numpy()
    histogram = macd(bars_frame, config.macd_fast, config.macd_slow, config.macd_signal)["histogram"].to_numpy()
    percent_b = bollinger(bars_frame, config.bollinger_period, config.bollinger_width)["percent_b"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = {
            "trend": np.where(average > 0.0, _tanh_score((close / average - 1.0) / config.trend_scale), 50.0),
            "momentum": rsi(bars_frame, config.rsi_period).to_numpy(),
            "macd": np.where(close > 0.0, _tanh_score(histogram / (close * config.macd_scale)), 50.0),
            "bands": 100.0 * np.clip(percent_b, 0.0, 1.0),
            "flow": np.where(volume > 0.0, 50.0 + 50.0 * (2.0 * bars_frame["buy_volume"] - volume) / volume, 50.0),
        }
    frame = pd.DataFrame(scores)
    cold = np.isnan(average) | np.isnan(histogram) | np.isnan(percent_b) | np.isnan(scores["momentum"])
    frame[cold] = np.nan
    return frame


def _weighted(columns: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    total_weight = sum(weights.get(key, 0.0) for key in columns)
    if not total_weight:
        return np.full(len(next(iter(columns.values()))), 50.0)
    total = np.zeros(len(next(iter(columns.values()))))
    for key, values in columns.items():
        total = total + values * weights.get(key, 0.0)
    result: np.ndarray = total / total_weight
    return result


def _timeframe_rows(trades: pd.DataFrame, timeframe: str, order: int, config: ConfluenceConfig) -> pd.DataFrame:
    frame_bars = bars(trades, timeframe)
    components = component_frame(frame_bars, config)
    rows = pd.DataFrame({"trade": closing_trades(trades, timeframe), "order": order, "timeframe": timeframe})
    rows["open_ns"] = frame_bars["open_ns"].to_numpy()
    rows[f"score:{timeframe}"] = _weighted({k: components[k].to_numpy() for k in COMPONENTS}, config.weights)
    for component in COMPONENTS:
        rows[f"{timeframe}:{component}"] = components[component].to_numpy()
    return rows


def stances(total: np.ndarray, config: ConfluenceConfig) -> np.ndarray:
    """The stance after each total, from neutral, by ``next_stance``'s rules (no per-row loop)."""
    long, short = total >= config.long, (total <= config.short) & (total < config.long)
    in_long, in_short = total >= config.long - config.hysteresis, total <= config.short + config.hysteresis
    decisive = long | short | ~(in_long | in_short)
    own = np.where(long, "long", np.where(short, "short", "neutral"))
    run = np.cumsum(decisive)
    last_decisive = np.maximum.accumulate(np.where(decisive, np.arange(len(total)), -1))
    anchor = np.where(last_decisive >= 0, own[np.maximum(last_decisive, 0)], "neutral")
    kept = ((anchor == "long") & in_long) | ((anchor == "short") & in_short)
    broken = pd.Series(~kept & ~decisive).groupby(run).cummax().to_numpy(bool)
    return np.where(decisive, own, np.where(broken, "neutral", anchor)).astype(object)


def confluence(trades: pd.DataFrame, config: ConfluenceConfig | None = None) -> pd.DataFrame:
    """The ``confluence`` analyzer's scores for ``trades``: a row per score it emits.

    Columns: ``trade`` (index of the trade whose bar it follows), ``timeframe`` and
    ``open_ns`` of that bar, ``total``, ``state``, ``signal`` (True where the
    stance changed: a ``Signal`` is emitted), ``score:<tf>`` per timeframe and
    ``<tf>:<component>``.
    """
    config = config or ConfluenceConfig()
    parts = [_timeframe_rows(trades, tf, i, config) for i, tf in enumerate(config.timeframes)]
    rows = pd.concat(parts, ignore_index=True).sort_values(["trade", "order"], kind="stable", ignore_index=True)
    carried = [c for c in rows.columns if c not in ("trade", "order", "timeframe", "open_ns")]
    rows[carried] = rows[carried].ffill()
    scores = [f"score:{tf}" for tf in config.timeframes]
    rows = rows[rows[scores].notna().all(axis=1)].reset_index(drop=True)
    per_frame = {tf: rows[f"score:{tf}"].to_numpy() for tf in config.timeframes}
    rows.insert(4, "total", _weighted(per_frame, config.timeframes) if len(rows) else np.empty(0))
    state = stances(rows["total"].to_numpy(), config)
    rows.insert(5, "state", state)
    rows.insert(6, "signal", state != np.r_[["neutral"], state[:-1]].astype(object))
    return rows.drop(columns="order")
