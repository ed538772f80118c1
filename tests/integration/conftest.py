"""Fixtures the integration tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration._cli import cli


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Half an hour of the demo's synthetic market (its log alone), written once."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    assert cli("demo", "--db", path, "--log-only", "--hours", "0.5").exit_code == 0
    return path


@pytest.fixture
def demo(demo_log: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo log for each test (the tests add runs to it)."""
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(demo_log, path)
    return path
