"""Secrets by value: a recording with credentials under 20+ spellings leaves none of them in any byte written.

A real recording (ccxt.pro against the loopback exchange, in a subprocess) with a
``[ccxt]`` table holding credentials under ccxt's names and other spellings, in
``headers`` and ``options``, and options no one declared safe; then the commands
that print or write (``sessions show --json``, ``status``, ``export``, a backtest
report). Every file left in the folder (the log, its -wal/-shm, the markets cache,
exports, the report) and every output stream is searched for every secret value.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.integration._cli import cli, cli_json
from tests.integration.test_record_cli import _data_dir, _finish, _start, _wait_for_events, _write_config
from virtuoso.exchange import Secrets
from virtuoso.store import open_sqlite_store
from virtuoso.testing import LoopbackExchange

TOP = {
    "apiKey": "top-apiKey-value-01",
    "secret": "top-secret-value-02",
    "password": "top-password-value-03",
    "uid": "top-uid-value-04",
    "login": "top-login-value-05",
    "twofa": "top-twofa-value-06",
    "privateKey": "top-privateKey-value-07",
    "walletAddress": "top-walletAddress-value-08",
    "token": "top-token-value-09",
    "accessKey": "top-accessKey-value-10",
    "apiPass": "top-apiPass-value-11",
    "api_key": "top-api_key-value-12",
    "API_SECRET": "top-API_SECRET-value-13",
    "Passphrase": "top-Passphrase-value-14",
    "accessToken": "top-accessToken-value-15",
    "clientSecret": "top-clientSecret-value-16",
    "signingKey": "top-signingKey-value-17",
    "walletTag": "top-walletTag-marked-18",
    "someVendorSetting": "top-unknown-option-19",
}
HEADERS = {
    "X-MBX-APIKEY": "hdr-x-mbx-apikey-20",
    "Authorization": "Bearer hdr-bearer-token-21",
    "x-custom-auth": "hdr-custom-22",
}
OPTIONS = {"accessKey": "opt-accessKey-23", "apiPass": "opt-apiPass-24", "vendorThing": "opt-unknown-25"}
SECRET_VALUES = [*TOP.values(), *HEADERS.values(), "hdr-bearer-token-21", *OPTIONS.values()]


def test_the_config_has_secrets_under_twenty_spellings() -> None:
    secrets = Secrets.from_config({**TOP, "headers": HEADERS, "options": OPTIONS}, marked=("walletTag",))

    assert len(TOP) + len(HEADERS) + len(OPTIONS) >= 20
    assert set(SECRET_VALUES) <= set(secrets.values)
    text = " ".join(f"{k}={v}" for k, v in {**TOP, **HEADERS, **OPTIONS}.items())
    assert not [v for v in SECRET_VALUES if v in secrets.scrub(text)]


async def _record(folder: Path, db: Path) -> tuple[int | None, str, str]:
    async with LoopbackExchange(_data_dir(), speed=20) as ex:
        base = ex.ccxt_config()
        ccxt = {**base, **TOP, "headers": HEADERS, "options": {**base["options"], **OPTIONS}}
        config = _write_config(
            folder / "record.toml",
            ccxt,
            symbols=["BTC/USDT"],
            channels=["trades"],
            secret_keys=["walletTag"],
            status_interval_s=0.1,
        )
        proc = await _start(config, db, "--json")
        lines: list[str] = []
        await _wait_for_events(proc, lines)
        proc.send_signal(signal.SIGINT)
        out, err = await _finish(proc, lines)
    return proc.returncode, out, err


async def _manifests(db: Path) -> list[str]:
    store = await open_sqlite_store(db, readonly=True)
    try:
        return [str(info.manifest) for info in await store.sessions()]
    finally:
        await store.close()


def test_no_secret_value_in_any_byte_written(tmp_path: Path) -> None:
    db = tmp_path / "rec.sqlite"
    returncode, out, err = asyncio.run(_record(tmp_path, db))
    assert returncode == 0, err
    written = [out, err]

    # The files as the recorder left them (the WAL too, before anything reopens the log).
    leftovers = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p.name != "record.toml"}
    (session,) = cli_json("sessions", "list", "--db", db)
    for args in (
        ("sessions", "show", "--db", db, session["id"], "--json"),
        ("sessions", "show", "--db", db, session["id"]),
        ("status", "--db", db),
        ("export", "--db", db, "--session", session["id"], "--out", tmp_path / "export", "--format", "csv"),
        # Up to the end of the capture's day: the session also holds events stamped with today's clock.
        ("backtest", "--db", db, "--session", session["id"], "--strategy", "virtuoso.strategies:MovingAverageCross",
         "--to", "2024-08-09T00:00:00Z", "--report", tmp_path / "report", "--json"),
    ):  # fmt: skip
        result = cli(*args)
        written += [result.stdout, result.stderr]
    manifests = asyncio.run(_manifests(db))

    blobs = [text.encode() for text in [*written, *manifests]] + list(leftovers.values())
    blobs += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "record.toml"]
    assert any(name.startswith("rec.sqlite") for name in leftovers)
    assert (tmp_path / "report" / "report.html").is_file()
    assert any((tmp_path / "export").iterdir())
    leaked = sorted({value for value in SECRET_VALUES for blob in blobs if value.encode() in blob})
    assert leaked == []
    manifest = cli_json("sessions", "show", "--db", db, session["id"])["manifest"]["config"]["ccxt"]
    assert manifest["apiKey"] == manifest["headers"] == manifest["someVendorSetting"] == "***"
    assert manifest["options"]["vendorThing"] == manifest["options"]["accessKey"] == "***"
    assert manifest["options"]["fetchCurrencies"] is False, "a known-safe option is kept"
    assert manifest["enableRateLimit"] is False
