"""The runnable example of docs/recording.md runs and prints what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_data, shared_data

DOCS = Path(__file__).resolve().parents[2] / "docs" / "recording.md"


def blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", markdown, flags=re.DOTALL)


def test_recording_docs_example_prints_what_the_page_says(tmp_path: Path) -> None:
    require_data("gocryptotrader/testdata/http_mock/binance/binance.json")
    require_data("hftbacktest/examples/spot/btcusdt_20240808.gz")
    markdown = DOCS.read_text(encoding="utf-8")
    section = markdown.split("## A runnable example", 1)[1]
    data = f"Path({str(shared_data().resolve())!r})"
    script = blocks(section, "python")[0].replace('Path("../shared/data")', data)
    assert script != blocks(section, "python")[0]
    expected = blocks(section.split("It prints:", 1)[1], "text")[0]
    (tmp_path / "example.py").write_text(script, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
