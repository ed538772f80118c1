"""ccxt exceptions become ours: every row of the table with real ccxt classes, redaction, Retry-After."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from virtuoso import errors
from virtuoso.errors import ExchangeError, PermanentExchangeError, RateLimited, TransientExchangeError, UsageError
from virtuoso.resilience import ccxt_table, redact_message, retry_after, translate_error, translating

ROWS: list[tuple[type[Exception], type[ExchangeError]]] = [
    (ccxt.RateLimitExceeded, errors.RateLimited),
    (ccxt.DDoSProtection, errors.RateLimited),
    (ccxt.OnMaintenance, errors.ExchangeMaintenance),
    (ccxt.ExchangeNotAvailable, errors.ExchangeUnavailable),
    (ccxt.RequestTimeout, errors.ExchangeTimeout),
    (ccxt.InvalidNonce, errors.ExchangeNetworkError),
    (ccxt.ChecksumError, errors.ExchangeNetworkError),
    (ccxt.NetworkError, errors.ExchangeNetworkError),
    (ccxt.CancelPending, errors.TransientExchangeError),
    (ccxt.OperationFailed, errors.TransientExchangeError),
    (ccxt.BadResponse, errors.ExchangeResponseError),
    (ccxt.NullResponse, errors.ExchangeResponseError),
    (ccxt.AuthenticationError, errors.AuthenticationFailed),
    (ccxt.AccountSuspended, errors.AuthenticationFailed),
    (ccxt.PermissionDenied, errors.PermissionDenied),
    (ccxt.AccountNotEnabled, errors.PermissionDenied),
    (ccxt.BadSymbol, errors.BadSymbol),
    (ccxt.BadRequest, errors.BadRequest),
    (ccxt.ArgumentsRequired, errors.BadRequest),
    (ccxt.NotSupported, errors.NotSupported),
    (ccxt.InsufficientFunds, errors.PermanentExchangeError),
    (ccxt.InvalidOrder, errors.PermanentExchangeError),
    (ccxt.OrderNotFound, errors.PermanentExchangeError),
    (ccxt.ExchangeError, errors.PermanentExchangeError),
    (ccxt.ExchangeClosedByUser, errors.PermanentExchangeError),
    (ccxt.BaseError, errors.PermanentExchangeError),
]


@pytest.mark.parametrize(("theirs", "ours"), ROWS, ids=[t.__name__ for t, _ in ROWS])
def test_each_ccxt_class_becomes_its_most_specific_match(theirs: type[Exception], ours: type[ExchangeError]) -> None:
    error = translate_error(theirs("binance something failed"), exchange="binance", operation="fetch_trades")

    assert type(error) is ours
    assert (error.exchange, error.operation) == ("binance", "fetch_trades")
    assert str(error) == "binance fetch_trades: binance something failed"


def test_every_table_key_is_a_row_here() -> None:
    assert set(ccxt_table()) <= {theirs for theirs, _ in ROWS}


def test_transient_and_permanent_split_as_the_issue_says() -> None:
    transient = [ccxt.NetworkError, ccxt.RequestTimeout, ccxt.ExchangeNotAvailable, ccxt.DDoSProtection]
    transient += [ccxt.RateLimitExceeded, ccxt.OnMaintenance]
    permanent = [ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.BadSymbol, ccxt.BadRequest, ccxt.NotSupported]
    for cls in transient:
        assert isinstance(translate_error(cls("x"), exchange="e", operation="o"), TransientExchangeError)
    for cls in permanent:
        assert isinstance(translate_error(cls("x"), exchange="e", operation="o"), PermanentExchangeError)


def test_translating_raises_ours_from_the_original() -> None:
    original = ccxt.BadSymbol("binance does not have market symbol NOPE/USDT")
    with pytest.raises(errors.BadSymbol) as caught, translating("binance", "fetch_trades"):
        raise original
    assert caught.value.__cause__ is original


def test_translating_lets_foreign_errors_and_cancellation_through_untouched() -> None:
    foreign = ValueError("a bug in a normalizer")
    with pytest.raises(ValueError, match="a bug") as caught, translating("binance", "fetch_trades"):
        raise foreign
    assert caught.value is foreign
    with pytest.raises(asyncio.CancelledError), translating("binance", "fetch_trades"):
        raise asyncio.CancelledError


def test_our_own_errors_pass_through_translate_unchanged() -> None:
    ours = errors.BadRequest("no", exchange="binance", operation="x")
    assert translate_error(ours, exchange="other", operation="y") is ours
    with pytest.raises(errors.BadRequest) as caught, translating("binance", "y"):
        raise ours
    assert caught.value is ours


def test_translate_error_refuses_foreign_exceptions() -> None:
    with pytest.raises(UsageError, match="takes a ccxt error, not KeyError"):
        translate_error(KeyError("k"), exchange="binance", operation="x")


def test_messages_lose_signatures_keys_and_given_secret_values() -> None:
    url = "https://api.binance.com/api/v3/account?timestamp=1723161255000&recvWindow=5000&signature=9f86d08188"
    body = '{"code":-2015,"msg":"Invalid API-key, IP","apiKey": "AbCdEf123"} X-MBX-APIKEY: AbCdEf123'
    exc = ccxt.AuthenticationError(f"binance GET {url}&apiKey=AbCdEf123 401 Unauthorized\n{body} hunter2")

    error = translate_error(exc, exchange="binance", operation="fetch_balance", secrets=["hunter2"])

    text = str(error)
    for secret in ("9f86d08188", "AbCdEf123", "hunter2"):
        assert secret not in text
    assert "timestamp=1723161255000" in text
    assert "\n" not in text
    assert text.count("***") == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a?signature=abc&x=1", "a?signature=***&x=1"),
        ("a?api_key=abc", "a?api_key=***"),
        ('{"secret":"s3"}', '{"secret":"***"}'),
        ("password: pw123 rest", "password: *** rest"),
        ("listenKey=lk1", "listenKey=***"),
        ("symbol=BTCUSDT&limit=1000", "symbol=BTCUSDT&limit=1000"),
    ],
)
def test_redact_message(text: str, expected: str) -> None:
    assert redact_message(text) == expected


def test_rate_limit_takes_retry_after_from_headers_or_a_callable() -> None:
    exc = ccxt.RateLimitExceeded("binance 429 Too Many Requests")
    plain = translate_error(exc, exchange="binance", operation="fetch_trades")
    given = translate_error(exc, exchange="binance", operation="fetch_trades", headers={"Retry-After": "7"})
    late = translate_error(exc, exchange="binance", operation="fetch_trades", headers=lambda: {"retry-after": "2.5"})

    assert isinstance(plain, RateLimited)
    assert isinstance(given, RateLimited)
    assert isinstance(late, RateLimited)
    assert (plain.retry_after_s, given.retry_after_s, late.retry_after_s) == (None, 7.0, 2.5)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ({}, None),
        ({"RETRY-AFTER": " 3 "}, 3.0),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after(headers) == expected
