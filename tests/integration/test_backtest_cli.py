"""``virtuoso backtest`` on the demo log: the run, its JSON, and one-line errors for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json

DEMO_SESSION = "b1a9f365"
FAILING = """
from virtuoso.backtest import Strategy

class Explodes(Strategy):
    def on_trade(self, event, trade):
        if event.position > 100:
            raise ZeroDivisionError("no edge")
"""


def test_a_backtest_prints_json_and_is_cached_the_second_time(demo: Path) -> None:
    args = ("backtest", "--db", demo, "--session", DEMO_SESSION, "--strategy", "virtuoso.strategies:MovingAverageCross")
    params = ("--param", "timeframe=1s", "--param", "fast=2", "--param", "slow=5", "--param", "amount=0.1")
    first = cli_json(*args, *params)
    again = cli_json(*args, *params)
    assert first["events_in"] > 0
    assert first["cached"] is False
    assert (again["cached"], again["run"], again["digest"]) == (True, first["run"], first["digest"])
    listed = cli_json("sessions", "list", "--db", demo)
    assert [s["source"] for s in listed].count("backtest") == 1


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        ((), "name a strategy", 2),
        (("--strategy", "virtuoso.strategies:Nope"), "has no attribute 'Nope'", 1),
        (("--strategy", "virtuoso.strategies:MovingAverageCross", "--param", "fast"), "--param takes key=value", 2),
        (("--strategy", "virtuoso.strategies:MovingAverageCross", "--param", "fsat=3"), "unknown parameter 'fsat'", 1),
        (("--strategy", "virtuoso.strategies:MovingAverageCross", "--order", "random"), "--order must be one of", 2),
        (("--strategy", "virtuoso.strategies:MovingAverageCross", "--param", "symbol=DOGE/USDT"), "'DOGE/USDT'", 1),
        (("--strategy", "virtuoso.strategies:MovingAverageCross", "--analyzers", "nope"), "unknown analyzer", 1),
    ],
)
def test_bad_input_is_a_one_line_error(demo: Path, args: tuple[str, ...], message: str, code: int) -> None:
    result = cli("backtest", "--db", demo, "--session", DEMO_SESSION, *args)
    assert result.exit_code == code, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_a_bad_venue_file_names_the_file(demo: Path, tmp_path: Path) -> None:
    venue = tmp_path / "venue.toml"
    venue.write_text("taker_fee_bps = -3\n")
    result = cli("backtest", "--db", demo, "--session", DEMO_SESSION, "--strategy",
                 "virtuoso.strategies:MovingAverageCross", "--venue", venue)  # fmt: skip
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert str(venue) in line
    assert "taker_fee_bps must be >= 0" in line


def test_a_strategy_that_raises_stops_the_backtest_naming_it_and_the_event(demo: Path, tmp_path: Path) -> None:
    path = tmp_path / "explodes.py"
    path.write_text(FAILING)
    result = cli("backtest", "--db", demo, "--session", DEMO_SESSION, "--strategy", f"{path}:Explodes")
    assert result.exit_code == 1
    *progress, line = result.stderr.strip().splitlines()  # off a terminal, progress is plain lines
    assert all(re.fullmatch(r"backtest: \d+% of [\d,]+ events", p) for p in progress), progress
    assert re.search(r"strategy Explodes raised on event \d+ \(Trade, synthetic:", line), line
    assert "ZeroDivisionError: no edge" in line
    assert re.search(r"\(run [0-9a-f]{12} marked failed\)$", line), line
    listed = cli_json("sessions", "list", "--db", demo, "--all")
    assert [(s["status"], s.get("failed")) for s in listed if s["source"] == "backtest"] == [("crashed", True)]


@pytest.mark.parametrize(
    ("analyzers", "warned"),
    [(("--analyzers", "none"), True), (("--analyzers", "default"), False), ((), False)],
)
def test_analyzers_that_leave_out_what_the_strategy_reads_are_warned_of(
    demo: Path, analyzers: tuple[str, ...], warned: bool
) -> None:
    strategy = "virtuoso.strategies:ConfluenceThreshold"
    result = cli("backtest", "--db", demo, "--session", DEMO_SESSION, "--strategy", strategy, *analyzers, "--json")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    if warned:
        assert warnings == [
            "warning: ConfluenceThreshold asks for the analyzers bars, confluence, which the ones chosen leave out:"
            " it may see no signal and trade nothing (--analyzers)"
        ]
    else:
        assert warnings == []
