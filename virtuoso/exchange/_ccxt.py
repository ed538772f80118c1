"""ccxt, imported on first use: importing ccxt.pro takes most of a second, and only a recording needs it."""

from __future__ import annotations

from types import ModuleType


def ccxt_module() -> ModuleType:
    """The ``ccxt`` package (sync classes, errors, the list of exchange ids)."""
    import ccxt  # type: ignore[import-untyped]  # noqa: PLC0415  (deferred: see the module docstring)

    return ccxt  # type: ignore[no-any-return]


def rest_module() -> ModuleType:
    """``ccxt.async_support``: the asyncio REST classes."""
    import ccxt.async_support  # type: ignore[import-untyped]  # noqa: PLC0415

    return ccxt.async_support  # type: ignore[no-any-return]


def pro_module() -> ModuleType:
    """``ccxt.pro``: the asyncio REST + WebSocket classes."""
    import ccxt.pro  # type: ignore[import-untyped]  # noqa: PLC0415

    return ccxt.pro  # type: ignore[no-any-return]
