"""Session manifests: provenance and a content hash of the configuration."""

from __future__ import annotations

import hashlib
import platform
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import msgspec

# Judged by words, so "clientSecret" and "host_token" are secrets while
# "minLiquidity" (which merely contains "uid") and "tokenBucket" are not. The names
# cover ccxt's requiredCredentials (apiKey, secret, uid, login, password, twofa,
# privateKey, walletAddress, token) and the spellings exchanges and HTTP use for them.
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Not "seed" or "pass": runs hash their config, and a run's seed or a two-pass setting must count.
_SECRET_NAMES = {"uid", "login", "twofa", "walletaddress", "cookie", "signature", "otp", "totp", "mnemonic"}
_SECRET_ENDINGS = (
    "apikey", "accesskey", "privatekey", "secretkey", "signingkey", "apipass", "apisecret", "authorization",
    "walletaddress", "xmbxapikey",
)  # fmt: skip
_SECRET_LAST_WORDS = {"secret", "password", "passwd", "passphrase", "token", "pwd", "authorization"}
_SECRET_TABLES = {"headers"}
"""Tables whose every value is secret, whatever its key (an HTTP header carries keys under any name)."""

MIN_SECRET_LENGTH = 4
"""Shorter secret values are not scrubbed from text (they would blank out ordinary words); keys are still redacted."""


def is_secret_key(key: str) -> bool:
    """Whether a config key names a credential (ccxt's fields and common spellings), in any casing.

    >>> [is_secret_key(k) for k in ("apiKey", "X-MBX-APIKEY", "Authorization", "apiPass", "accessKey", "timeout")]
    [True, True, True, True, True, False]
    """
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return False
    joined = "".join(words)
    return joined in _SECRET_NAMES or joined.endswith(_SECRET_ENDINGS) or words[-1] in _SECRET_LAST_WORDS


def _is_secret_table(key: str) -> bool:
    return key.lower() in _SECRET_TABLES


REDACTED = "***"
_CANONICAL = msgspec.json.Encoder(order="sorted")


def secret_values(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The text of every secret value in ``config`` (at any depth), longest first, for scrubbing text."""
    found: set[str] = set()
    _collect(config, found, inside_secret=False)
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def _collect(value: Any, found: set[str], *, inside_secret: bool) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            secret = inside_secret or is_secret_key(str(key)) or _is_secret_table(str(key))
            _collect(item, found, inside_secret=secret)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found, inside_secret=inside_secret)
    elif inside_secret and value is not None:
        text = str(value)
        found.add(text)
        if text.lower().startswith(("bearer ", "basic ", "token ")):
            found.add(text.split(" ", 1)[1].strip())


def scrub_text(text: str, values: tuple[str, ...]) -> str:
    """``text`` with each of ``values`` (secrets, longest first) replaced by ``***``."""
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with every secret replaced: by key, under ``headers``, and by value in any text.

    Keys that look like credentials (``apiKey``, ``secret``, ``password``, ``token``,
    ``X-MBX-APIKEY``, ``Authorization``, ...) and every value of a ``headers`` table
    never reach the log, at any nesting depth; their values are also removed from
    any other string of the config (a URL with the key in its query).

    >>> redact({"headers": {"User-Agent": "me"}, "urls": ["https://x/?k=abcd1234"], "apiKey": "abcd1234"})
    {'headers': {'User-Agent': '***'}, 'urls': ['https://x/?k=***'], 'apiKey': '***'}
    """
    return _redacted(config, secret_values(config))


def _redacted(config: Mapping[str, Any], values: tuple[str, ...]) -> dict[str, Any]:
    return {
        k: REDACTED if is_secret_key(str(k)) else _all_redacted(v) if _is_secret_table(str(k)) else _value(v, values)
        for k, v in config.items()
    }


def _all_redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict.fromkeys(value, REDACTED)
    return REDACTED


def _value(value: Any, values: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        return _redacted(value, values)
    if isinstance(value, list | tuple):
        return [_value(v, values) for v in value]
    if isinstance(value, str):
        return scrub_text(value, values)
    return value


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the redacted config: keys sorted."""
    return hashlib.sha256(_CANONICAL.encode(redact(config))).hexdigest()


def _version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def build_manifest(config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest stored with a session: versions, the redacted config and its hash."""
    clean = redact(config)
    manifest: dict[str, Any] = {
        "virtuoso": _version_of("virtuoso"),
        "ccxt": _version_of("ccxt"),
        "python": platform.python_version(),
        "config": clean,
        "config_hash": config_hash(clean),
    }
    if extra:
        manifest.update(redact(extra))
    return manifest


def session_id_for(source: str, name: str, started_ns: int) -> str:
    """A deterministic session id: the same source, name and start give the same id."""
    digest = hashlib.sha256(f"{source}\0{name}\0{started_ns}".encode()).hexdigest()
    return digest[:32]
