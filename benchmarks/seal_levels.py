"""What a sealed segment costs and weighs at each zstd level: the figures behind ``SEAL_LEVEL``.

Run: ``python -m benchmarks.seal_levels LOG [LOG ...] [--levels 3,6,9,12,15,19] [--rounds 2]``

Each stream of each log (read in position order) is cut into segments of
``SEGMENT_EVENTS`` events, as sealing cuts a session's stream; every segment's body
is built once, then compressed at each level (and with long-distance matching at
each level, ``+ldm``). Prints, per stream and level, bytes an event and CPU
milliseconds a segment of compression (best of ``--rounds``). The body is built
outside the timing: it costs the same at every level.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from pathlib import Path

import zstandard

from virtuoso.events import Event
from virtuoso.store import open_sqlite_store
from virtuoso.store._batch_codec import _ENCODE_BODY, _Encoder, envelope_columns
from virtuoso.store._columnar_seal import SEGMENT_EVENTS


async def _streams(path: Path) -> dict[str, list[Event]]:
    store = await open_sqlite_store(path, readonly=True, key=None)
    try:
        out: dict[str, list[Event]] = defaultdict(list)
        async for event in store.read():
            out[event.stream].append(event)
        return out
    finally:
        await store.close()


def _compressor(level: int, ldm: bool) -> zstandard.ZstdCompressor:
    params = zstandard.ZstdCompressionParameters.from_level(
        level, enable_ldm=ldm, write_checksum=True, write_content_size=True
    )
    return zstandard.ZstdCompressor(compression_params=params)


def _measure(bodies: list[bytes], count: int, level: int, ldm: bool, rounds: int) -> tuple[float, float]:
    compressor = _compressor(level, ldm)
    best = float("inf")
    size = 0
    for _ in range(rounds):
        began = time.process_time()
        size = sum(len(compressor.compress(body)) + 1 for body in bodies)
        best = min(best, time.process_time() - began)
    return size / count, 1_000 * best / len(bodies)


def main(argv: list[str] | None = None) -> None:
    """Print the table for the logs named in ``argv`` (the command line by default)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--levels", default="3,6,9,12,15,19")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--min-events", type=int, default=1_000, help="skip streams holding fewer events")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    for path in args.logs:
        for stream, events in sorted(asyncio.run(_streams(path)).items()):
            if len(events) < args.min_events:
                continue
            segments = [events[i : i + SEGMENT_EVENTS] for i in range(0, len(events), SEGMENT_EVENTS)]
            bodies = [_ENCODE_BODY(_Encoder(envelope_columns(segment), len(segment)).body()) for segment in segments]
            raw = sum(map(len, bodies)) / len(events)
            print(f"{path.name} {stream}: {len(events)} events, {len(segments)} segments, body {raw:.1f} B/event")
            for level in levels:
                for ldm in (False, True):
                    per_event, ms = _measure(bodies, len(events), level, ldm, args.rounds)
                    print(
                        f"  level {level:2d}{'+ldm' if ldm else '    '}: {per_event:7.2f} B/event {ms:8.1f} ms/segment"
                    )


if __name__ == "__main__":
    main()
