"""A generated day of trades (seeded): a random walk of prices, arrivals spread over 24 hours."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from virtuoso.events import Event, EventIdFactory, Side, Trade, stream_name
from virtuoso.store import open_sqlite_store

DAY_START_NS = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC
DAY_NS = 86_400 * 1_000_000_000
STREAM = stream_name("binance", "BTC/USDT", "trades")


def day_of_trades(session: str, count: int, seed: int) -> Iterator[Event]:
    """``count`` trades of ``session`` over one day: times, prices, sizes and sides drawn from ``seed``."""
    rng = random.Random(seed)
    ids = EventIdFactory(session)
    step = DAY_NS // max(count, 1)
    price = 60_000.0
    for i in range(count):
        ts = DAY_START_NS + i * step + rng.randrange(step)
        price = max(1.0, round(price + rng.gauss(0.0, 2.0), 2))
        side: Side = "buy" if rng.random() < 0.5 else "sell"
        trade = Trade(price, round(rng.expovariate(200.0) + 0.00001, 5), side, str(1_000_000 + i))
        yield Event(ids(ts), STREAM, ts, ts + 1_000_000, session, trade)


async def write_trade_day(path: Path, count: int, seed: int = 7) -> str:
    """A log at ``path`` holding one closed session of :func:`day_of_trades`; the session's id."""
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session(f"{count} trades", "generated", started_ns=DAY_START_NS)
        async with store.writer() as writer:
            chunk: list[Event] = []
            for event in day_of_trades(info.id, count, seed):
                chunk.append(event)
                if len(chunk) == 10_000:
                    await writer.write_many(chunk)
                    chunk = []
            await writer.write_many(chunk)
        await store.end_session(info.id, ended_ns=DAY_START_NS + DAY_NS)
        return info.id
    finally:
        await store.close()
