"""Every row of the misuse table (``misuse_cases.py``, ``docs/errors.md``): its exit status, its exact stderr,
no traceback, the one-line error style, and nothing changed in the workspace (the log's hash included), or,
for the logs a row may write, nothing committed lost."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_data
from tests.integration._cli import cli
from tests.integration.misuse_cases import CASES, DOC, Case, documented_table, markdown_table
from virtuoso.store import open_sqlite_store

BAD_STRATEGY = """
from virtuoso.backtest import Strategy


class Bad(Strategy):
    def __init__(self, config=None):
        super().__init__(config)
        raise ValueError("cannot start")
"""
BOOM_STRATEGY = """
from virtuoso.backtest import Strategy


class Boom(Strategy):
    def on_trade(self, event, trade):
        if event.position > 200:
            raise RuntimeError("boom")
"""
GRID = '[sweep]\nconstraints = ["fast < slow"]\n\n[grid]\ntimeframe = "1s"\nfast = [2, 4]\nslow = [4, 8]\n'
CAPTURES = ("spot", "usdm")
ONE_LINE = re.compile(r"error: .+ \(.+\)")
"""The error style: ``error: <what> (<where>)``, one line."""
TIMEOUT_S = 120
FAILED_RUN = re.compile(r"run [0-9a-f]{12} marked failed")
"""A failed run's id depends on the strategy file's path (a temporary folder): the table says ``<id>``."""


async def _add_foreign_session(path: Path) -> None:
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session("manual", "example", started_ns=1_723_161_255_000_000_000)
        await store.end_session(info.id, ended_ns=1_723_161_256_000_000_000)
    finally:
        await store.close()


def _captures(folder: Path) -> None:
    """300-line slices of the real spot and USD-M captures, and broken ones made from the spot slice."""
    for kind in CAPTURES:
        with gzip.open(require_data(f"hftbacktest/examples/{kind}/btcusdt_20240808.gz"), "rb") as real:
            lines = [real.readline() for _ in range(300)]
        (folder / kind).mkdir()
        (folder / kind / "btcusdt_20240808.gz").write_bytes(gzip.compress(b"".join(lines), mtime=0))
    spot = (folder / "spot" / "btcusdt_20240808.gz").read_bytes()
    (folder / "truncated.gz").write_bytes(spot[: len(spot) // 2])
    (folder / "fake.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    (folder / "empty.gz").write_bytes(gzip.compress(b"", mtime=0))


@pytest.fixture(scope="module")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace every case starts from (see ``misuse_cases.py``)."""
    folder = tmp_path_factory.mktemp("misuse")
    assert cli("demo", "--db", folder / "log.sqlite", "--log-only", "--hours", "0.05").exit_code == 0
    asyncio.run(_add_foreign_session(folder / "log.sqlite"))
    (folder / "afile").write_text("not a log\n")
    (folder / "empty.sqlite").write_bytes(b"")
    (folder / "notalog.txt").write_text("hello\n" * 100)
    (folder / "folder").mkdir()
    (folder / "previous").mkdir()
    (folder / "previous" / "Trade.csv").write_text("an earlier export\n")
    (folder / "bad.py").write_text(BAD_STRATEGY)
    (folder / "boom.py").write_text(BOOM_STRATEGY)
    (folder / "grid.toml").write_text(GRID)
    _captures(folder)
    spot = folder / "spot" / "btcusdt_20240808.gz"
    assert cli("import", "binance-capture", spot, "--db", folder / "spot.sqlite", "--json").exit_code == 0
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes (folders as ``dir``).

    Left out: the empty ``-wal`` and the ``-shm`` index SQLite leaves beside a WAL log opened
    read-only (they hold no data; not leaving them is the read-only mode's own change), and
    Python's byte-code caches of the strategy files.
    """
    return {
        str(path.relative_to(folder)): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if not path.name.endswith("-shm")
        and not (path.name.endswith("-wal") and path.stat().st_size == 0)
        and "__pycache__" not in path.parts
    }


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}


def _at_once(case: Case, folder: Path) -> tuple[int, str, str]:
    """Each `` & ``-joined command line as its own process, all started together; every one must agree."""
    command = [sys.executable, "-m", "virtuoso"]
    procs = [
        subprocess.Popen([*command, *shlex.split(part)], cwd=folder, env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for part in case.args.split(" & ")
    ]  # fmt: skip
    outcomes = [(proc, *proc.communicate(timeout=TIMEOUT_S)) for proc in procs]
    codes = {proc.returncode for proc, _, _ in outcomes}
    errors = {err for _, _, err in outcomes}
    seen = [(proc.returncode, err) for proc, _, err in outcomes]
    assert len(codes) == 1, seen
    assert len(errors) == 1, seen
    return codes.pop(), "".join(out for _, out, _ in outcomes), errors.pop()


READ_ONLY_RUNNER = """
import json, os, shlex, sys
from typer.testing import CliRunner
from virtuoso.cli import app

outcomes = {}
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(app, shlex.split(args))
    outcomes[args] = [result.exit_code, result.stdout, result.stderr]
files = sorted(os.path.relpath(os.path.join(top, name)) for top, _, names in os.walk(".") for name in names)
print(json.dumps({"outcomes": outcomes, "files": files}))
"""
"""Runs the read-only rows in one process (the start-up of one per row cost seconds), in the mounted copy."""


@pytest.fixture(scope="module")
def read_only_outcomes(workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every ``read-only`` row run in a copy of the workspace on a tmpfs remounted read-only, in a private
    mount namespace (tests run as root, for whom permission bits deny nothing), and the files there after."""
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if os.geteuid() != 0 or unshare is None or mount is None:
        pytest.skip("needs root, unshare and mount to make a read-only folder")
    mounted = tmp_path_factory.mktemp("read-only")
    args = json.dumps([case.args for case in CASES if case.setup == "read-only"])
    python = shlex.join([sys.executable, "-c", READ_ONLY_RUNNER, args])
    script = (
        f"{mount} -t tmpfs -o size=16m tmpfs {mounted} || exit 77; cp -a {workspace_template}/. {mounted}/ &&"
        f" {mount} -o remount,ro {mounted} && cd {mounted} && {python}"
    )
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script], capture_output=True, text=True, timeout=TIMEOUT_S, env=_env(), check=False
    )
    if done.returncode == 77 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _read_only(case: Case, folder: Path, outcomes: dict[str, Any]) -> tuple[int, str, str]:
    files = sorted(path for path, digest in snapshot(folder).items() if digest != "dir")
    assert outcomes["files"] == files, "a file was made beside the log"
    code, stdout, stderr = outcomes["outcomes"][case.args]
    return code, stdout, stderr


def run_case(case: Case, folder: Path, request: pytest.FixtureRequest) -> tuple[int, str, str]:
    if case.setup == "at once":
        return _at_once(case, folder)
    if case.setup == "read-only":
        return _read_only(case, folder, request.getfixturevalue("read_only_outcomes"))
    assert not case.setup, f"unknown setup {case.setup!r}"
    request.getfixturevalue("monkeypatch").chdir(folder)
    result = cli(*shlex.split(case.args))
    return result.exit_code, result.stdout, result.stderr


async def _log_state(path: Path, head: str | None) -> tuple[bool, int, str]:
    """Whether the log verifies (through ``head`` if given), its session count and its head."""
    async with await open_sqlite_store(path, readonly=True) as store:
        report = await store.verify(expect_head=head)
        return report.ok, len(await store.sessions()), report.head


def _heads(folder: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    return {
        name: asyncio.run(_log_state(folder / name, None))[2] if (folder / name).exists() else None for name in names
    }


def _check_written(case: Case, folder: Path, heads: dict[str, str | None]) -> None:
    for name, head in heads.items():
        ok, sessions, _ = asyncio.run(_log_state(folder / name, head))
        assert ok, f"{name} does not verify, or lost what it held"
        if case.sessions is not None:
            assert sessions == case.sessions, name


@pytest.mark.parametrize("case", CASES, ids=[case.args for case in CASES])
def test_misuse(case: Case, workspace_template: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(workspace_template, folder)
    before = snapshot(folder)
    heads = _heads(folder, case.writes)

    code, stdout, stderr = run_case(case, folder, request)

    stderr = FAILED_RUN.sub("run <id> marked failed", stderr)
    assert "Traceback" not in stderr
    assert (code, stderr) == (case.code, case.message + "\n" if case.message else ""), stdout
    assert case.output in stdout
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if k not in case.writes} == {
        k: v for k, v in before.items() if k not in case.writes
    }, "the workspace changed"
    _check_written(case, folder, heads)


@pytest.mark.parametrize("case", [case for case in CASES if case.code], ids=lambda case: case.args)
def test_every_failure_is_one_line_naming_its_place(case: Case) -> None:
    """``error: <what> (<where>)``, the last line of stderr (progress may come before it)."""
    last = case.message.splitlines()[-1]
    assert ONE_LINE.fullmatch(last), last


def test_the_16_items_of_the_issue_each_have_a_row() -> None:
    assert {case.issue for case in CASES} - {""} >= {str(item) for item in range(1, 17)} - {"5", "11"}


def test_the_table_has_at_least_60_cases_each_once() -> None:
    assert len(CASES) >= 60
    assert len({case.args for case in CASES}) == len(CASES)


def test_docs_errors_md_holds_the_table() -> None:
    assert documented_table(DOC.read_text()) == markdown_table(), "run: python -m tests.integration.misuse_cases"
