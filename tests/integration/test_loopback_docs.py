"""The runnable example of docs/loopback.md runs and prints what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_data, shared_data
from virtuoso.testing._restdata import DELIVERY_INFO, FUTURES_INFO, GCT_MOCK

DOCS = Path(__file__).resolve().parents[2] / "docs" / "loopback.md"


def blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", markdown, flags=re.DOTALL)


def section(markdown: str, heading: str) -> str:
    """The text of ``## heading`` up to the next ``## ``."""
    return markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def run_example(markdown: str, tmp_path: Path) -> None:
    """Run the first python block of ``markdown`` and compare with the text block after "It prints:"."""
    data = f"Path({str(shared_data().resolve())!r})"
    script = blocks(markdown, "python")[0].replace('Path("../shared/data")', data)
    expected = markdown.split("It prints:", 1)[1]
    (tmp_path / "example.py").write_text(script, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == blocks(expected, "text")[0]


def test_docs_example_prints_what_the_page_says(tmp_path: Path) -> None:
    require_data("gocryptotrader/testdata/http_mock/binance/binance.json")
    require_data("hftbacktest/examples/spot/btcusdt_20240808.gz")
    run_example(DOCS.read_text(encoding="utf-8"), tmp_path)


def test_docs_market_change_example_prints_what_the_page_says(tmp_path: Path) -> None:
    for relative in (GCT_MOCK, FUTURES_INFO, DELIVERY_INFO):
        require_data(relative)
    markdown = DOCS.read_text(encoding="utf-8")
    run_example(section(markdown, "Changing a market's rules mid-session"), tmp_path)


def test_docs_chaos_example_prints_what_the_page_says(tmp_path: Path) -> None:
    require_data(GCT_MOCK)
    require_data("hftbacktest/examples/spot/btcusdt_20240808.gz")
    markdown = DOCS.read_text(encoding="utf-8")
    run_example(section(markdown, "Chaos: faults at random, from a seed"), tmp_path)
