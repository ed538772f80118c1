"""RecordConfig from TOML and flags; one-line errors naming the key; secrets; the exchange pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.errors import ConfigError
from virtuoso.exchange import Channel, ExchangePool, RecordConfig, Secrets, load_record_config
from virtuoso.exchange._pool import exchange_class

GOOD = """
[exchange]
id = "binance"

[ccxt]
timeout = 5000
apiKey = "my-api-key-123"
secret = "my-secret-456"
options = { defaultType = "spot", privateThing = "hidden-789" }

[record]
symbols = ["BTC/USDT", "ETH/USDT"]
channels = ["trades", "book", "ohlcv:1m", "ticker"]
mode = "rest"
poll_interval_s = 0.5
secret_keys = ["privateThing"]

[resilience]
failure_threshold = 3
open_s = 2.5
seed = 7
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "record.toml"
    path.write_text(text)
    return path


def test_a_full_config(tmp_path: Path) -> None:
    config = load_record_config(_write(tmp_path, GOOD))
    assert config.exchange == "binance"
    assert config.symbols == ("BTC/USDT", "ETH/USDT")
    assert config.channels == (Channel("trades"), Channel("book"), Channel("ohlcv", "1m"), Channel("ticker"))
    assert (config.mode, config.poll_interval_s, config.secret_keys) == ("rest", 0.5, ("privateThing",))
    assert config.ccxt["timeout"] == 5000
    assert (config.resilience.failure_threshold, config.resilience.open_s, config.resilience.seed) == (3, 2.5, 7)


def test_markets_settings_and_their_defaults(tmp_path: Path) -> None:
    default = load_record_config(_write(tmp_path, GOOD))
    assert (default.markets_ttl_s, default.markets_cache) == (3600.0, None)
    text = GOOD.replace("poll_interval_s = 0.5", 'markets_ttl_s = 600\nmarkets_cache = "cache/binance.json"')
    config = load_record_config(_write(tmp_path, text))
    assert (config.markets_ttl_s, config.markets_cache) == (600.0, "cache/binance.json")


def test_flags_override_the_file(tmp_path: Path) -> None:
    flags = {"exchange": "kraken", "symbols": "SOL/USD", "channels": "trades,ticker", "mode": "ws"}
    config = load_record_config(_write(tmp_path, GOOD), flags)
    assert (config.exchange, config.symbols, config.mode) == ("kraken", ("SOL/USD",), "ws")
    assert config.channels == (Channel("trades"), Channel("ticker"))
    assert config.poll_interval_s == 0.5  # not overridden


def test_config_is_frozen_hashable_and_its_hash_ignores_secret_values(tmp_path: Path) -> None:
    config = load_record_config(_write(tmp_path, GOOD))
    other_key = load_record_config(_write(tmp_path, GOOD.replace("my-api-key-123", "another-key-000")))
    assert hash(config) == hash(other_key)
    assert config.hash == other_key.hash
    assert len(config.hash) == 64
    with pytest.raises(AttributeError):
        config.mode = "ws"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('"ticker"]', '"bookz"]'), "record.toml: [record] channels: unknown channel 'bookz'"),
        (('mode = "rest"', 'mode = "fast"'), "record.toml: [record] mode: expected 'ws' or 'rest', got 'fast'"),
        (
            ("poll_interval_s = 0.5", "poll_interval_s = -1"),
            "record.toml: [record] poll_interval_s: expected a positive",
        ),
        (("poll_interval_s = 0.5", "pol_interval_s = 1"), "record.toml: [record] pol_interval_s: unknown key"),
        (('id = "binance"', 'id = "nosuchx"'), "record.toml: [exchange] id: unknown ccxt exchange 'nosuchx'"),
        (("failure_threshold = 3", "failure_threshold = 0"), "record.toml: [resilience] failure_threshold: expected"),
        (("[resilience]", "[resiliance]"), "record.toml: [resiliance]: unknown table"),
        (('"ohlcv:1m"', '"ohlcv"'), "record.toml: [record] channels: channel 'ohlcv': only ohlcv takes a timeframe"),
        (("symbols = [", "symbols = 3 #["), "record.toml: [record] symbols: expected a non-empty list"),
        (
            ("poll_interval_s = 0.5", "markets_ttl_s = 0"),
            "record.toml: [record] markets_ttl_s: expected a positive float, got 0",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ConfigError) as caught:
        load_record_config(_write(tmp_path, text))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_missing_things_and_bad_flags(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^flags: \[exchange\] id: missing \(or give --exchange\)"):
        load_record_config(None, {"symbols": "BTC/USDT"})
    with pytest.raises(ConfigError, match=r"\[record\] symbols: missing"):
        load_record_config(None, {"exchange": "binance"})
    with pytest.raises(ConfigError, match=r"^--channels: unknown channel 'bookz'"):
        load_record_config(_write(tmp_path, GOOD), {"channels": "trades,bookz"})
    with pytest.raises(ConfigError, match="no such config file"):
        load_record_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"record\.toml: not valid TOML"):
        load_record_config(_write(tmp_path, "[record\n"))


def test_a_secret_never_shows_in_a_config_error(tmp_path: Path) -> None:
    text = GOOD.replace("poll_interval_s = 0.5", 'poll_interval_s = "my-secret-456"')
    with pytest.raises(ConfigError) as caught:
        load_record_config(_write(tmp_path, text))
    assert str(caught.value) == "record.toml: [record] poll_interval_s: expected a positive float, got '***'"


# -- secrets -------------------------------------------------------------------------


def test_secrets_are_redacted_by_key_and_scrubbed_by_value(tmp_path: Path) -> None:
    config = load_record_config(_write(tmp_path, GOOD))
    secrets = Secrets.of(config)
    redacted = secrets.redact(config.as_dict())
    text = repr(redacted)
    for value in ("my-api-key-123", "my-secret-456", "hidden-789"):
        assert value not in text
        assert value in secrets.values
    assert redacted["ccxt"]["timeout"] == 5000
    assert redacted["ccxt"]["options"]["defaultType"] == "spot"
    line = "binance GET https://x/api?apiKey=my-api-key-123&signature=abc failed (hidden-789)"
    assert secrets.scrub(line) == "binance GET https://x/api?apiKey=***&signature=*** failed (***)"


# -- pool ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_pool_shares_instances_by_id_and_config_and_closes_them() -> None:
    pool = ExchangePool()
    a = pool.get("binance", {"timeout": 1000})
    assert pool.get("binance", {"timeout": 1000}) is a
    b = pool.get("binance", {"timeout": 2000})
    c = pool.get("kraken", {"timeout": 1000})
    rest_only = pool.get("binance", {"timeout": 1000}, websocket=False)
    assert len({id(x) for x in (a, b, c, rest_only)}) == 4
    assert len(pool) == 4
    assert a.timeout == 1000
    assert type(a) is exchange_class("binance")
    await pool.aclose()
    assert len(pool) == 0


def test_an_unknown_exchange_in_the_pool_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown ccxt exchange 'nosuchx'"):
        ExchangePool().get("nosuchx")


def test_channel_parsing() -> None:
    assert str(Channel.parse(" ohlcv:5m ")) == "ohlcv:5m"
    with pytest.raises(ValueError, match="needs one"):
        Channel.parse("ohlcv")
    with pytest.raises(ValueError, match="only ohlcv"):
        Channel.parse("trades:1m")
    assert RecordConfig("binance", ("BTC/USDT",)).channels == (Channel("trades"),)
