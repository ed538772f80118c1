"""The columnar id index when ids collide: with a hash of 3 bits, every lookup follows probe chains.

The index keys ids by 48-bit hashes or time-ordered keys, so collisions never
happen in a test by chance; here the key function is made tiny, and the log must still skip exactly
the stored ids (even with other content), store every other one, and verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from virtuoso.events import Event, Trade
from virtuoso.store import AppendResult, EventFilter, MemoryEventStore, _columnar_ids, open_sqlite_store

STREAMS = ("x:BTC/USDT:trades", "x:ETH/USDT:trades")


def _tiny_keys(ids: Sequence[str], schema: int) -> list[int]:
    return [hashlib.blake2b(event_id.encode(), digest_size=1).digest()[0] % 8 for event_id in ids]


def _event(n: int, price: float = 100.0) -> Event:
    return Event(f"id-{n}", STREAMS[n % 2], n, n + 1, "s-ids", Trade(price + n, 0.5, "buy", str(n)))


BATCHES = [
    [_event(n) for n in range(0, 12)],
    [_event(n) for n in range(8, 20)],  # 4 stored ids, retried
    [_event(5, price=7.0), _event(20), _event(20), _event(21)],  # a stored id with other content; one id twice
    [_event(n) for n in range(0, 22)],  # everything stored already
    [_event(n) for n in range(22, 40)],
]


@pytest.mark.asyncio
async def test_colliding_ids_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_columnar_ids, "id_keys", _tiny_keys)
    memory = MemoryEventStore()
    columnar = await open_sqlite_store(tmp_path / "x.sqlite", layout="columnar")
    try:
        results = []
        for store in (memory, columnar):
            await store.begin_session("ids", "tests", started_ns=0, session_id="s-ids")
            results.append([await store.append(batch) for batch in BATCHES])
            atomic = await store.append_atomic([[_event(40), _event(3)], [_event(41), _event(40)]])
            results[-1].append(atomic)
        assert results[0] == results[1]
        assert results[1][2] == AppendResult(2, 2, 22, 23)
        assert [e async for e in columnar.read()] == [e async for e in memory.read()]
        assert (await columnar.read_chunks(EventFilter(), 5).__anext__())[-1].id == "id-3"
        report, model = await columnar.verify(), await memory.verify()
        assert report.ok, report.problem
        assert report.head == model.head
    finally:
        await memory.close()
        await columnar.close()
