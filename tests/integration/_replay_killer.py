"""A replay that ``test_replay_resume.py`` has killed by SIGKILL midway.

Run as ``python _replay_killer.py DB SESSION KILL_AT``: it replays ``SESSION`` of
``DB`` into a run through the ``killer`` analyzer, a trade counter (a Note every
:data:`EVERY` trades) that sends itself SIGKILL when it meets trade ``KILL_AT``.
The test's resumed run uses the same name and config with a counter that does
not kill, so both are the same run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from random import Random
from typing import Any

EVERY = 5


def killer_at(kill_at: str) -> Any:
    """A factory of trade counters that kill the process at trade ``kill_at``."""
    from virtuoso.events import Event, Trade
    from virtuoso.replay import TradeCounter

    def factory(config: Mapping[str, Any], rng: Random) -> Any:
        counter = TradeCounter(config["every"])

        def handler(event: Event) -> Any:
            if isinstance(event.payload, Trade) and event.payload.trade_id == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return counter(event)

        return handler

    return factory


async def replay(path: Path, session: str, kill_at: str) -> None:
    from virtuoso.app import AppConfig
    from virtuoso.replay import AnalyzerSpec, ReplaySelection, RunConfig, replay_run

    spec = AnalyzerSpec("killer", killer_at(kill_at), {"every": EVERY})
    await replay_run(AppConfig(db=path), RunConfig(ReplaySelection(sessions=(session,)), (spec,)))


if __name__ == "__main__":
    db, session_id, kill = sys.argv[1:]
    asyncio.run(replay(Path(db), session_id, kill))
