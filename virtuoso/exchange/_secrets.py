"""Secrets: credentials redacted from configs, and their values scrubbed from any text we write.

Three rules, all by what a value *is* rather than trusting one spelling of its key:

* a key naming a credential, in any casing or spelling ccxt and exchanges use
  (``apiKey``, ``secret``, ``password``, ``uid``, ``login``, ``twofa``,
  ``privateKey``, ``walletAddress``, ``token``, ``accessKey``, ``apiPass``,
  ``Authorization``, ``X-MBX-APIKEY``, ...: the store's :func:`~virtuoso.store.redact`),
  and every value of a ``headers`` table;
* in the ``[ccxt]`` table, every value that is not a known-safe option
  (:data:`SAFE_CCXT_KEYS`, :data:`SAFE_CCXT_OPTIONS`), and the keys the user marks
  (``[record] secret_keys``);
* every such value is also scrubbed from each line of text before it is logged,
  stored or shown (an error message with a URL holding a key, an exchange echoing
  a parameter, a status line), as are ``signature=...``-style parameters.

>>> secrets = Secrets.from_config({"apiKey": "k-123456", "options": {"myKey": "abcdef"}}, marked=("myKey",))
>>> secrets.scrub("GET /x?apiKey=k-123456&sig=abcdef")
'GET /x?apiKey=***&sig=***'
>>> secrets.redact({"ccxt": {"apiKey": "k-123456", "timeout": 5000, "headers": {"X-Key": "zz-9876"}}})
{'ccxt': {'apiKey': '***', 'timeout': 5000, 'headers': '***'}}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from virtuoso.resilience import redact_message
from virtuoso.store import is_secret_key, secret_values
from virtuoso.store import redact as store_redact

if TYPE_CHECKING:
    from virtuoso.exchange._config import RecordConfig

REDACTED = "***"
"""What a secret is replaced with (the store's own marker)."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not scrubbed from text (they would blank out ordinary words); their keys are still redacted."""

SAFE_CCXT_KEYS = frozenset(
    {"timeout", "enableRateLimit", "rateLimit", "verbose", "sandbox", "newUpdates", "hostname", "urls", "options"}
)
"""Top-level ``[ccxt]`` keys whose values are kept in manifests (``options`` only for its safe keys)."""

SAFE_CCXT_OPTIONS = frozenset(
    {
        "defaultType", "defaultSubType", "adjustForTimeDifference", "recvWindow", "tradesLimit", "OHLCVLimit",
        "ordersLimit", "watchOrderBookLimit", "fetchCurrencies", "fetchMargins", "fetchMarkets", "defaultNetwork",
        "maxRetriesOnFailure", "maxRetriesOnFailureDelay",
    }
)  # fmt: skip
"""Keys of ``[ccxt] options`` that are kept; any other option's value is redacted."""


@dataclass(frozen=True, slots=True)
class Secrets:
    """The secret keys and values of one configuration."""

    marked: frozenset[str]
    values: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], marked: Iterable[str] = ()) -> Secrets:
        """The secrets of a ``[ccxt]`` table ``config``, with ``marked`` keys counting as secret too."""
        keys = frozenset(marked)
        found = set(secret_values(config))
        found.update(str(v) for v in _unsafe_values(config, keys))
        usable = {v for v in found if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        return cls(keys, tuple(sorted(usable, key=len, reverse=True)))

    @classmethod
    def of(cls, config: RecordConfig) -> Secrets:
        """The secrets of a recording's ``[ccxt]`` table."""
        return cls.from_config(config.ccxt, config.secret_keys)

    def is_secret(self, key: str) -> bool:
        """Whether ``key`` names a secret (a credential, or a key the user marked)."""
        return key in self.marked or is_secret_key(key)

    def redact(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a recording's config (its ``ccxt`` table included) with every secret replaced, at any depth."""
        cleaned = self._redact_marked(config)
        ccxt = config.get("ccxt")
        if isinstance(ccxt, Mapping):
            cleaned["ccxt"] = self.redact_ccxt(ccxt)
        return store_redact(cleaned)

    def redact_ccxt(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """A ``[ccxt]`` table with every value that is not a known-safe option replaced."""
        kept: dict[str, Any] = {}
        for key, value in table.items():
            if key == "options" and isinstance(value, Mapping):
                kept[key] = {k: self._kept(v) if k in SAFE_CCXT_OPTIONS else REDACTED for k, v in value.items()}
            else:
                kept[key] = self._kept(value) if key in SAFE_CCXT_KEYS and key != "options" else REDACTED
        return store_redact(kept)

    def _kept(self, value: Any) -> Any:
        return REDACTED if isinstance(value, Mapping) and not value else self._redact_value(value)

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
            if value in text:
                text = text.replace(value, REDACTED)
        return redact_message(text)


def _unsafe_values(table: Mapping[str, Any], marked: frozenset[str]) -> Iterator[Any]:
    """The text values of a ``[ccxt]`` table that manifests do not keep (so text must not show them either)."""
    for key, value in table.items():
        if key == "options" and isinstance(value, Mapping):
            for option, item in value.items():
                if option not in SAFE_CCXT_OPTIONS or option in marked:
                    yield from _texts(item)
        elif key not in SAFE_CCXT_KEYS or key in marked:
            yield from _texts(value)
        elif isinstance(value, Mapping):
            yield from _marked_values(value, marked)


def _marked_values(config: Mapping[str, Any], marked: frozenset[str]) -> Iterator[Any]:
    for key, value in config.items():
        if str(key) in marked:
            yield from _texts(value)
        elif isinstance(value, Mapping):
            yield from _marked_values(value, marked)


def _texts(value: Any) -> Iterator[str]:
    """The strings inside ``value`` (numbers and flags of unknown options are redacted, not scrubbed from text)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value
