"""The health of a recording read from a real SQLite log, and ``virtuoso status`` on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json
from virtuoso.events import BreakerStateChanged, ComponentHealth, Event, EventIdFactory, Gap, HealthReported, Trade
from virtuoso.resilience import HealthThresholds, session_health
from virtuoso.store import open_sqlite_store

START = 1_723_161_255_000_000_000
S = 1_000_000_000
BTC = "binance:BTC/USDT:trades"
ETH = "binance:ETH/USDT:trades"
HEALTH = "system:health"
LIMITS = HealthThresholds(stale_degraded_s=10, stale_down_s=60)


def trade(ids: EventIdFactory, session: str, stream: str, second: int, lag_ms: int = 5) -> Event:
    ts = START + second * S
    return Event(
        ids(ts + (stream == ETH)), stream, ts, ts + lag_ms * 1_000_000, session, Trade(1.0, 1.0, "buy", str(second))
    )


def system(ids: EventIdFactory, session: str, second: int, payload: object) -> Event:
    ts = START + second * S
    return Event(ids(ts + 7), HEALTH, ts, ts, session, payload)  # type: ignore[arg-type]


async def record(path: Path, *, close: bool = True) -> str:
    """One session: BTC trades every second for 100 s, ETH trades stop at 20 s; a breaker opens at 21 s
    and half-opens at 51 s; one gap; a health report at 90 s. Ended at 100 s unless ``close`` is False."""
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session("live", "binance", started_ns=START, symbols=("BTC/USDT", "ETH/USDT"))
        ids = EventIdFactory(info.id)
        events = [trade(ids, info.id, BTC, s) for s in range(1, 101)]
        events += [trade(ids, info.id, ETH, s) for s in range(1, 21)]
        events += [
            system(ids, info.id, 21, BreakerStateChanged("binance:ws:ETH", "closed", "open", "5 failures in 60 s", 5)),
            system(ids, info.id, 51, BreakerStateChanged("binance:ws:ETH", "open", "half_open", "open for 30 s")),
            system(ids, info.id, 22, Gap(ETH, START + 20 * S, START + 22 * S, "disconnected")),
            system(
                ids, info.id, 90, HealthReported((ComponentHealth("writer backlog", "degraded", "12000"),), "degraded")
            ),
        ]
        events.sort(key=lambda e: e.ts_event)
        await store.append(events)
        if close:
            await store.end_session(info.id, ended_ns=START + 100 * S, reason="stopped")
        return info.id
    finally:
        await store.close()


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "rec.sqlite"
    return path, asyncio.run(record(path))


@pytest.mark.asyncio
async def test_a_closed_session_is_judged_at_its_end(log: tuple[Path, str]) -> None:
    path, session = log
    store = await open_sqlite_store(path, readonly=True)
    try:
        health = await session_health(store, None, now_ns=START + 10**6 * S, thresholds=LIMITS)
    finally:
        await store.close()

    assert health.session.id == session
    assert health.as_of_ns == START + 100 * S
    assert health.status == "down"
    by_name = {c.name: c for c in health.components}
    assert by_name["session"] == ComponentHealth("session", "ok", "closed: stopped")
    assert by_name[f"stream {BTC}"].status == "ok"
    assert by_name[f"stream {ETH}"] == ComponentHealth(f"stream {ETH}", "down", "last event 80.0 s ago")
    assert by_name["breaker binance:ws:ETH"] == ComponentHealth(
        "breaker binance:ws:ETH", "degraded", "half_open: open for 30 s"
    )
    assert by_name["gaps"].status == "degraded"
    assert by_name["last health report"] == ComponentHealth("last health report", "degraded", "writer backlog degraded")
    assert [(s.stream, s.events, s.gaps) for s in health.streams] == [(BTC, 100, 0), (ETH, 20, 1)]
    assert health.streams[1].last_ts_recv == START + 20 * S + 5_000_000
    assert health.streams[1].age_s == pytest.approx(79.995)
    assert health.gaps == 1
    assert health.last_report_ns == START + 90 * S


@pytest.mark.asyncio
async def test_an_open_session_is_judged_at_now(tmp_path: Path) -> None:
    path = tmp_path / "open.sqlite"
    await record(path, close=False)
    store = await open_sqlite_store(path, readonly=True)
    try:
        fresh = await session_health(store, None, now_ns=START + 101 * S, thresholds=LIMITS)
        later = await session_health(store, None, now_ns=START + 200 * S, thresholds=LIMITS)
    finally:
        await store.close()

    assert fresh.session.status == "open"
    assert fresh.as_of_ns == START + 101 * S
    assert fresh.components[0] == ComponentHealth("session", "ok", "open (recording)")
    assert fresh.components[1].status == "ok"  # BTC: 1 s old
    assert later.components[1] == ComponentHealth(f"stream {BTC}", "down", "last event 100.0 s ago")


def test_status_cli_prints_the_health_and_exits_3_when_down(log: tuple[Path, str]) -> None:
    path, session = log

    result = cli("status", "--db", path, "--stale-after", "10", "--down-after", "60")

    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == f"session {session[:12]} live (closed) as of 2024-08-08T23:55:55Z: down"
    assert any(line.split()[:3] == ["stream", ETH, "down"] for line in lines)
    assert any(line.split() == [ETH, "20", "2024-08-08T23:54:35.005Z", "79.995", "1"] for line in lines)


def test_status_cli_is_ok_with_looser_thresholds_and_takes_a_session_prefix(log: tuple[Path, str]) -> None:
    path, session = log
    # breaker half-open, a gap and a degraded report keep it degraded: still exit 0
    result = cli("status", "--db", path, "--session", session[:6], "--down-after", "1000")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(": degraded")


def test_status_cli_json(log: tuple[Path, str]) -> None:
    path, session = log

    data = cli_json("status", "--db", path, "--down-after", "1000")

    assert (data["session"], data["session_status"], data["status"], data["gaps"]) == (session, "closed", "degraded", 1)
    assert data["breakers"]["binance:ws:ETH"]["new"] == "half_open"
    assert data["last_report"]["status"] == "degraded"
    assert [s["stream"] for s in data["streams"]] == [BTC, ETH]


def test_status_cli_errors_are_one_line(tmp_path: Path) -> None:
    missing = cli("status", "--db", tmp_path / "nope.sqlite")
    assert (missing.exit_code, len(missing.stderr.splitlines())) == (1, 1)

    empty_log = tmp_path / "empty.sqlite"

    async def make() -> None:
        await (await open_sqlite_store(empty_log)).close()

    asyncio.run(make())
    result = cli("status", "--db", empty_log)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: the log has no sessions ({empty_log})"
