"""Every row of the misuse table (``misuse_cases.py``, ``docs/errors.md``): its exit status, its exact one
line on stderr, no traceback, and nothing changed in the workspace (the log's hash included)."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import shutil
from pathlib import Path

import pytest

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
GRID = '[sweep]\nconstraints = ["fast < slow"]\n\n[grid]\ntimeframe = "1s"\nfast = [2, 4]\nslow = [4, 8]\n'


async def _add_foreign_session(path: Path) -> None:
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session("manual", "example", started_ns=1_723_161_255_000_000_000)
        await store.end_session(info.id, ended_ns=1_723_161_256_000_000_000)
    finally:
        await store.close()


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
    (folder / "grid.toml").write_text(GRID)
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes (folders as ``dir``).

    Left out: the empty ``-wal`` and the ``-shm`` index SQLite leaves beside a WAL log opened
    read-only (they hold no data; not leaving them is the read-only mode's own change).
    """
    return {
        str(path.relative_to(folder)): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if not path.name.endswith("-shm") and not (path.name.endswith("-wal") and path.stat().st_size == 0)
    }


def run_case(case: Case, folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    result = cli(*shlex.split(case.args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.args for case in CASES])
def test_misuse(case: Case, workspace_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(workspace_template, folder)
    before = snapshot(folder)

    code, _, stderr = run_case(case, folder, monkeypatch)

    assert "Traceback" not in stderr
    assert (code, stderr) == (case.code, case.message + "\n")
    assert snapshot(folder) == before, "the workspace changed"


def test_the_table_has_at_least_60_cases_each_once() -> None:
    assert len(CASES) >= 60
    assert len({case.args for case in CASES}) == len(CASES)


def test_docs_errors_md_holds_the_table() -> None:
    assert documented_table(DOC.read_text()) == markdown_table(), "run: python -m tests.integration.misuse_cases"
