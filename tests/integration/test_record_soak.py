"""A short soak: ``virtuoso record`` through seeded chaos, looping the capture, rotating sessions, then SIGINT.

The harness is ``benchmarks/soak.py`` (``make soak`` runs it for ten minutes and
prints the figures of ``docs/recording.md``); here it records for 12 s of wall
time. The recorder is a child process reading real ccxt.pro frames from the
loopback exchange, which plays the BTCUSDT capture lap after lap as fast as the
recorder reads, with faults drawn from its whole WebSocket catalogue, the venue's
forced reconnect at the connection lifetime (scaled down from Binance's 24 h to
a few minutes of playback, so that a connection lives that long between chaos's
disconnects), and sessions rotating every 2 s of the recorder's clock.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks.soak import (
    RSS_BOUND_MB,
    WAL_BOUND_MB,
    BookCheck,
    Sample,
    SoakPlan,
    SoakResult,
    check,
    figures,
    run_soak,
)
from tests.integration.test_record_cli import _data_dir

PLAN = SoakPlan(wall_s=12.0, seed=18, chaos_rate=0.0005, rotate="2s", connection_hours=0.03)
LONG = replace(PLAN, wall_s=600.0)


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_soak_keeps_every_trade_once_or_declared_and_the_book_and_log_sound(tmp_path: Path) -> None:
    result = await run_soak(PLAN, _data_dir(), tmp_path)
    table = figures(result)
    print(table)

    assert check(result) == []  # includes peak RSS under RSS_BOUND_MB and the WAL under WAL_BOUND_MB
    assert result.trades > 1_000, table
    assert result.book.snapshots >= 2, table  # the first book and at least one after a rotation or a resync
    assert result.book.rebuilt >= 1, table
    assert len(result.listed) >= 3, table  # sessions list shows the chain (check() compares each previous)
    assert result.faults.get("reconnect (24 h lifetime)", 0) >= 1, table
    assert sum(result.faults.values()) >= 5, table
    assert result.rss_peak_kb > 0, table
    assert len(result.samples) >= 10, table


def _sound() -> SoakResult:
    result = SoakResult(PLAN, alive_at_end=True, recording_after_s=5.0, exit_code=0, verify_exit=0)
    result.listed = [{"id": "a", "previous": None}, {"id": "b", "previous": "a"}]
    result.samples = [Sample(1.0, 150 * 1024, 2**20, True)]
    result.rss_peak_kb = 150 * 1024
    return result


BROKEN: list[tuple[str, dict[str, Any]]] = [
    ("never recorded", {"recording_after_s": None}),
    ("died before SIGINT", {"alive_at_end": False}),
    ("exit 1", {"exit_code": 1}),
    ("a trade twice", {"duplicates": 1}),
    ("a trade never served", {"not_served_intact": 1}),
    ("a hole without a gap", {"undeclared": [7]}),
    ("a book differs", {"book": BookCheck(1, 0, ["snapshot at position 9: update id 5 differs"])}),
    ("verify fails", {"verify_exit": 1}),
    ("no chain", {"listed": [{"id": "a", "previous": None}, {"id": "b", "previous": None}]}),
    ("one session", {"listed": [{"id": "a", "previous": None}]}),
    ("RSS over the bound", {"rss_peak_kb": RSS_BOUND_MB * 1024}),
    ("WAL over the bound", {"samples": [Sample(1.0, 1, WAL_BOUND_MB * 2**20, True)]}),
    ("RSS not flat", {"plan": LONG, "samples": [Sample(float(t), 100_000 + 1_000 * t, 0, True) for t in range(60)]}),
]


def test_check_passes_a_sound_soak() -> None:
    assert check(_sound()) == []
    flat = [Sample(float(t), 300_000 + 100 * t, 0, True) for t in range(60)]  # +2 % over the second half
    assert check(replace(_sound(), plan=LONG, samples=flat)) == []


@pytest.mark.parametrize(("name", "change"), BROKEN, ids=[name for name, _ in BROKEN])
def test_check_names_each_broken_promise(name: str, change: dict[str, Any]) -> None:
    result = replace(_sound(), **change)
    assert len(check(result)) == 1, name
