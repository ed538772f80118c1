"""ccxt's exceptions become ours at the boundary: most specific match, credentials removed.

The table maps ccxt classes to ours; :func:`translate_error` walks the exception's
MRO and takes the first class the table knows, so a ccxt class added later still
lands on the mapping of its nearest known ancestor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from virtuoso import errors
from virtuoso.errors import ExchangeError, RateLimited, UsageError

Headers = Mapping[str, str] | Callable[[], Mapping[str, str] | None] | None
"""Response headers, or a callable giving them when an error happens (``lambda: ex.last_response_headers``)."""


@cache
def ccxt_table() -> dict[type[BaseException], type[ExchangeError]]:
    """ccxt exception class -> our class. Order does not matter: the MRO decides.

    Built on first use: importing ccxt loads every exchange module (about a second),
    which commands that never talk to an exchange should not pay.
    """
    import ccxt  # type: ignore[import-untyped]  # noqa: PLC0415  # ccxt ships no type information

    return _table(ccxt)


def _table(ccxt: Any) -> dict[type[BaseException], type[ExchangeError]]:
    return {
        # transient: ccxt's NetworkError branch
        ccxt.RateLimitExceeded: errors.RateLimited,
        ccxt.DDoSProtection: errors.RateLimited,
        ccxt.OnMaintenance: errors.ExchangeMaintenance,
        ccxt.ExchangeNotAvailable: errors.ExchangeUnavailable,
        ccxt.RequestTimeout: errors.ExchangeTimeout,
        ccxt.InvalidNonce: errors.ExchangeNetworkError,  # a retry signs with a fresh nonce
        ccxt.NetworkError: errors.ExchangeNetworkError,
        ccxt.CancelPending: errors.TransientExchangeError,
        # permanent
        ccxt.BadResponse: errors.ExchangeResponseError,
        ccxt.PermissionDenied: errors.PermissionDenied,
        ccxt.AuthenticationError: errors.AuthenticationFailed,
        ccxt.BadSymbol: errors.BadSymbol,
        ccxt.BadRequest: errors.BadRequest,
        ccxt.ArgumentsRequired: errors.BadRequest,
        ccxt.NotSupported: errors.NotSupported,
        ccxt.ExchangeError: errors.PermanentExchangeError,
        ccxt.OperationFailed: errors.TransientExchangeError,
        ccxt.BaseError: errors.PermanentExchangeError,  # an unknown ccxt failure is not retried blindly
    }


REDACTED = "***"
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:api[-_]?key|key|secret|password|passphrase|signature|sign|token|uid|listen[-_]?key)\"?\s*[=:]\s*\"?)"
    r"([^&\s\"',}]+)"
)


def redact_message(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credential-looking parameters and the given secret values replaced by ``***``.

    Catches ``signature=...`` / ``apiKey=...`` in URLs, ``"secret": "..."`` in JSON bodies
    and ``X-MBX-APIKEY: ...`` headers.

    >>> redact_message("GET https://x/api?symbol=BTCUSDT&timestamp=1&signature=ab12 401")
    'GET https://x/api?symbol=BTCUSDT&timestamp=1&signature=*** 401'
    >>> redact_message('{"msg": "bad key hunter2"}', secrets=["hunter2", "s"])
    '{"msg": "bad key ***"}'
    """
    for secret in secrets:
        if secret:
            # Whole tokens only: a one-letter secret must not turn "msg" into "m***g".
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def our_class(ccxt_class: type[BaseException]) -> type[ExchangeError] | None:
    """Our class for a ccxt exception class (its most specific mapped ancestor), or None for non-ccxt ones."""
    table = ccxt_table()
    for ancestor in ccxt_class.__mro__:
        ours = table.get(ancestor)
        if ours is not None:
            return ours
    return None


def translate_error(
    exc: BaseException,
    *,
    exchange: str,
    operation: str,
    headers: Headers = None,
    secrets: Iterable[str] = (),
) -> ExchangeError:
    """Our :class:`~virtuoso.errors.ExchangeError` for a ccxt exception (to ``raise ... from exc``).

    ``headers`` are the response headers of the failed request (ccxt keeps them in
    ``exchange.last_response_headers``): a ``Retry-After`` there (in seconds) becomes
    :attr:`RateLimited.retry_after_s` (pass a callable to read them only on failure).
    ``secrets`` are values (the api key, the secret) to blank out of the message besides
    anything credential-shaped. One of our exchange
    errors is returned as it is; anything else that is not a ccxt error is a
    :class:`~virtuoso.errors.UsageError` (use :func:`translating` to let those through).
    """
    if isinstance(exc, ExchangeError):
        return exc
    ours = our_class(type(exc))
    if ours is None:
        raise UsageError(f"translate_error() takes a ccxt error, not {type(exc).__name__}")
    message = redact_message(_first_line(exc), secrets)
    if ours is RateLimited:
        return RateLimited(
            message, exchange=exchange, operation=operation, retry_after_s=retry_after(_resolve(headers))
        )
    return ours(message, exchange=exchange, operation=operation)


def _resolve(headers: Headers) -> Mapping[str, str] | None:
    return headers() if callable(headers) else headers


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line: ccxt messages may carry a multi-line body
    return text or type(exc).__name__


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (any letter case); None when absent or an HTTP date.

    >>> retry_after({"retry-after": "12"}), retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    (12.0, None)
    """
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return _seconds(str(value))
    return None


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date would need the wall clock; rate_limit_delay_s applies instead
    return seconds if seconds >= 0 else None


@contextmanager
def translating(
    exchange: str,
    operation: str,
    *,
    headers: Headers = None,
    secrets: Iterable[str] = (),
) -> Iterator[None]:
    """Inside, a ccxt exception is raised again as ours, ``from`` the original; anything else passes untouched.

    >>> import ccxt
    >>> try:
    ...     with translating("binance", "fetch_trades"):
    ...         raise ccxt.RateLimitExceeded("binance 429 Too Many Requests")
    ... except RateLimited as error:
    ...     print(type(error).__name__, "|", error, "|", type(error.__cause__).__name__)
    RateLimited | binance fetch_trades: binance 429 Too Many Requests | RateLimitExceeded
    """
    try:
        yield
    except Exception as exc:
        if our_class(type(exc)) is None:
            raise
        raise translate_error(exc, exchange=exchange, operation=operation, headers=headers, secrets=secrets) from exc
