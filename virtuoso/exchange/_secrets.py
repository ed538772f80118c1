"""Secrets: credential keys redacted from configs, and their values scrubbed from any text we write.

The store's :func:`~virtuoso.store.redact` already replaces values of keys that
look like credentials (``apiKey``, ``secret``, ``password``, ``uid``, ``token``,
...). A recording adds the keys the user marks (``[record] secret_keys``) and,
because a value can leak through an error message (a URL with a key in it, an
exchange echoing a parameter), scrubs every secret *value* from each line of
text before it is logged, stored or shown.

>>> secrets = Secrets.from_config({"apiKey": "k-123456", "options": {"myKey": "abcdef"}}, marked=("myKey",))
>>> secrets.scrub("GET /x?apiKey=k-123456&sig=abcdef")
'GET /x?apiKey=***&sig=***'
>>> secrets.redact({"apiKey": "k-123456", "options": {"myKey": "abcdef", "x": 1}})
{'apiKey': '***', 'options': {'myKey': '***', 'x': 1}}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from virtuoso.resilience import redact_message
from virtuoso.store import redact as store_redact

if TYPE_CHECKING:
    from virtuoso.exchange._config import RecordConfig

REDACTED = "***"
"""What a secret is replaced with (the store's own marker)."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not scrubbed from text (they would blank out ordinary words); keys are still redacted."""


@dataclass(frozen=True, slots=True)
class Secrets:
    """The secret keys and values of one configuration."""

    marked: frozenset[str]
    values: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], marked: Iterable[str] = ()) -> Secrets:
        """The secrets found in ``config`` (at any depth), with ``marked`` keys counting as secret too."""
        keys = frozenset(marked)
        found = {str(v) for v in _secret_values(config, keys) if v is not None and str(v)}
        # Longest first, so a secret containing another is replaced whole.
        return cls(keys, tuple(sorted(found, key=len, reverse=True)))

    @classmethod
    def of(cls, config: RecordConfig) -> Secrets:
        """The secrets of a recording's ``[ccxt]`` table."""
        return cls.from_config(config.ccxt, config.secret_keys)

    def is_secret(self, key: str) -> bool:
        """Whether ``key`` names a secret (a credential, or a key the user marked)."""
        return key in self.marked or is_secret_key(key)

    def redact(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``config`` with every secret key's value replaced, at any depth."""
        return store_redact(self._redact_marked(config))

    def _redact_marked(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {k: REDACTED if str(k) in self.marked else self._redact_value(v) for k, v in config.items()}

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return self._redact_marked(value)
        if isinstance(value, list | tuple):
            return [self._redact_value(v) for v in value]
        if isinstance(value, str):
            return self.scrub(value)
        return value

    def scrub(self, text: str) -> str:
        """``text`` with every secret value, and credential-looking parameters (``signature=...``), replaced."""
        for value in self.values:
            if len(value) >= MIN_SECRET_LENGTH and value in text:
                text = text.replace(value, REDACTED)
        return redact_message(text)


def is_secret_key(key: str) -> bool:
    """Whether the store's redaction treats ``key`` as a credential (one rule for the whole toolkit)."""
    return bool(store_redact({key: None})[key] == REDACTED)


def _secret_values(config: Mapping[str, Any], marked: frozenset[str]) -> Iterator[Any]:
    for key, value in config.items():
        if isinstance(value, Mapping):
            yield from _secret_values(value, marked)
        elif str(key) in marked or is_secret_key(str(key)):
            yield from (value if isinstance(value, list | tuple) else [value])
