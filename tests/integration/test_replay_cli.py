"""``virtuoso replay`` and ``virtuoso verify-replay`` on the demo log."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.integration._cli import cli, cli_json
from virtuoso.events import Event, Note
from virtuoso.replay import BUILTIN, AnalyzerSpec

DIGEST = "5b26f9f3213aaec6415e501a4a61aa48e6556e0ce085fe7b173f067a92072a41"
"""Of the default analyzers over half an hour of the demo market (seed 7): 183 events (bars, indicators)."""
EVENTS = 4307
"""The demo session's events: a book snapshot, 1,800 deltas, 2,504 trades and the two lifecycle events."""
TRADES = 2504


def test_replay_prints_the_summary_then_finds_the_run_in_the_cache(demo: Path) -> None:
    first = cli_json("replay", "--db", demo, "--session", "b1a9f365")
    again = cli_json("replay", "--db", demo, "--session", "b1a9f365")
    forced = cli_json("replay", "--db", demo, "--session", "b1a9f365", "--force", "--workers", "1")
    assert {"run", "events_in", "events_out", "digest", "events_per_s"} <= set(first)
    assert (first["events_in"], first["events_out"], first["digest"]) == (EVENTS, 183, DIGEST)
    assert first["events_per_s"] > 0
    assert (again["run"], again["cached"], again["events_per_s"]) == (first["run"], True, None)
    assert forced["run"] != first["run"]
    assert (forced["digest"], forced["cached"]) == (DIGEST, False)
    listed = cli_json("sessions", "list", "--db", demo)
    assert [s["source"] for s in listed] == ["synthetic", "replay", "replay"]


def test_replay_filters_and_orders_change_the_input_and_the_run(demo: Path) -> None:
    trades = cli_json("replay", "--db", demo, "--session", "b1a9", "--types", "Trade", "--analyzers", "trade-count")
    timed = cli_json(
        "replay", "--db", demo, "--session", "b1a9", "--from", "2024-08-08T23:55:00Z", "--order", "exchange-time"
    )
    assert (trades["events_in"], trades["events_out"]) == (TRADES, 2)
    assert 0 < timed["events_in"] < EVENTS
    assert len({trades["run"], timed["run"]}) == 2


def test_verify_replay_agrees_across_workers_and_chunk_sizes(demo: Path) -> None:
    report = cli_json("verify-replay", "--db", demo, "--session", "b1a9f365", "--runs", "4", "--workers", "1,3,8")
    assert report["ok"] is True
    assert report["digest"] == DIGEST
    assert [(r["workers"], r["chunk_size"]) for r in report["runs"]] == [(1, 5000), (3, 997), (8, 64), (1, 5000)]
    text = cli("verify-replay", "--db", demo, "--session", "b1a9f365", "--runs", "2")
    assert text.exit_code == 0
    assert f"ok: 2 replays, one digest {DIGEST}" in text.stdout


def _racy(config: object, rng: object) -> object:
    """Output that depends on which worker got to an event first: what verify-replay exists to catch.

    With 5 workers the demo's trades and book streams go to different workers (crc32 of the name)."""
    counter = itertools.count()

    def handler(event: Event) -> list[Event]:
        seen = next(counter)
        return [
            Event(f"{event.id}/racy", "analysis:racy", event.ts_event, event.ts_recv, event.session, Note(str(seen)))
        ]

    return handler


def test_verify_replay_fails_loudly_when_digests_differ(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTIN, "racy", AnalyzerSpec("racy", _racy))  # type: ignore[arg-type]
    result = cli(
        "verify-replay", "--db", demo, "--session", "b1a9f365", "--analyzers", "racy", "--runs", "2", "--workers", "1,5"
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["replay 1 of 2", "replay 2 of 2"]  # progress, piped
    assert lines[2:] == [
        f"error: digests differ across 2 replays of session b1a9f365: the replay is not deterministic ({demo})"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--speed", "fast"), "--speed must be 'max' or a positive number, not 'fast'"),
        (("--order", "random"), "--order must be one of position, exchange-time, not 'random'"),
        (
            ("--types", "Trade", "--from", "2024-08-09T00:00:00Z", "--to", "2024-08-08T00:00:00Z"),
            "the time range is empty",
        ),
        (("--streams", "binance:DOGE/USDT:trades"), "no stream 'binance:DOGE/USDT:trades'"),
    ],
)
def test_bad_options_are_one_line_errors(demo: Path, args: tuple[str, ...], message: str) -> None:
    result = cli("replay", "--db", demo, "--session", "b1a9f365", *args)
    assert result.exit_code in (1, 2)
    [line] = result.stderr.splitlines()
    assert message in line


def test_a_missing_log_is_not_created(tmp_path: Path) -> None:
    result = cli("replay", "--db", tmp_path / "nowhere.sqlite", "--session", "abcd")
    assert result.exit_code == 1
    assert not (tmp_path / "nowhere.sqlite").exists()
