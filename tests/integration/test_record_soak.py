"""A short soak: ``virtuoso record`` through seeded chaos, looping the capture, rotating sessions, then SIGINT.

The harness is ``benchmarks/soak.py`` (``make soak`` runs it for ten minutes and
prints the figures of ``docs/recording.md``); here it records for 12 s of wall
time. The recorder is a child process reading real ccxt.pro frames from the
loopback exchange, which plays the BTCUSDT capture lap after lap as fast as the
recorder reads, with faults drawn from its whole WebSocket catalogue, the venue's
forced reconnect at the connection lifetime (scaled down from Binance's 24 h to
a few minutes of playback, so that a connection lives that long between chaos's
disconnects), and sessions rotating every 3 s of the recorder's clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import SoakPlan, check, figures, run_soak
from tests.integration.test_record_cli import _data_dir

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

PLAN = SoakPlan(wall_s=12.0, seed=18, chaos_rate=0.0005, rotate="3s", connection_hours=0.03)
RSS_BOUND_MB = 400  # interpreter, ccxt and the store ~150 MB, ccxt.pro's trade cache up to ~110 MB when full
WAL_BOUND_MB = 64  # the store checkpoints at 64 MiB, and at every rotation


async def test_a_soak_keeps_every_trade_once_or_declared_and_the_book_and_log_sound(tmp_path: Path) -> None:
    result = await run_soak(PLAN, _data_dir(), tmp_path)
    table = figures(result)
    print(table)

    assert check(result) == []
    assert result.trades > 1_000, table
    assert result.book.snapshots >= 2, table  # the first book and at least one after a rotation or a resync
    assert result.book.rebuilt >= 1, table
    assert len(result.listed) >= 3, table  # sessions list shows the chain (check() compares each previous)
    assert result.faults.get("reconnect (24 h lifetime)", 0) >= 1, table
    assert sum(result.faults.values()) >= 5, table
    assert result.rss_peak_kb < RSS_BOUND_MB * 1024, table
    assert max(s.wal_bytes for s in result.samples) < WAL_BOUND_MB * 2**20, table
