"""Whose fault a failure is: the one call's, the symbol's, the whole recording's, or ours.

The promise of a recording is that nothing an exchange sends or fails to send
ends it. So every failure of one exchange call is a fault of *that call*
(:data:`CALL`): ccxt's network errors, its ``BadResponse`` on a truncated or
HTML body, a ``KeyError``/``TypeError``/``ValueError`` raised while ccxt parses
an answer, an answer of the wrong shape. Those are raised inside the guard as
:class:`BadAnswer` (a transient error), so the retry policy retries them and
the breaker counts them.

Only a short, explicit list is permanent: for one symbol (:data:`SYMBOL`: an
unknown or delisted market, an inactive one) or for the whole recording
(:data:`RECORDING`: credentials refused, an operation the exchange does not
have, or our own event log failing: a full disk, a closed store; a channel
restart cannot help those, and a recording that cannot write must end).
Anything else raised outside an exchange call is a bug of ours (:data:`BUG`):
never hidden, it restarts the channel with backoff, with the error and its
traceback in the log.

>>> fault_scope(BadAnswer("not a list", operation="fetch_trades"))
'call'
>>> fault_scope(BadSymbol("no market DOGE/XYZ")), fault_scope(AuthenticationFailed("bad key"))
('symbol', 'recording')
>>> from virtuoso.errors import StoreFullError
>>> fault_scope(StoreFullError("live.sqlite: the disk is full"))
'recording'
>>> fault_scope(AttributeError("'NoneType' object has no attribute 'get'"))
'bug'
"""

from __future__ import annotations

from typing import Any, Literal

from virtuoso.errors import (
    AuthenticationFailed,
    BadSymbol,
    ExchangeError,
    ExchangeTimeout,
    NotSupported,
    PermissionDenied,
    StoreError,
    TransientExchangeError,
)
from virtuoso.exchange._ccxt import ccxt_module

FaultScope = Literal["call", "symbol", "recording", "bug"]
CALL: FaultScope = "call"
SYMBOL: FaultScope = "symbol"
RECORDING: FaultScope = "recording"
BUG: FaultScope = "bug"

_PARSE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError, UnicodeError)
"""What ccxt raises when it parses an answer that is not what it expects (a truncated list, a field missing)."""


class BadAnswer(TransientExchangeError):
    """One call's answer could not be used: ccxt could not parse it, or it is not the shape the call returns."""


class ChannelStalled(ExchangeTimeout):
    """A watch or poll returned nothing for ``[record] stall_timeout_s`` and its connection was silent too."""


class MarketInactive(BadSymbol):
    """The exchange's markets say the symbol is no longer trading (suspended, delisted, in a break)."""


def fault_scope(error: BaseException) -> FaultScope:
    """Whose fault ``error`` is (see the module doc): ``call``, ``symbol``, ``recording`` or ``bug``."""
    if isinstance(error, BadSymbol) or _ccxt_is(error, "BadSymbol"):
        return SYMBOL
    if isinstance(error, AuthenticationFailed | PermissionDenied | NotSupported | StoreError):
        return RECORDING
    if _ccxt_is(error, "AuthenticationError", "NotSupported"):
        return RECORDING
    if isinstance(error, ExchangeError | TimeoutError | ConnectionError) or _ccxt_is(error, "BaseError"):
        return CALL
    return BUG


def _ccxt_is(error: BaseException, *names: str) -> bool:
    ccxt = ccxt_module()
    return isinstance(error, tuple(getattr(ccxt, name) for name in names))


def as_call_fault(error: Exception, operation: str) -> Exception:
    """``error`` raised inside one ccxt call, as the guard must see it.

    Permanent ccxt errors (bad symbol, credentials, unsupported) and network
    errors pass as they are (the guard translates them); any other failure of
    the call, ccxt's or a parse error inside it, becomes a :class:`BadAnswer`.
    """
    if isinstance(error, ExchangeError) or _ccxt_is(error, "NetworkError"):
        return error
    if _ccxt_is(error, "BadSymbol", "AuthenticationError", "NotSupported", "ArgumentsRequired"):
        return error
    if _ccxt_is(error, "BaseError") or isinstance(error, _PARSE_ERRORS):
        text = " ".join(str(error).split())[:200]
        return BadAnswer(f"{type(error).__name__}: {text}" if text else type(error).__name__, operation=operation)
    return error


def describe(value: Any, limit: int = 200) -> str:
    """A short one-line ``repr`` of an exchange answer, for a rejection's sample.

    >>> describe({"id": None, "price": float("nan")})
    "{'id': None, 'price': nan}"
    >>> len(describe("x" * 1000))
    200
    """
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
