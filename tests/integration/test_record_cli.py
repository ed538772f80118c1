"""``virtuoso record`` as a process: SIGINT closes the session, SIGKILL leaves a valid log, secrets stay out.

The loopback exchange runs in the test's event loop; the recorder is a child
process started with ``python -m virtuoso record``, reading a TOML config
whose ``[ccxt]`` table points ccxt at the loopback exchange.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, require_data
from virtuoso.events import SessionEnded, Trade
from virtuoso.store import EventFilter, open_sqlite_store
from virtuoso.testing import LoopbackExchange

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
LINE_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 60.0
SECRETS = {
    "apiKey": "AKIA-test-key-0001",
    "secret": "s3cr3t-value-0002",
    "password": "pass-word-0003",
    "uid": "user-id-0004",
    "token": "tok-en-0005",
    "walletTag": "marked-by-user-0006",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def _write_config(path: Path, ccxt: dict[str, Any], **record: Any) -> Path:
    lines = ["[exchange]", 'id = "binance"', "", "[ccxt]"]
    lines += [f"{json.dumps(key)} = {_toml_value(value)}" for key, value in ccxt.items()]
    lines += ["", "[record]"] + [f"{key} = {_toml_value(value)}" for key, value in record.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


async def _start(config: Path, db: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "virtuoso",
        "record",
        "--config",
        str(config),
        "--db",
        str(db),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
    )


async def _wait_for_events(proc: asyncio.subprocess.Process, stderr_lines: list[str]) -> None:
    """Read status lines until one says trades were recorded (the markets come first, so events alone do not)."""
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), LINE_TIMEOUT_S)).decode()
        if not line:
            pytest.fail(f"the recorder ended before recording anything: {''.join(stderr_lines)}")
        stderr_lines.append(line)
        if ":trades " in line:  # the stream is listed once a trade of it was counted
            return


async def _finish(proc: asyncio.subprocess.Process, stderr_lines: list[str]) -> tuple[str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), EXIT_TIMEOUT_S)
    return out.decode(), "".join(stderr_lines) + err.decode()


def _data_dir() -> Path:
    return require_data(CAPTURE).parents[3]


@pytest.mark.asyncio
async def test_sigint_flushes_everything_and_closes_the_session(tmp_path: Path, db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=20) as ex:
        config = _write_config(tmp_path / "record.toml", ex.ccxt_config(), symbols=["BTC/USDT"], status_interval_s=0.1)
        proc = await _start(config, db_path, "--json")
        lines: list[str] = []
        await _wait_for_events(proc, lines)
        proc.send_signal(signal.SIGINT)
        out, err = await _finish(proc, lines)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    store = await open_sqlite_store(db_path, readonly=True)
    try:
        (info,) = await store.sessions()
        trades = [e async for e in store.read(EventFilter(types=("Trade",)))]
        ended = [e.payload async for e in store.read(EventFilter(types=("SessionEnded",)))]
        report = await store.verify()
    finally:
        await store.close()
    assert (info.status, info.id, summary["session"]) == ("closed", summary["session"], info.id)
    assert ended == [SessionEnded("closed", "stopped")]
    assert summary["counts"]["Trade"] == len(trades) > 0
    assert all(isinstance(e.payload, Trade) for e in trades)
    assert set(summary) >= {"session", "counts", "gaps", "breaker_transitions"}
    assert report.ok


@pytest.mark.asyncio
async def test_sigkill_leaves_a_valid_log_with_the_session_crashed(tmp_path: Path, db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=20) as ex:
        config = _write_config(tmp_path / "record.toml", ex.ccxt_config(), symbols=["BTC/USDT"], status_interval_s=0.1)
        proc = await _start(config, db_path)
        lines: list[str] = []
        await _wait_for_events(proc, lines)
        proc.kill()
        await _finish(proc, lines)
    assert proc.returncode == -signal.SIGKILL
    store = await open_sqlite_store(db_path)
    try:
        (info,) = await store.sessions()
        report = await store.verify()
        assert store.recovered == [info.id]
    finally:
        await store.close()
    assert info.status == "crashed"
    assert report.ok, report.problem
    verify = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "virtuoso", "sessions", "verify", "--db", str(db_path), cwd=REPO
    )
    assert await asyncio.wait_for(verify.wait(), EXIT_TIMEOUT_S) == 0


@pytest.mark.asyncio
async def test_secrets_never_reach_the_log_file_or_the_output(tmp_path: Path, db_path: Path) -> None:
    async with LoopbackExchange(_data_dir(), speed=20, faults="rest:/api/v3/depth#1=503") as ex:
        ccxt = {**ex.ccxt_config(), **SECRETS}
        config = _write_config(
            tmp_path / "record.toml",
            ccxt,
            symbols=["BTC/USDT"],
            channels=["trades", "book"],
            secret_keys=["walletTag"],
            status_interval_s=0.1,
        )
        proc = await _start(config, db_path, "--json")
        lines: list[str] = []
        await _wait_for_events(proc, lines)
        proc.send_signal(signal.SIGINT)
        out, err = await _finish(proc, lines)
    assert proc.returncode == 0, err
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    blobs = [p.read_bytes() for p in files] + [out.encode(), err.encode()]
    for name, value in SECRETS.items():
        assert all(value.encode() not in blob for blob in blobs), f"{name} leaked"
    store = await open_sqlite_store(db_path, readonly=True)
    try:
        (info,) = await store.sessions()
    finally:
        await store.close()
    assert info.manifest["config"]["ccxt"]["apiKey"] == "***"
    assert info.manifest["config"]["ccxt"]["walletTag"] == "***"
