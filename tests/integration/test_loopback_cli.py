"""``virtuoso testing exchange`` as a user runs it: a subprocess, one real ccxt call, then Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest

from tests.conftest import require_data, shared_data
from tests.integration._cli import cli

CLI = [sys.executable, "-c", "from virtuoso.cli import main; main()"]


def data_dir() -> Path:
    require_data("gocryptotrader/testdata/http_mock/binance/binance.json")
    require_data("hftbacktest/examples/spot/btcusdt_20240808.gz")
    return shared_data()


async def read_announcement(stdout: asyncio.StreamReader) -> tuple[str, dict[str, object]]:
    """The first line, and the ccxt config JSON printed between it and 'Ctrl-C to stop.'."""
    first = (await stdout.readline()).decode()
    await stdout.readline()  # "ccxt config (pass to ...):"
    body: list[str] = []
    while (line := (await stdout.readline()).decode()).strip() != "Ctrl-C to stop.":
        assert line, "the command ended before printing its config"
        body.append(line)
    return first, json.loads("".join(body))


@pytest.mark.asyncio
async def test_standalone_exchange_serves_ccxt_until_interrupted() -> None:
    args = ["testing", "exchange", "--data", str(data_dir()), "--speed", "max", "--max-messages", "100"]
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, "--faults", "rest:/api/v3/depth#1=503", stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            first, config = await read_announcement(process.stdout)
            client = ccxt_async.binance(config)
            try:
                with pytest.raises(ccxt_async.ExchangeNotAvailable):
                    await client.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
                book = await client.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
            finally:
                await client.close()
            process.send_signal(signal.SIGINT)
            rest = (await process.stdout.read()).decode()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert first.startswith("loopback exchange on http://127.0.0.1:")
    assert "speed max, 1 fault rules" in first
    assert book["lastUpdateId"] == 50093239218
    assert "stopped: 2 REST requests, 0 WebSocket messages" in rest


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    speed = cli("testing", "exchange", "--data", tmp_path, "--speed", "fast")
    faults = cli("testing", "exchange", "--data", tmp_path, "--faults", "ws:explode@3")
    data = cli("testing", "exchange", "--data", tmp_path)

    assert speed.exit_code == faults.exit_code == data.exit_code == 1
    assert "--speed must be a positive number or 'max', got 'fast'" in speed.output
    assert "fault rule 'ws:explode@3' is not ws:ACTION@N" in faults.output
    assert f"data file {tmp_path}/gocryptotrader" in data.output.replace("\n", "")


def test_bad_chaos_and_lap_options_are_one_line_errors(tmp_path: Path) -> None:
    rate = cli("testing", "exchange", "--data", tmp_path, "--chaos", "7", "--chaos-rate", "2")
    kinds = cli("testing", "exchange", "--data", tmp_path, "--chaos", "7", "--chaos-kinds", "ws:cut,explode")
    laps = cli("testing", "exchange", "--data", tmp_path, "--laps", "0")
    hours = cli("testing", "exchange", "--data", tmp_path, "--connection-hours", "-1")

    assert rate.exit_code == kinds.exit_code == laps.exit_code == hours.exit_code == 1
    assert "chaos rate must be between 0 and 1, got 2.0" in rate.output
    assert "unknown chaos kind 'explode'" in kinds.output
    assert "laps must be a whole number >= 1, got 0" in laps.output
    assert "connection_hours must be > 0" in hours.output
    assert all(len(result.output.strip().splitlines()) == 1 for result in (rate, kinds, laps, hours))
