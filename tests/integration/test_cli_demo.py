"""``virtuoso demo``: a deterministic synthetic event log, listed and verified."""

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


def demo(path: Path, seed: int, events: int = 250) -> Result:
    result = cli("demo", "--db", path, "--seed", str(seed), "--events", str(events))
    assert result.exit_code == 0, result.output
    return result


def head(path: Path) -> str:
    report = cli_json("sessions", "verify", "--db", path)
    assert report["ok"] is True
    return str(report["head"])


def test_demo_writes_a_closed_synthetic_session(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "demo.sqlite"

    result = demo(path, seed=3, events=250)

    # 250 trades, a quote after every 100th, and the two lifecycle events.
    assert "wrote 254 events" in result.stdout
    assert "intact: 254 events" in result.stdout
    (session,) = cli_json("sessions", "list", "--db", path)
    assert (session["name"], session["source"], session["symbols"]) == ("demo", "synthetic", ["BTC/USDT"])
    assert (session["status"], session["events"]) == ("closed", 254)
    assert session["started_ns"] == session["first_ts_event"] == DEMO_START_NS
    assert session["id"][:12] in result.stdout
    streams = cli_json("sessions", "show", "--db", path, session["id"])["streams"]
    assert streams["synthetic:BTC/USDT:trades"]["events"] == 250
    assert streams["synthetic:BTC/USDT:quotes"]["events"] == 2


def test_same_seed_same_head_other_seed_other_head(tmp_path: Path) -> None:
    demo(tmp_path / "a.sqlite", seed=11)
    demo(tmp_path / "b.sqlite", seed=11)
    demo(tmp_path / "c.sqlite", seed=12)

    assert head(tmp_path / "a.sqlite") == head(tmp_path / "b.sqlite")
    assert head(tmp_path / "a.sqlite") != head(tmp_path / "c.sqlite")


def test_rerun_replaces_the_earlier_demo_log(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    demo(path, seed=5, events=120)
    first = head(path)
    demo(path, seed=9, events=300)

    demo(path, seed=5, events=120)

    assert head(path) == first
    assert [s["events"] for s in cli_json("sessions", "list", "--db", path)] == [123]


def test_default_path_is_out_demo_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = cli("demo", "--events", "10")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "demo.sqlite").is_file()


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
