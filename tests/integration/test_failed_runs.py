"""A run that fails ends marked failed, saying why, and the default listing hides it (``--all`` shows it).

A real log (the demo's synthetic session), a strategy that raises on a trade mid-run, the CLI in-process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json
from virtuoso.backtest import BACKTEST_SOURCE
from virtuoso.cli._sessions import RUN_SOURCES
from virtuoso.events import SessionEnded
from virtuoso.replay import RUN_SOURCE
from virtuoso.store import EventFilter, lifecycle_stream, open_sqlite_store

BOOM = """
from virtuoso.backtest import Strategy


class Boom(Strategy):
    def on_trade(self, event, trade):
        if event.position > 200:
            raise RuntimeError("boom")
"""
HIDDEN = "1 failed run hidden (--all shows them)"


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A log whose backtest failed mid-run: its path, the one error line, and the stderr of a second try."""
    folder = tmp_path_factory.mktemp("failed")
    db = folder / "log.sqlite"
    assert cli("demo", "--db", db, "--log-only", "--hours", "0.05").exit_code == 0
    (folder / "boom.py").write_text(BOOM)
    args = ("backtest", "--db", db, "--session", "b1a9", "--strategy", f"{folder}/boom.py:Boom")
    first, second = cli(*args), cli(*args)
    assert (first.exit_code, second.exit_code) == (1, 1)
    return db, first.stderr.splitlines()[-1], second.stderr


async def _ends(db: Path, run: str) -> list[SessionEnded]:
    async with await open_sqlite_store(db, readonly=True) as store:
        events = [e async for e in store.read(EventFilter(streams=[lifecycle_stream(run)]))]
    return [e.payload for e in events if isinstance(e.payload, SessionEnded)]


def test_the_failed_run_is_ended_by_the_failing_command_with_its_reason(failed: tuple[Path, str, str]) -> None:
    db, line, _ = failed
    (run,) = [s for s in cli_json("sessions", "list", "--db", db, "--all") if s["source"] == BACKTEST_SOURCE]

    assert line.startswith("error: strategy Boom raised on event 201 (Trade, synthetic:BTC/USDT:trades): RuntimeError")
    assert line.endswith(f"(run {run['id'][:12]} marked failed)")
    assert (run["status"], run["failed"]) == ("crashed", True)
    ends = asyncio.run(_ends(db, run["id"]))
    assert [(end.status, end.reason.split(": ")[:2]) for end in ends] == [("crashed", ["failed", "StrategyError"])] * 2


def test_the_same_command_resumes_it_and_fails_again_without_a_second_run(failed: tuple[Path, str, str]) -> None:
    db, line, second = failed
    runs = [s for s in cli_json("sessions", "list", "--db", db, "--all") if s["source"] == BACKTEST_SOURCE]

    assert len(runs) == 1
    assert second.splitlines()[-1] == line
    assert "marked crashed" not in second, "nothing left open for a later open to find"
    assert cli("sessions", "verify", "--db", db).stdout.startswith("intact: ")


def test_the_default_listing_hides_failed_runs_and_says_so(failed: tuple[Path, str, str]) -> None:
    db = failed[0]

    listed = cli("sessions", "list", "--db", db)
    everything = cli("sessions", "list", "--db", db, "--all")

    assert listed.exit_code == everything.exit_code == 0
    assert listed.stderr.splitlines() == [HIDDEN]
    assert "backtest" not in listed.stdout
    assert everything.stderr == ""
    (row,) = [line for line in everything.stdout.splitlines() if " backtest " in line]
    assert "  failed  " in row
    assert [s["source"] for s in cli_json("sessions", "list", "--db", db)] == ["synthetic"]


def test_show_names_the_failure_and_prune_crashed_leaves_it_out(failed: tuple[Path, str, str], tmp_path: Path) -> None:
    db = failed[0]
    (run,) = [s for s in cli_json("sessions", "list", "--db", db, "--all") if s["source"] == BACKTEST_SOURCE]

    shown = cli("sessions", "show", "--db", db, run["id"][:12]).stdout
    pruned = cli_json("sessions", "prune", "--db", db, "--out", tmp_path / "clean.sqlite", "--crashed")

    assert "failed (StrategyError: strategy Boom raised on event 201" in shown
    assert [item["id"] for item in pruned["dropped"]] == [run["id"]]
    assert cli("sessions", "list", "--db", tmp_path / "clean.sqlite").stderr == ""


def test_the_cli_names_the_run_sources_the_library_uses() -> None:
    assert set(RUN_SOURCES) == {RUN_SOURCE, BACKTEST_SOURCE}
