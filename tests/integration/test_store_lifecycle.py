"""Opening and closing a store from a program's point of view."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from virtuoso.errors import StoreClosedError
from virtuoso.store import open_sqlite_store


def test_a_program_that_fails_with_a_store_open_still_exits(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from virtuoso.store import open_sqlite_store

        async def main():
            store = await open_sqlite_store({str(tmp_path / "log.sqlite")!r})
            await store.begin_session("s", "tests", started_ns=1)
            raise RuntimeError("a bug in the user's program")

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "RuntimeError: a bug in the user's program" in done.stderr


@pytest.mark.asyncio
async def test_async_with_closes_the_store(tmp_path: Path) -> None:
    async with await open_sqlite_store(tmp_path / "log.sqlite") as store:
        await store.begin_session("s", "tests", started_ns=1)
    with pytest.raises(StoreClosedError):
        await store.max_position()
