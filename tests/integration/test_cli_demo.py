"""``virtuoso demo``: its output, and ``--log-only``: a deterministic synthetic event log, listed and verified;
and the executed console examples of docs/cli.md."""

from __future__ import annotations

import re
import shlex
from itertools import zip_longest
from pathlib import Path

import pytest
from typer.testing import Result

from tests.integration._cli import cli, cli_json

DEMO_START_NS = 1_723_161_255_000_000_000
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def demo(path: Path, seed: int, hours: float = 0.1) -> Result:
    """The demo's log alone (``--log-only``): written, listed and verified."""
    result = cli("demo", "--db", path, "--seed", str(seed), "--hours", str(hours), "--log-only")
    assert result.exit_code == 0, result.output
    return result


def head(path: Path) -> str:
    report = cli_json("sessions", "verify", "--db", path)
    assert report["ok"] is True
    return str(report["head"])


def test_log_only_writes_a_closed_synthetic_session(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "demo.sqlite"

    result = demo(path, seed=3, hours=0.1)

    (session,) = cli_json("sessions", "list", "--db", path)
    events = session["events"]
    assert f"wrote {events} events" in result.stdout
    assert f"intact: {events} events" in result.stdout
    assert (session["name"], session["source"], session["symbols"]) == ("demo", "synthetic", ["BTC/USDT"])
    assert (session["status"], session["channels"]) == ("closed", ["trades", "book"])
    assert session["started_ns"] == session["first_ts_event"] == DEMO_START_NS
    assert session["id"][:12] in result.stdout
    shown = cli_json("sessions", "show", "--db", path, session["id"])
    streams = shown["streams"]
    # Six minutes: a snapshot and a delta a second on the book, trades between, and the two lifecycle events.
    assert streams["synthetic:BTC/USDT:book"]["events"] == 1 + 360
    assert events == 2 + 361 + streams["synthetic:BTC/USDT:trades"]["events"]
    assert shown["manifest"]["config"]["synthetic"] is True
    assert shown["manifest"]["config"]["market"]["hours"] == 0.1


def test_same_seed_same_head_other_seed_other_head(tmp_path: Path) -> None:
    demo(tmp_path / "a.sqlite", seed=11)
    demo(tmp_path / "b.sqlite", seed=11)
    demo(tmp_path / "c.sqlite", seed=12)

    assert head(tmp_path / "a.sqlite") == head(tmp_path / "b.sqlite")
    assert head(tmp_path / "a.sqlite") != head(tmp_path / "c.sqlite")


def test_rerun_replaces_the_earlier_demo_log(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    demo(path, seed=5, hours=0.05)
    first = head(path)
    events = cli_json("sessions", "list", "--db", path)[0]["events"]
    demo(path, seed=9, hours=0.1)

    demo(path, seed=5, hours=0.05)

    assert head(path) == first
    assert [s["events"] for s in cli_json("sessions", "list", "--db", path)] == [events]


def test_default_paths_are_out_demo_sqlite_and_out_demo_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = cli("demo", "--hours", "0.05")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "demo.sqlite").is_file()
    assert (tmp_path / "out" / "demo-report" / "chart.png").is_file()
    assert result.stdout.splitlines()[-2:-1] == ["report: out/demo-report/report.html"]


def test_the_demo_prints_progress_digests_metrics_and_the_report(tmp_path: Path) -> None:
    result = cli("demo", "--db", tmp_path / "d.sqlite", "--report", tmp_path / "r", "--hours", "0.2")

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "generating 0.2 h of synthetic BTC/USDT (seed 7)...",
        f"replaying {cli_json('sessions', 'list', '--db', tmp_path / 'd.sqlite')[0]['events']:,} events with the "
        "default analyzers...",
        "backtesting virtuoso.strategies:ConfluenceThreshold...",
        "drawing the report...",
    ]
    out = result.stdout
    assert re.search(r"^session  b1a9f365503218c3c5424b429182330c demo \(synthetic\): [\d,]+ events in ", out, re.M)
    assert len(re.findall(r"^         digest [0-9a-f]{64}$", out, re.M)) == 2
    assert re.search(r"^final_equity +10,000\.0000$", out, re.M)  # no trade before the score warms up
    assert f"report: {tmp_path / 'r' / 'report.html'}" in out
    assert re.search(r"^done in [\d.]+ s$", out, re.M)


def test_log_only_takes_no_capture(tmp_path: Path) -> None:
    result = cli("demo", "--db", tmp_path / "d.sqlite", "--log-only", "--capture", tmp_path / "x.gz")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --log-only writes the synthetic log: it takes no --capture (virtuoso demo; see virtuoso demo --help)"
    ]
    assert not (tmp_path / "d.sqlite").exists()


def test_demo_leaves_a_file_that_is_not_an_event_log_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("do not delete me\n")

    result = cli("demo", "--db", path)

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert path.read_text() == "do not delete me\n"


def _console_examples(markdown: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines of the console blocks, each with the output lines under it."""
    examples: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], []))
            else:
                examples[-1][1].append(line)
    return examples


def _resolve(expected: str, actual: str) -> str:
    """``actual`` where ``expected`` matches it (``...`` matching any text), else ``expected``."""
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return actual if re.fullmatch(pattern, actual) else expected


def test_docs_console_examples_are_what_the_cli_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    examples = _console_examples(DOCS.read_text())
    assert len(examples) >= 8

    for command, expected in examples:
        program, *args = shlex.split(command)
        assert program == "virtuoso"
        actual = cli(*args).output.splitlines()
        resolved = [_resolve(e, a) for e, a in zip_longest(expected, actual, fillvalue="")]
        assert actual == resolved, f"docs/cli.md: output of `{command}` differs"
