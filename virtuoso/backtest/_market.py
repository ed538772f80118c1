"""What a report draws beside the ledger, read from the log: the traded prices at trade resolution and
the series the strategy consumed (bars, indicators, confluence scores, signals of the run's analyzers).

Also :func:`load_result`, the :class:`BacktestResult` of any finished backtest run of a log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from virtuoso.backtest._format import section
from virtuoso.backtest._result import BacktestResult
from virtuoso.backtest._run import BACKTEST_SOURCE, read_ledger
from virtuoso.errors import UsageError
from virtuoso.export import to_frame
from virtuoso.store import EventStore, SessionInfo

SERIES_COLUMNS = ("ts_ns", "name", "value")
"""The columns of :attr:`MarketData.series`."""


@dataclass(frozen=True, eq=False)
class MarketData:
    """The market a backtest ran on, as its report draws it.

    ``trades``: ``ts_ns, symbol, price`` of every recorded trade of the traded symbols
    within the run's span; ``series``: ``ts_ns, name, value`` of every analyzer output
    of the run (``bars:1s`` closes, ``rsi:1m`` values, ``confluence`` scores);
    ``signals``: ``ts_ns, source, state`` of its signals.
    """

    trades: pd.DataFrame
    series: pd.DataFrame
    signals: pd.DataFrame

    @classmethod
    def empty(cls) -> MarketData:
        """No market data: the report falls back to the equity marks' prices."""
        return cls(
            pd.DataFrame({"ts_ns": np.empty(0, np.int64), "symbol": [], "price": np.empty(0)}),
            pd.DataFrame({"ts_ns": np.empty(0, np.int64), "name": [], "value": np.empty(0)}),
            pd.DataFrame({"ts_ns": np.empty(0, np.int64), "source": [], "state": []}),
        )


async def finished_run(store: EventStore, run: str) -> SessionInfo:
    """The session of backtest run ``run`` (an id or a unique prefix), refused unless it finished."""
    info = await store.session(run)
    if info.source != BACKTEST_SOURCE:
        raise UsageError(f"session {info.id[:12]} is a {info.source!r} session, not a backtest run")
    if info.status != "closed" or not info.end_reason.startswith("{"):
        raise UsageError(f"backtest run {info.id[:12]} did not finish ({info.status}): nothing to report")
    return info


async def load_result(store: EventStore, run: str) -> BacktestResult:
    """The result of the finished backtest run ``run`` of ``store``, rebuilt from its ledger and manifest."""
    info = await finished_run(store, run)
    config: dict[str, Any] = dict(info.manifest.get("config", {}))
    venue = section(config, "venue")
    if "initial_cash" not in venue or "mark_interval_s" not in venue:
        raise UsageError(f"backtest run {info.id[:12]}: its manifest holds no venue settings (initial cash, marks)")
    recorded = json.loads(info.end_reason)
    return BacktestResult.from_events(
        await read_ledger(store, info.id), run=info.id, digest=str(recorded["digest"]),
        events_in=int(recorded["events_in"]), initial_cash=float(venue["initial_cash"]),
        interval_ns=int(float(venue["mark_interval_s"]) * 1e9), config=config, cached=True,
    )  # fmt: skip


async def load_market_data(store: EventStore, result: BacktestResult) -> MarketData:
    """The traded prices (input sessions, the run's span) and the analyzer outputs of ``result``'s run.

    A run that was not written to the log (``run_backtest(..., write=False)``, as a
    sweep's tasks) has no analyzer outputs to read: its series are empty.
    """
    symbols = set(result.frames.symbols())
    span = result.equity["ts_ns"]
    start, end = (int(span.iloc[0]), int(span.iloc[-1]) + 1) if len(span) else (None, None)
    sessions = section(result.config, "inputs").get("sessions", [])
    trades = [await _trades(store, s, symbols, start, end) for s in sessions]
    empty = MarketData.empty()
    written = any(info.id == result.run for info in await store.sessions())  # a run made with write=False is not
    return MarketData(
        pd.concat([empty.trades, *trades], ignore_index=True).sort_values("ts_ns", kind="stable", ignore_index=True),
        await _series(store, result.run) if written else empty.series,
        await _signals(store, result.run) if written else empty.signals,
    )


async def with_market(store: EventStore, result: BacktestResult) -> tuple[BacktestResult, MarketData]:
    """``result`` with its market's trade prices (exact MAE/MFE), and that market data for its report."""
    market = await load_market_data(store, result)
    return result.with_prices(market.trades), market


async def _trades(
    store: EventStore, session: str, symbols: set[str], start: int | None, end: int | None
) -> pd.DataFrame:
    frame = await to_frame(store, session=session, types="Trade", start_ns=start, end_ns=end)
    symbol = frame["stream"].str.split(":").str[1]
    chosen = symbol.isin(symbols).to_numpy()
    return pd.DataFrame({
        "ts_ns": frame["ts_event"].to_numpy(np.int64)[chosen],
        "symbol": symbol.to_numpy()[chosen],
        "price": frame["price"].to_numpy(np.float64)[chosen],
    })  # fmt: skip


async def _series(store: EventStore, run: str) -> pd.DataFrame:
    parts = [MarketData.empty().series]
    bars = await to_frame(store, session=run, types="Bar")
    if len(bars):
        closed = bars[bars["closed"]]
        parts.append(_named(closed["open_ns"], "bars:" + closed["timeframe"].astype(str), closed["close"]))
    indicators = await to_frame(store, session=run, types="IndicatorValue")
    if len(indicators):
        names = indicators["name"].astype(str) + ":" + indicators["timeframe"].astype(str)
        parts.append(_named(indicators["ts_event"], names.str.rstrip(":"), indicators["value"]))
    scores = await to_frame(store, session=run, types="ConfluenceScore")
    if len(scores):
        parts.append(_named(scores["ts_event"], pd.Series("confluence", index=scores.index), scores["total"]))
    return pd.concat(parts, ignore_index=True)


def _named(ts_ns: pd.Series, names: pd.Series, values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "ts_ns": ts_ns.to_numpy(np.int64), "name": names.to_numpy(dtype=object), "value": values.to_numpy(np.float64),
    })  # fmt: skip


async def _signals(store: EventStore, run: str) -> pd.DataFrame:
    frame = await to_frame(store, session=run, types="Signal")
    if not len(frame):
        return MarketData.empty().signals
    return pd.DataFrame({
        "ts_ns": frame["ts_event"].to_numpy(np.int64), "source": frame["source"].to_numpy(dtype=object),
        "state": frame["state"].to_numpy(dtype=object),
    })  # fmt: skip
