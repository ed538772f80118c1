"""Deterministic replay: recorded sessions through the same bus, processor and analyzers, into runs
with a digest that proves two replays gave the same output (see ``docs/replay.md``)."""

from virtuoso.replay._analyzers import BUILTIN, AnalyzerFactory, AnalyzerSpec, TradeCounter, VwapNotes, analyzers_named
from virtuoso.replay._digest import Digest, canonical, digest_of
from virtuoso.replay._order import CHANNEL_PRIORITY, stream_priority
from virtuoso.replay._pacing import Gate, Pacer
from virtuoso.replay._replayer import Replayer, ReplayOptions
from virtuoso.replay._runs import (
    RUN_SOURCE,
    RunConfig,
    RunJob,
    RunResult,
    execute_run,
    full_ids,
    replay_run,
    stored_digest,
    versions,
)
from virtuoso.replay._selection import ORDERS, Order, ReplaySelection

__all__ = [
    "BUILTIN",
    "CHANNEL_PRIORITY",
    "ORDERS",
    "RUN_SOURCE",
    "AnalyzerFactory",
    "AnalyzerSpec",
    "Digest",
    "Gate",
    "Order",
    "Pacer",
    "ReplayOptions",
    "ReplaySelection",
    "Replayer",
    "RunConfig",
    "RunJob",
    "RunResult",
    "TradeCounter",
    "VwapNotes",
    "analyzers_named",
    "canonical",
    "digest_of",
    "execute_run",
    "full_ids",
    "replay_run",
    "stored_digest",
    "stream_priority",
    "versions",
]
