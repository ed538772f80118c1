"""The rules of issue 20 the misuse table cannot show: what commands do when they succeed next to a refusal,
start-up cost, table shapes, the prune round trip."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from tests.integration._cli import cli, cli_json
from virtuoso.cli._tables import _print_fitted, plain_table
from virtuoso.cli._times import parse_time
from virtuoso.errors import UsageError
from virtuoso.store import open_sqlite_store

MA = "virtuoso.strategies:MovingAverageCross"
HEAVY = ("pandas", "numpy", "matplotlib", "ccxt", "aiohttp", "pyarrow", "hypothesis", "asyncio", "msgspec")


def test_help_and_version_import_none_of_the_heavy_libraries() -> None:
    # A subprocess on purpose: what start-up imports is what is under test.
    script = textwrap.dedent(f"""
        import sys
        from virtuoso.cli import main
        for argv in (["virtuoso", "--help"], ["virtuoso", "--version"]):
            sys.argv = argv
            try:
                main()
            except SystemExit as exit:
                assert exit.code == 0, exit.code
        print("LOADED", sorted(name for name in {HEAVY!r} if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)

    assert "virtuoso 0.1.0" in result.stdout
    assert result.stdout.splitlines()[-1] == "LOADED []"


def test_version() -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, "virtuoso 0.1.0\n")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1723161540s", 1_723_161_540_000_000_000),
        ("1723161540000ms", 1_723_161_540_000_000_000),
        ("1723161540000", 1_723_161_540_000_000_000),
        ("1723161540000000us", 1_723_161_540_000_000_000),
        ("1723161540000000001ns", 1_723_161_540_000_000_001),
        ("2024-08-08T23:59:00Z", 1_723_161_540_000_000_000),
        ("2024-08-09T01:59:00+02:00", 1_723_161_540_000_000_000),
        ("0", 0),
    ],
)
def test_times_with_a_unit_or_unambiguous(text: str, ns: int) -> None:
    assert parse_time(text) == ns


@pytest.mark.parametrize("text", ["1723161540", "172316154", "1723161540000000", "1723161540000000000", "5", "1e9"])
def test_ambiguous_or_unknown_times_are_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(UsageError, match=r"--from .*accepted: an ISO 8601 time"):
        parse_time(text, "--from")


def _wide_table() -> Table:
    table = Table(title="sessions")
    for name in ("id", "name", "source", "events", "first event (UTC)"):
        table.add_column(name, justify="right" if name == "events" else "left")
    table.add_row("b1a9f365503218c3c5424b429182330c", "a long session name " * 3, "binance-capture", "1234567",
                  "2024-08-08T23:54:15Z")  # fmt: skip
    return table


def test_on_a_narrow_terminal_columns_go_before_anything_wraps() -> None:
    console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    _print_fitted(_wide_table(), console, drop=("first event (UTC)", "source"))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]

    assert all(len(line) <= 60 for line in lines)
    row = next(line for line in lines if "b1a9" in line)
    assert " b1a9f3655032 " in row
    assert "1234567" in row
    assert "…" in row
    assert "first event" not in "\n".join(lines)
    assert "source" not in "\n".join(lines)


def test_piped_tables_are_plain_whole_and_split_on_two_spaces() -> None:
    lines = plain_table(_wide_table()).splitlines()

    assert lines[0] == "sessions"
    fields = [re.split(r"  +", line) for line in lines[1:]]
    assert fields[0] == ["id", "name", "source", "events", "first event (UTC)"]
    assert fields[1][0] == "b1a9f365503218c3c5424b429182330c"
    assert fields[1][3] == "1234567"
    assert lines[1].index("name") == lines[2].index("a long")  # aligned
    assert lines[1].index("events") + len("events") == lines[2].index("1234567") + len("1234567")  # right-aligned


def test_demo_replaces_its_own_log_and_a_foreign_one_only_when_told(demo: Path) -> None:
    assert cli("demo", "--db", demo, "--log-only", "--hours", "0.05").exit_code == 0  # its own: replaced
    asyncio.run(_foreign(demo))

    refused = cli("demo", "--db", demo, "--log-only", "--hours", "0.05")
    replaced = cli("demo", "--db", demo, "--log-only", "--hours", "0.05", "--replace")

    assert refused.exit_code == 1
    assert "holds data the demo did not make" in refused.stderr
    assert replaced.exit_code == 0
    assert [s["name"] for s in cli_json("sessions", "list", "--db", demo)] == ["demo"]


async def _foreign(path: Path) -> None:
    store = await open_sqlite_store(path)
    info = await store.begin_session("mine", "example", started_ns=1)
    await store.end_session(info.id, ended_ns=2)
    await store.close()


def test_prune_round_trip_keeps_the_runs_cache_and_leaves_the_old_log(demo: Path, tmp_path: Path) -> None:
    backtest = ("backtest", "--db", demo, "--session", "b1a9", "--strategy", MA, "--param", "timeframe=1s")
    first = cli_json(*backtest)
    replay = cli_json("replay", "--db", demo, "--session", "b1a9", "--analyzers", "none")
    old = demo.read_bytes()

    pruned = cli_json("sessions", "prune", "--db", demo, "--out", tmp_path / "new.sqlite", "--session", replay["run"])
    again = cli_json(*backtest[:2], tmp_path / "new.sqlite", *backtest[3:])

    assert [d["id"] for d in pruned["dropped"]] == [replay["run"]]
    assert pruned["verified"]
    assert demo.read_bytes() == old
    assert (again["run"], again["digest"], again["cached"]) == (first["run"], first["digest"], True)
    assert cli("sessions", "verify", "--db", tmp_path / "new.sqlite").exit_code == 0


def test_prune_of_the_input_leaves_out_its_runs_too(demo: Path, tmp_path: Path) -> None:
    run = cli_json("replay", "--db", demo, "--session", "b1a9", "--analyzers", "none")["run"]
    asyncio.run(_foreign(demo))

    pruned = cli_json("sessions", "prune", "--db", demo, "--out", tmp_path / "new.sqlite", "--session", "b1a9")

    assert [(d["id"][:4], d["why"]) for d in pruned["dropped"]] == [("b1a9", "asked"), (run[:4], "input dropped")]
    assert [s["name"] for s in cli_json("sessions", "list", "--db", tmp_path / "new.sqlite")] == ["mine"]


CRASH = """
import asyncio, os, sys
from virtuoso.store import open_sqlite_store
async def main():
    store = await open_sqlite_store(sys.argv[1])
    await store.begin_session("cut short", "example", started_ns=5)
    os._exit(0)
asyncio.run(main())
"""


def test_prune_refuses_to_copy_a_crashed_session_and_crashed_leaves_it_out(demo: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", CRASH, str(demo)], check=True, timeout=60)
    assert cli("sessions", "list", "--db", demo).exit_code == 0  # marks it crashed
    run = cli_json("replay", "--db", demo, "--session", "b1a9", "--analyzers", "none")["run"]

    refused = cli("sessions", "prune", "--db", demo, "--out", tmp_path / "a.sqlite", "--session", run)
    pruned = cli_json("sessions", "prune", "--db", demo, "--out", tmp_path / "b.sqlite", "--crashed")

    assert refused.exit_code == 1
    assert "is crashed: a copy could not be marked crashed" in refused.stderr
    assert not (tmp_path / "a.sqlite").exists()
    assert [(d["name"], d["why"]) for d in pruned["dropped"]] == [("cut short", "crashed")]


def test_a_sweep_where_every_task_fails_exits_1_with_the_reason(demo: Path, tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(
        "from virtuoso.strategies import MovingAverageCross\n\n\nclass Fails(MovingAverageCross):\n"
        "    def on_trade(self, event, trade):\n        raise ZeroDivisionError('no edge')\n"
    )
    (tmp_path / "grid.toml").write_text('[grid]\ntimeframe = "1s"\nfast = [2, 3]\nslow = 5\n')

    result = cli("sweep", "--db", demo, "--grid", tmp_path / "grid.toml", "--strategy", f"{tmp_path}/fails.py:Fails",
                 "--workers", "1", "--out", tmp_path / "out")  # fmt: skip

    assert result.exit_code == 1
    assert "2 task(s): StrategyError: strategy Fails raised on event" in result.stderr
    assert result.stderr.splitlines()[-1] == f"error: all 2 tasks failed: nothing to rank (results in {tmp_path}/out)"
    assert "best by" not in result.stdout


def test_json_of_a_prune_names_the_files(demo: Path, tmp_path: Path) -> None:
    run = cli_json("replay", "--db", demo, "--session", "b1a9", "--analyzers", "none")["run"]
    pruned = cli_json("sessions", "prune", "--db", demo, "--out", tmp_path / "n.sqlite", "--session", run[:6])
    assert json.loads(json.dumps(pruned))["out"] == str(tmp_path / "n.sqlite")
