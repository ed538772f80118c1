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
# "minLiquidity" (which merely contains "uid") and "tokenBucket" are not.
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_NAMES = {"apikey", "uid", "login", "twofa", "privatekey", "walletaddress", "secretkey", "apisecret"}
_SECRET_LAST_WORDS = {"secret", "password", "passwd", "passphrase", "token"}


def is_secret_key(key: str) -> bool:
    """Whether a config key names a credential (ccxt's fields and common spellings)."""
    words = [w.lower() for w in _WORDS.findall(key)]
    return bool(words) and ("".join(words) in _SECRET_NAMES or words[-1] in _SECRET_LAST_WORDS)


REDACTED = "***"
_CANONICAL = msgspec.json.Encoder(order="sorted")


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with every secret-looking key's value replaced.

    Keys that look like credentials (``apiKey``, ``secret``, ``password``, ``token``,
    ...) never reach the log, at any nesting depth.
    """
    return {k: REDACTED if is_secret_key(str(k)) else _redact_value(v) for k, v in config.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
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
