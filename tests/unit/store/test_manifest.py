"""Session manifests: secrets never reach the log, config hashes and session ids are stable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from virtuoso.events import SessionStarted
from virtuoso.store import MemoryEventStore, build_manifest, config_hash, open_sqlite_store, redact
from virtuoso.store._manifest import REDACTED, session_id_for

SECRET_KEYS = [
    "apiKey",
    "api_key",
    "APIKEY",
    "secret",
    "secretKey",
    "clientSecret",
    "password",
    "Passwd",
    "token",
    "accessToken",
    "privateKey",
    "private_key",
    "passphrase",
    "X-MBX-APIKEY",
    "Authorization",
    "accessKey",
    "apiPass",
    "uid",
    "login",
    "twofa",
    "walletAddress",
    "signingKey",
]

PLAIN_KEYS = [
    "exchange", "symbols", "timeout", "rateLimit", "enableRateLimit", "options", "depth", "seed", "second_pass",
    "minLiquidity", "tokenBucket", "max_tokens", "keyField",
]  # fmt: skip


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_redacted_at_the_top(key: str) -> None:
    assert redact({key: "hunter2", "exchange": "binance"}) == {key: REDACTED, "exchange": "binance"}


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_plain_keys_are_kept(key: str) -> None:
    value: Any = {"nested": [1, 2]} if key == "options" else "value"
    assert redact({key: value}) == {key: value}


def test_secrets_are_redacted_at_any_depth() -> None:
    config = {
        "exchange": "binance",
        "apiKey": "k-top",
        "exchanges": [
            {"id": "binance", "apiKey": "k-list-0", "options": {"secret": "s-nested"}},
            {"id": "kraken", "credentials": [{"password": "p-deep", "user": "me"}]},
        ],
        "options": {"ws": {"auth": {"token": "t-deeper", "url": "wss://x"}}},
        "pairs": ("BTC/USDT", {"token": "t-in-tuple"}),
    }
    clean = redact(config)
    assert clean == {
        "exchange": "binance",
        "apiKey": REDACTED,
        "exchanges": [
            {"id": "binance", "apiKey": REDACTED, "options": {"secret": REDACTED}},
            {"id": "kraken", "credentials": [{"password": REDACTED, "user": "me"}]},
        ],
        "options": {"ws": {"auth": {"token": REDACTED, "url": "wss://x"}}},
        "pairs": ["BTC/USDT", {"token": REDACTED}],
    }
    for secret in ("k-top", "k-list-0", "s-nested", "p-deep", "t-deeper", "t-in-tuple"):
        assert secret not in repr(clean)


def test_a_secret_key_holding_a_structure_is_redacted_whole() -> None:
    assert redact({"secret": {"a": 1, "b": [2]}}) == {"secret": REDACTED}


def test_redact_leaves_its_input_alone() -> None:
    config = {"apiKey": "k", "nested": {"secret": "s", "keep": [1, {"token": "t"}]}}
    original = copy.deepcopy(config)
    redact(config)
    assert config == original


def test_redact_is_idempotent() -> None:
    config = {"apiKey": "k", "nested": [{"secret": "s"}], "x": 1}
    assert redact(redact(config)) == redact(config)


def test_config_hash_ignores_key_order_at_every_level() -> None:
    one = {"exchange": "binance", "options": {"a": 1, "b": {"x": 1, "y": 2}}, "symbols": ["BTC/USDT"]}
    two = {"symbols": ["BTC/USDT"], "options": {"b": {"y": 2, "x": 1}, "a": 1}, "exchange": "binance"}
    assert config_hash(one) == config_hash(two)


def test_config_hash_is_equal_for_equal_configs_and_hex_sha256() -> None:
    digest = config_hash({"exchange": "binance", "depth": 20})
    assert digest == config_hash({"exchange": "binance", "depth": 20})
    assert len(digest) == 64
    assert int(digest, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [
        {"exchange": "kraken", "depth": 20},
        {"exchange": "binance", "depth": 21},
        {"exchange": "binance", "depth": "20"},
        {"exchange": "binance"},
        {"exchange": "binance", "depth": 20, "extra": None},
        {"exchange": "binance", "depth": [20]},
    ],
)
def test_config_hash_differs_for_different_configs(other: dict[str, Any]) -> None:
    assert config_hash(other) != config_hash({"exchange": "binance", "depth": 20})


def test_list_order_matters_to_the_config_hash() -> None:
    assert config_hash({"symbols": ["BTC/USDT", "ETH/USDT"]}) != config_hash({"symbols": ["ETH/USDT", "BTC/USDT"]})


def test_config_hash_does_not_depend_on_the_secrets() -> None:
    # The hash is of the redacted config: it identifies a setup, never leaks (or fingerprints) a key.
    assert config_hash({"exchange": "binance", "apiKey": "one"}) == config_hash(
        {"exchange": "binance", "apiKey": "two"}
    )


def test_manifest_holds_versions_the_redacted_config_and_its_hash() -> None:
    manifest = build_manifest({"exchange": "binance", "apiKey": "k"}, extra={"host_token": "t", "note": "n"})
    assert manifest["config"] == {"exchange": "binance", "apiKey": REDACTED}
    assert manifest["config_hash"] == config_hash({"exchange": "binance", "apiKey": "k"})
    assert manifest["virtuoso"]
    assert manifest["python"].count(".") == 2
    assert manifest["host_token"] == REDACTED
    assert manifest["note"] == "n"


def test_session_ids_are_deterministic() -> None:
    sid = session_id_for("binance", "btc-trades", 1_723_161_255_000_000_000)
    assert sid == session_id_for("binance", "btc-trades", 1_723_161_255_000_000_000)
    assert len(sid) == 32
    assert int(sid, 16) >= 0


@pytest.mark.parametrize(
    ("source", "name", "started"),
    [
        ("kraken", "btc-trades", 1),
        ("binance", "eth-trades", 1),
        ("binance", "btc-trades", 2),
        ("binance\0btc", "-trades", 1),
    ],
)
def test_session_ids_differ_when_any_input_differs(source: str, name: str, started: int) -> None:
    assert session_id_for(source, name, started) != session_id_for("binance", "btc-trades", 1)


@pytest.mark.asyncio
async def test_begin_session_ids_match_across_stores(tmp_path: Path) -> None:
    memory = MemoryEventStore()
    sqlite = await open_sqlite_store(tmp_path / "log.sqlite")
    try:
        one = await memory.begin_session("rec", "binance", started_ns=42, config={"b": 1, "a": 2})
        two = await sqlite.begin_session("rec", "binance", started_ns=42, config={"a": 2, "b": 1})
    finally:
        await sqlite.close()
        await memory.close()
    assert one.id == two.id == session_id_for("binance", "rec", 42)
    assert one.config_hash == two.config_hash


API_KEY = "AKIA-virtuoso-test-0123456789abcdef"
SECRET = "s3cr3t-virtuoso-test-fedcba9876543210"
PASSWORD = "pw-virtuoso-test-correct-horse"
TOKEN = "tok-virtuoso-test-battery-staple"


def _secret_config() -> dict[str, Any]:
    return {
        "exchange": "binance",
        "apiKey": API_KEY,
        "options": {"secret": SECRET, "defaultType": "spot"},
        "accounts": [{"name": "main", "password": PASSWORD}, {"name": "ws", "auth": {"token": TOKEN}}],
    }


def _log_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


@pytest.mark.asyncio
async def test_secrets_in_config_never_reach_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = await open_sqlite_store(path)
    try:
        info = await store.begin_session("rec", "binance", started_ns=1, config=_secret_config())
        assert info.manifest["config"]["apiKey"] == REDACTED
        started = [e.payload async for e in store.read()]
        assert started == [SessionStarted("rec", "binance", (), (), info.config_hash)]
        await store.end_session(info.id, ended_ns=2)
        stored = await store.session(info.id)
        assert stored.manifest["config"]["options"] == {"secret": REDACTED, "defaultType": "spot"}
        while_open = _log_bytes(path)
    finally:
        await store.close()
    after_close = _log_bytes(path)

    assert b"defaultType" in after_close  # the manifest did reach the file, only redacted
    assert REDACTED.encode() in after_close
    for blob in (while_open, after_close):
        for secret in (API_KEY, SECRET, PASSWORD, TOKEN):
            assert secret.encode() not in blob
            assert secret.encode("utf-16-le") not in blob


def test_keys_that_merely_contain_uid_are_not_secrets() -> None:
    assert redact({"minLiquidity": 5000}) == {"minLiquidity": 5000}
    assert config_hash({"minLiquidity": 1}) != config_hash({"minLiquidity": 2})
