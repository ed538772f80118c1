"""Any ccxt exception class, and any subclass of one, maps to our class of its most specific mapped ancestor."""

from __future__ import annotations

import importlib
import inspect

import ccxt
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.errors import PermanentExchangeError, TransientExchangeError
from virtuoso.resilience import ccxt_table, translate_error

CCXT_ERRORS = importlib.import_module("ccxt.base.errors")  # `ccxt.base` itself is shadowed by a list in ccxt
CCXT_CLASSES = sorted(
    (c for _, c in inspect.getmembers(CCXT_ERRORS, inspect.isclass) if issubclass(c, ccxt.BaseError)),
    key=lambda c: c.__name__,
)


def is_transient(cls: type[Exception]) -> bool:
    """ccxt's OperationFailed branch ("try again later"), except responses it could not parse."""
    return issubclass(cls, ccxt.OperationFailed) and not issubclass(cls, ccxt.BadResponse)


def subclasses_of_ccxt() -> st.SearchStrategy[type[Exception]]:
    """Real ccxt classes, and new classes a later ccxt might add under them."""
    real = st.sampled_from(CCXT_CLASSES)
    made = st.builds(lambda base, name: type(f"Future{name}{base.__name__}", (base,), {}), real, st.integers(0, 99))
    return real | made


def expected_class(cls: type[Exception]) -> type[Exception]:
    """Independent of the walk in translate_error: the mapped ancestor no other mapped ancestor is below."""
    mapped = [k for k in ccxt_table() if issubclass(cls, k)]
    [lowest] = [k for k in mapped if not any(o is not k and issubclass(o, k) for o in mapped)]
    return ccxt_table()[lowest]


@given(subclasses_of_ccxt(), st.text(max_size=40))
def test_maps_to_the_most_specific_mapped_ancestor(cls: type[Exception], message: str) -> None:
    original = cls(message)

    error = translate_error(original, exchange="binance", operation="fetch_trades")

    assert type(error) is expected_class(cls)
    assert isinstance(error, TransientExchangeError) == is_transient(cls)
    assert isinstance(error, TransientExchangeError | PermanentExchangeError)
    assert "\n" not in str(error)
    assert str(error).startswith("binance fetch_trades: ")


def test_every_ccxt_class_is_covered() -> None:
    assert len(CCXT_CLASSES) >= 40
    assert ccxt.BaseError in ccxt_table()
