"""Garbage from the exchange never ends a recording and never enters the log as market data.

A scripted exchange with ccxt's interface stands in for ccxt (a foreign
library) and answers with garbage of every kind issue 18 lists: ccxt's own
exceptions for truncated, empty or HTML bodies, parse errors raised inside
ccxt, an object where a list is expected, missing fields, NaN / zero /
negative values, ids backwards or repeating, a page out of order, absurd
timestamps, a stall, a sequence reset, a symbol the exchange no longer knows.
The recorder, the log (a real SQLite file) and the clock are real.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.integration._cli import cli, cli_json
from virtuoso.clock import LiveClock
from virtuoso.errors import StoreFullError
from virtuoso.events import (
    BookSnapshot,
    ChannelRestarted,
    Event,
    Gap,
    HealthReported,
    Note,
    PayloadRejected,
    Trade,
    event_problem,
)
from virtuoso.exchange import (
    Channel,
    Emitter,
    RecordConfig,
    RecordingFailed,
    ResilienceSettings,
    Secrets,
    passthrough,
    record,
)
from virtuoso.exchange._ccxt import ccxt_module
from virtuoso.exchange._collectors import Collector, Wiring
from virtuoso.exchange._supervisor import Supervisor
from virtuoso.exchange._validate import Rejections
from virtuoso.store import EventFilter, open_sqlite_store

TIMEOUT_S = 15.0
NOW_MS = time.time_ns() // 1_000_000  # live recordings check exchange times against their receive time
MARKETS = {
    symbol: {"symbol": symbol, "id": symbol.replace("/", ""), "base": symbol[:3], "quote": "USDT"}
    for symbol in ("BTC/USDT", "ETH/USDT")
}


def trade(i: int, **changes: Any) -> dict[str, Any]:
    return {"id": str(i), "timestamp": NOW_MS + i, "price": 100.0 + i, "amount": 0.5, "side": "buy", **changes}


def book(nonce: int, bid: float = 99.0) -> dict[str, Any]:
    return {"bids": [[bid, 1.0]], "asks": [[101.0, 2.0]], "nonce": nonce, "timestamp": NOW_MS}


class Scripted:
    """ccxt's calls answered from scripts per (method, symbol); an exception in a script is raised.

    ``Stall`` in a script waits until the call is cancelled; an exhausted script waits
    forever, and once every script is exhausted ``drained`` is set.
    """

    has: ClassVar[dict[str, bool]] = {"watchTrades": True, "watchOrderBook": True}

    def __init__(self, scripts: dict[tuple[str, str], list[Any]]) -> None:
        self.scripts = scripts
        self.drained = asyncio.Event()
        self.calls: list[tuple[str, str]] = []

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        return MARKETS

    async def _next(self, method: str, symbol: str) -> Any:
        self.calls.append((method, symbol))
        script = self.scripts.get((method, symbol), [])
        if not script:
            if all(not s for s in self.scripts.values()):
                self.drained.set()
            await asyncio.Event().wait()
        item = script.pop(0)
        if all(not s for s in self.scripts.values()):
            self.drained.set()
        if item is STALL:
            await asyncio.Event().wait()
        if isinstance(item, BaseException):
            raise item
        return item

    async def watch_trades(self, symbol: str) -> Any:
        return await self._next("trades", symbol)

    async def fetch_trades(self, symbol: str, since: Any = None, limit: Any = None, params: Any = None) -> Any:
        return await self._next("trades", symbol)

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> Any:
        return await self._next("book", symbol)


STALL = object()


def _config(**changes: Any) -> RecordConfig:
    base: dict[str, Any] = {
        "exchange": "binance",
        "symbols": ("BTC/USDT",),
        "channels": (Channel("trades"),),
        "poll_interval_s": 0.01,
        "health_interval_s": 0.05,
        "restart_base_s": 0.01,
        "restart_max_s": 0.05,
        "max_time_ahead_s": 3600.0,
        "resilience": ResilienceSettings(
            max_attempts=3, base_delay_s=0.001, max_delay_s=0.005, failure_threshold=100, seed=7
        ),
    }
    return RecordConfig(**{**base, **changes})


async def _record(db: Path, exchange: Scripted, config: RecordConfig) -> dict[str, Any]:
    stop = asyncio.Event()

    async def stopper() -> None:
        await exchange.drained.wait()
        await asyncio.sleep(0.1)  # let the last health report and rejection notes through
        stop.set()

    task = asyncio.create_task(stopper())
    try:
        return await asyncio.wait_for(record(config, db, stop=stop, exchange=exchange), TIMEOUT_S)
    finally:
        task.cancel()


async def _log(db: Path) -> list[Event]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [e async for e in store.read(EventFilter())]
    finally:
        await store.close()


def _trade_ids(events: list[Event]) -> list[str]:
    return [e.payload.trade_id for e in events if isinstance(e.payload, Trade)]


def _rejected(events: list[Event]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        if isinstance(event.payload, PayloadRejected):
            counts[event.payload.reason] = counts.get(event.payload.reason, 0) + event.payload.count
    return counts


def _clean(events: list[Event]) -> None:
    assert [e for e in events if event_problem(e) is not None] == []


@pytest.mark.asyncio
async def test_every_kind_of_garbage_in_trades_is_retried_or_rejected_and_the_recording_goes_on(
    db_path: Path,
) -> None:
    ccxt = ccxt_module()
    script: list[Any] = [
        [trade(1), trade(2)],
        {"code": -1121, "msg": "an object where a list is expected"},
        ccxt.BadResponse('binance GET aggTrades [{"a": 1, "p": "10'),  # a truncated body
        ccxt.NullResponse("binance GET aggTrades returned an empty response"),
        ccxt.ExchangeError("binance <html><body>502 Bad Gateway</body></html>"),  # HTML with status 200
        KeyError("a"),  # ccxt's parser on a row without the field it reads
        TypeError("'NoneType' object is not subscriptable"),
        ValueError("could not convert string to float: '10"),
        [
            trade(3, id=None),
            trade(4, price=float("nan")),
            trade(5, amount=-1.0),
            trade(6, price=0.0),
            "not a trade",
            trade(7, timestamp=NOW_MS + 10 * 3_600_000),  # ten hours ahead of its receive time
            trade(8, side="both"),
            trade(9, price=None),
            trade(10),
        ],
        [trade(10), trade(2)],  # repeating, and an id from before
        [trade(13), trade(11), trade(12)],  # out of order
        [],
        [trade(14)],
    ]
    exchange = Scripted({("trades", "BTC/USDT"): script})
    summary = await _record(db_path, exchange, _config())
    events = await _log(db_path)

    assert summary["status"] == "closed"
    assert summary["reason"] == "stopped"
    assert _trade_ids(events) == ["1", "2", "10", "11", "12", "13", "14"]
    _clean(events)
    rejected = _rejected(events)
    [ahead] = [reason for reason in rejected if reason.startswith("exchange time ")]
    assert ahead.endswith("s after its receive time (limit 3600 s)")
    assert rejected == {
        "trade has no id": 1,
        "price nan is not a finite number > 0": 1,
        "amount -1.0 is not a finite number > 0": 1,
        "price 0.0 is not a finite number > 0": 1,
        "trade is a str, not an object": 1,
        ahead: 1,
        "side 'both' is neither 'buy' nor 'sell'": 1,
        "price None is not a number": 1,
    }
    assert {(r["reason"], r["count"]) for r in summary["rejected"]} == set(rejected.items())
    [gap] = [e.payload for e in events if isinstance(e.payload, Gap)]
    assert gap.reason.endswith("trade ids 3..9 missing")  # what was rejected is declared missing
    assert summary["breaker_transitions"] == []  # failure_threshold 100: the guard retried, the breaker counted
    assert exchange.calls.count(("trades", "BTC/USDT")) >= len(script)
    shown = await asyncio.to_thread(cli_json, "status", "--db", db_path)
    assert {(r["reason"], r["count"]) for r in shown["rejected"]} == set(rejected.items())
    table = (await asyncio.to_thread(cli, "status", "--db", db_path)).stdout
    assert "rejected" in table
    assert "trade has no id" in table


@pytest.mark.asyncio
async def test_a_truncated_rest_page_mid_recording_does_not_end_it(db_path: Path) -> None:
    ccxt = ccxt_module()
    script = [[trade(1), trade(2)], ccxt.BadResponse('[{"a": 3, "p": "10'), [trade(3), trade(4)]]
    exchange = Scripted({("trades", "BTC/USDT"): script})
    summary = await _record(db_path, exchange, _config(mode="rest"))
    events = await _log(db_path)
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    assert _trade_ids(events) == ["1", "2", "3", "4"]
    assert not any(isinstance(e.payload, Gap) for e in events)  # the page was fetched again: nothing missing


@pytest.mark.asyncio
async def test_book_garbage_resyncs_and_a_sequence_reset_is_a_gap_and_a_fresh_snapshot(db_path: Path) -> None:
    script: list[Any] = [
        book(10),
        book(11, bid=98.0),
        {"bids": "nope", "asks": []},
        {"bids": [[float("nan"), 1.0]], "asks": [[101.0, 2.0]], "nonce": 12},
        {"bids": [[99.0]], "asks": [], "nonce": 12},
        [1, 2, 3],
        book(12, bid=97.0),
        book(3, bid=96.0),  # the venue's sequence went back: reset
        book(4, bid=95.0),
    ]
    exchange = Scripted({("book", "BTC/USDT"): script})
    summary = await _record(db_path, exchange, _config(channels=(Channel("book"),)))
    events = await _log(db_path)
    assert summary["reason"] == "stopped"
    _clean(events)
    snapshots = [e.payload.sequence for e in events if isinstance(e.payload, BookSnapshot)]
    gaps = [e.payload.reason for e in events if isinstance(e.payload, Gap)]
    assert snapshots[0] == 10
    assert 3 in snapshots
    assert any("update id went back from 12 to 3" in reason for reason in gaps)
    assert any("BadAnswer" in reason for reason in gaps)  # the garbage books interrupted the stream


@pytest.mark.asyncio
async def test_a_stalled_watch_is_a_fault_that_is_retried(db_path: Path) -> None:
    script: list[Any] = [[trade(1)], STALL, [trade(2)]]
    exchange = Scripted({("trades", "BTC/USDT"): script})
    summary = await _record(db_path, exchange, _config(stall_timeout_s=0.05))
    events = await _log(db_path)
    assert summary["reason"] == "stopped"
    assert _trade_ids(events) == ["1", "2"]
    assert exchange.calls.count(("trades", "BTC/USDT")) >= 3


@pytest.mark.asyncio
async def test_an_unknown_symbol_stops_alone_and_the_other_keeps_recording(db_path: Path) -> None:
    ccxt = ccxt_module()
    exchange = Scripted(
        {
            ("trades", "BTC/USDT"): [[trade(1)], [trade(2)], [trade(3)]],
            ("trades", "ETH/USDT"): [[trade(1)], ccxt.BadSymbol("binance does not have market symbol ETH/USDT")],
        }
    )
    summary = await _record(db_path, exchange, _config(symbols=("BTC/USDT", "ETH/USDT")))
    events = await _log(db_path)
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    btc = [e.payload.trade_id for e in events if isinstance(e.payload, Trade) and e.stream.startswith("binance:BTC")]
    assert btc == ["1", "2", "3"]
    [stopped] = [e.payload for e in events if isinstance(e.payload, ChannelRestarted)]
    assert (stopped.stream, stopped.stopped) == ("binance:ETH/USDT:trades", True)
    assert "BadSymbol" in stopped.reason
    [note] = [e.payload for e in events if isinstance(e.payload, Note) and e.payload.level == "warning"]
    assert note.message.startswith("ETH/USDT stopped: BadSymbol")
    channel_health = [
        (c.name, c.status)
        for e in events
        if isinstance(e.payload, HealthReported)
        for c in e.payload.components
        if c.name.startswith("channel ")
    ]
    assert ("channel binance:ETH/USDT:trades", "degraded") in channel_health
    assert ("channel binance:BTC/USDT:trades", "ok") in channel_health


@pytest.mark.asyncio
async def test_when_every_symbol_is_gone_the_recording_fails_and_credentials_end_it_at_once(db_path: Path) -> None:
    ccxt = ccxt_module()
    gone = Scripted({("trades", "BTC/USDT"): [[trade(1)], ccxt.BadSymbol("binance does not have market symbol")]})
    with pytest.raises(RecordingFailed, match=r"failed: BadSymbol: binance watch_trades"):
        await asyncio.wait_for(record(_config(), db_path, exchange=gone), TIMEOUT_S)
    refused = Scripted({("trades", "BTC/USDT"): [ccxt.AuthenticationError("binance Invalid API-key")]})
    with pytest.raises(RecordingFailed, match=r"failed: AuthenticationFailed"):
        await asyncio.wait_for(record(_config(), db_path, exchange=refused), TIMEOUT_S)


class _Buggy(Collector):
    """A channel whose own code fails twice (as a bug of ours would) before it records."""

    channel_name = "trades"

    def __init__(self, wiring: Wiring, failures: int) -> None:
        super().__init__(wiring, "BTC/USDT", Channel("trades"), passthrough, websocket=True)
        self.failures = failures
        self.recorded = asyncio.Event()

    async def step(self) -> None:
        if self.failures:
            self.failures -= 1
            raise AttributeError("'NoneType' object has no attribute 'get'")
        self.recorded.set()
        await asyncio.Event().wait()


class _Published:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


def _wired() -> tuple[_Published, Wiring]:
    """A channel's wiring whose events are kept in a list (no store, no exchange)."""
    published = _Published()
    emitter = Emitter(published, LiveClock(), session="s", exchange="binance")
    config = _config()
    return published, Wiring(object(), emitter, config, Secrets.of(config), Rejections(emitter, Secrets.of(config)))


@pytest.mark.asyncio
async def test_a_bug_of_ours_restarts_the_channel_with_backoff_in_the_log_and_is_never_eaten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    published, wiring = _wired()
    buggy = _Buggy(wiring, failures=2)
    supervisor = Supervisor([buggy], wiring.emitter, LiveClock(), base_s=0.01, max_s=0.015)
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(buggy.recorded.wait(), TIMEOUT_S)
    assert supervisor.health()[0].status == "ok"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # stop() cancels: the supervisor lets the cancellation through
    restarts = [e.payload for e in published.events if isinstance(e.payload, ChannelRestarted)]
    assert [(r.restarts, r.delay_s, r.stopped) for r in restarts] == [(1, 0.01, False), (2, 0.015, False)]
    assert restarts[0].reason == "AttributeError: 'NoneType' object has no attribute 'get'"
    assert {e.stream for e in published.events} == {"system:s:channels"}
    tracebacks = [r for r in caplog.records if r.exc_info and r.name == "virtuoso.exchange"]
    assert len(tracebacks) == 2  # the bug is in the log with its traceback, each time


class _StoreFull(Collector):
    """A channel whose publish meets the event log's full disk (the writer's error surfaces in the channel)."""

    channel_name = "trades"

    def __init__(self, wiring: Wiring) -> None:
        super().__init__(wiring, "BTC/USDT", Channel("trades"), passthrough, websocket=True)
        self.steps_tried = 0

    async def step(self) -> None:
        self.steps_tried += 1
        raise StoreFullError("live.sqlite: the disk is full (or a file size limit reached)")


@pytest.mark.asyncio
async def test_the_event_log_failing_under_a_channel_ends_the_recording_without_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    published, wiring = _wired()
    full = _StoreFull(wiring)
    supervisor = Supervisor([full], wiring.emitter, LiveClock(), base_s=0.01, max_s=0.015)
    with pytest.raises(StoreFullError, match="disk is full"):
        await asyncio.wait_for(supervisor.run(), TIMEOUT_S)
    assert full.steps_tried == 1  # a restart cannot free the disk: once, then the recording ends
    assert not [e for e in published.events if isinstance(e.payload, ChannelRestarted)]
    assert not [r for r in caplog.records if r.exc_info]  # one line at the CLI, not a traceback in the log


class _MarketsFail(Scripted):
    """Markets fine at the start; every refresh then fails inside ccxt's parsing."""

    loads = 0

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        self.loads += 1
        if self.loads > 1:
            raise KeyError("precision")
        return MARKETS


@pytest.mark.asyncio
async def test_a_failing_markets_refresh_is_noted_and_the_recording_goes_on(db_path: Path) -> None:
    exchange = _MarketsFail({("trades", "BTC/USDT"): [[trade(1)], [trade(2)]]})

    async def refreshed_and_reported() -> None:
        while exchange.loads < 3:  # noqa: ASYNC110 - the stand-in has no refresh notification to wait on
            await asyncio.sleep(0.01)
        # Stop only once a health report with the markets degraded is committed: under load it may come late.
        while not _markets_degraded(await _log(db_path)):  # noqa: ASYNC110 - committed events have no notification
            await asyncio.sleep(0.02)

    exchange.drained = _Both(exchange.drained, refreshed_and_reported)  # type: ignore[assignment]
    summary = await _record(db_path, exchange, _config(markets_ttl_s=0.05))
    events = await _log(db_path)
    assert (summary["status"], summary["reason"]) == ("closed", "stopped")
    assert _trade_ids(events) == ["1", "2"]
    notes = [e.payload.message for e in events if isinstance(e.payload, Note) and e.payload.level == "warning"]
    # Once, not per refresh: an answer ccxt cannot parse is the call's fault, so the last markets stay in use.
    [note] = notes
    assert re.fullmatch(
        r"binance markets are stale: from the exchange's last answer, \d+ s old"
        r" \(the exchange failed: BadAnswer: load_markets: KeyError: 'precision'\)",
        note,
    ), note
    assert _markets_degraded(events)


def _markets_degraded(events: list[Event]) -> bool:
    """Whether a health report among ``events`` has the markets degraded."""
    return any(
        c.name == "markets binance" and c.status == "degraded"
        for e in events
        if isinstance(e.payload, HealthReported)
        for c in e.payload.components
    )


class _Both:
    """An event-like ``wait()`` that returns once ``event`` is set and ``also()`` returned."""

    def __init__(self, event: asyncio.Event, also: Any) -> None:
        self._event, self._also = event, also

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        await self._also()
