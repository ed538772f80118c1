"""Random sequences of CLI commands, valid and not, against a real log: after every step the log
verifies, every event committed so far is still there (same id, stream, times and payload), and no
traceback was printed. (A prune writes a new log; the sequence goes on with it, less the sessions it
left out, and the old one must be unchanged.)"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from tests.integration._cli import cli
from virtuoso.store import open_sqlite_store

SESSION = "b1a9"
MA = "virtuoso.strategies:MovingAverageCross"
START_MS = 1_723_161_255_000

imports = st.tuples(st.just("import"), st.booleans(), st.integers(1, 30))
replays = st.tuples(
    st.just("replay"),
    st.sampled_from([None, "Trade", "BookDelta", "Nope"]),
    st.sampled_from([None, "2024-08-08T23:55:00Z", "2030-01-01", "1723161540", "soon", "1723161300000"]),
    st.sampled_from(["none", "default", "rsi", "nope"]),
)
backtests = st.tuples(
    st.just("backtest"), st.sampled_from([MA, "nomodule:X"]), st.sampled_from(["2", "3", "x", "fast"])
)
exports = st.tuples(
    st.just("export"), st.sampled_from(["csv", "parquet", "xlsx"]), st.sampled_from([SESSION, "ffff", "b1", "RUN"])
)
prunes = st.tuples(st.just("prune"), st.sampled_from(["RUN", "IMPORT", "ffff", "--crashed", SESSION]))
verifies = st.tuples(st.just("verify"))
commands = st.lists(st.one_of(imports, replays, backtests, exports, prunes, verifies), min_size=1, max_size=4)


@dataclass
class World:
    """The workspace of one sequence: the log in use and what it must keep."""

    folder: Path
    log: Path
    committed: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    steps: int = 0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sequences")
    assert cli("demo", "--db", folder / "log.sqlite", "--log-only", "--hours", "0.02").exit_code == 0
    return folder / "log.sqlite"


async def _events(log: Path) -> tuple[dict[str, tuple[Any, ...]], dict[str, str], bool]:
    """Every event of ``log`` (id -> what must not change), the sessions (id -> source), and verify's verdict."""
    store = await open_sqlite_store(log, readonly=True)
    try:
        events = {e.id: (e.stream, e.session, e.ts_event, e.ts_recv, e.payload) async for e in store.read()}
        sessions = {info.id: info.source for info in await store.sessions()}
        return events, sessions, (await store.verify()).ok
    finally:
        await store.close()


def _trades_file(world: World, valid: bool, count: int) -> Path:
    path = world.folder / f"in{world.steps}.json"
    if not valid:
        path.write_text('[{"id": "1", "timestamp": "yesterday"' + "}" * (count % 3))
        return path
    base = START_MS + world.steps * 100_000
    trades = [
        {"id": f"{world.steps}-{i}", "timestamp": base + i * 1000, "symbol": "BTC/USDT",
         "side": "buy" if i % 2 else "sell", "price": 61_000 + i, "amount": 0.01}
        for i in range(count)
    ]  # fmt: skip
    path.write_text(json.dumps(trades))
    return path


def _pick(world: World, sessions: dict[str, str], wanted: str) -> str:
    if wanted == "RUN":
        runs = [sid for sid, source in sessions.items() if source in ("replay", "backtest")]
        return runs[-1] if runs else "ffff"
    if wanted == "IMPORT":
        imported = [sid for sid, source in sessions.items() if source == "ccxt-json"]
        return imported[-1] if imported else "ffff"
    return wanted


def _args(world: World, command: tuple[Any, ...], sessions: dict[str, str]) -> list[str]:
    kind, db = command[0], str(world.log)
    if kind == "import":
        path = _trades_file(world, command[1], command[2])
        return ["import", "ccxt-json", str(path), "--db", db, "--exchange", "binance", "--symbol", "BTC/USDT"]
    if kind == "replay":
        args = ["replay", "--db", db, "--session", SESSION, "--analyzers", command[3], "--workers", "1"]
        args += ["--types", command[1]] if command[1] else []
        return args + (["--from", command[2]] if command[2] else [])
    if kind == "backtest":
        param = command[2] if command[2] == "fast" else f"fast={command[2]}"
        return ["backtest", "--db", db, "--session", SESSION, "--strategy", command[1], "--param", param,
                "--param", "slow=5", "--param", "timeframe=1s"]  # fmt: skip
    if kind == "export":
        out = str(world.folder / f"out{world.steps}")
        return ["export", "--db", db, "--session", _pick(world, sessions, command[2]), "--format", command[1],
                "--out", out]  # fmt: skip
    if kind == "prune":
        new = str(world.folder / f"pruned{world.steps}.sqlite")
        chosen = _pick(world, sessions, command[1])
        return ["sessions", "prune", "--db", db, "--out", new, *(["--crashed"] if chosen == "--crashed" else
                ["--session", chosen])]  # fmt: skip
    return ["sessions", "verify", "--db", db]


def _dropped(sessions: dict[str, str], chosen: str) -> set[str]:
    """What a prune of ``chosen`` leaves out: the session, and every run when it is the demo session they read."""
    dropped = {sid for sid in sessions if sid.startswith(chosen)}
    if chosen == SESSION:
        dropped |= {sid for sid, source in sessions.items() if source in ("replay", "backtest")}
    return dropped


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _step(world: World, command: tuple[Any, ...]) -> None:
    world.steps += 1
    _, sessions, _ = asyncio.run(_events(world.log))
    args = _args(world, command, sessions)
    before = _digest(world.log)
    result = cli(*args)
    output = result.stdout + result.stderr

    event(f"{command[0]} exit {result.exit_code}")
    assert "Traceback" not in output, args
    assert result.exit_code in (0, 1, 2, 4), (args, output)
    if result.exit_code in (1, 2):
        assert result.stderr.splitlines()[-1].startswith("error: "), (args, result.stderr)
    if command[0] == "prune" and result.exit_code == 0:
        assert _digest(world.log) == before, "prune changed the log it read"
        kept = set(sessions) - _dropped(sessions, args[-1])
        world.log = Path(args[args.index("--out") + 1])
        world.committed = {k: v for k, v in world.committed.items() if v[1] in kept}
        assert set(asyncio.run(_events(world.log))[1]) == kept, f"{args}: not the sessions asked for"
    events, _, intact = asyncio.run(_events(world.log))
    assert intact, f"{args}: the log no longer verifies"
    lost = {k for k, v in world.committed.items() if events.get(k) != v}
    assert not lost, f"{args}: {len(lost)} committed events disappeared or changed"
    world.committed = events


@seed(20_240_808)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=commands)
def test_random_command_sequences_keep_the_log_whole(template: Path, sequence: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log.sqlite"
        shutil.copyfile(template, log)
        world = World(Path(folder), log)
        world.committed, _, _ = asyncio.run(_events(log))
        for command in sequence:
            _step(world, command)
