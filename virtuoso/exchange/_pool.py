"""ExchangePool: one ccxt async exchange instance per exchange id and configuration.

A ccxt instance holds an HTTP session, WebSocket connections, loaded markets and
its rate limiter: everything that should be shared by every collector talking to
the same exchange with the same settings, and closed exactly once. The
application container owns the pool (a singleton), so disposing the container
closes every instance.

>>> import asyncio
>>> async def main() -> bool:
...     pool = ExchangePool()
...     a = pool.get("binance", {"timeout": 5000})
...     same = a is pool.get("binance", {"timeout": 5000}) and a is not pool.get("binance", {"timeout": 6000})
...     await pool.aclose()
...     return same
>>> asyncio.run(main())
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from virtuoso.errors import ConfigError
from virtuoso.exchange._ccxt import pro_module, rest_module


def _key(exchange_id: str, config: Mapping[str, Any], websocket: bool) -> tuple[str, bool, str]:
    # Hashed rather than kept, so the pool holds no copy of the credentials in its keys.
    canonical = json.dumps(config, sort_keys=True, default=str)
    return exchange_id, websocket, hashlib.sha256(canonical.encode()).hexdigest()


def exchange_class(exchange_id: str, *, websocket: bool = True) -> Any:
    """The ccxt class for ``exchange_id``: ccxt.pro's (REST and WebSocket) when it has one, else the async REST one."""
    rest, pro = rest_module(), pro_module()
    if websocket and exchange_id in pro.exchanges:
        return getattr(pro, exchange_id)
    if exchange_id in rest.exchanges:
        return getattr(rest, exchange_id)
    raise ConfigError(f"[exchange] id: unknown ccxt exchange {exchange_id!r}")


def supports_websocket(exchange_id: str) -> bool:
    """Whether ccxt.pro has a WebSocket implementation of ``exchange_id``."""
    return exchange_id in pro_module().exchanges


class ExchangePool:
    """Lazily created ccxt instances, one per ``(exchange id, config, websocket)``; :meth:`aclose` closes them all."""

    def __init__(self) -> None:
        self._instances: dict[tuple[str, bool, str], Any] = {}

    def __len__(self) -> int:
        return len(self._instances)

    def get(self, exchange_id: str, config: Mapping[str, Any] | None = None, *, websocket: bool = True) -> Any:
        """The instance for ``exchange_id`` built with ``config`` (the ``[ccxt]`` table), created on first use."""
        settings = dict(config or {})
        key = _key(exchange_id, settings, websocket)
        instance = self._instances.get(key)
        if instance is None:
            instance = self._instances[key] = exchange_class(exchange_id, websocket=websocket)(settings)
        return instance

    async def aclose(self) -> None:
        """Close every instance (its HTTP session and WebSockets); the pool is empty afterwards.

        One failing close does not keep the others open; the first error is raised at the end.
        """
        instances, self._instances = list(self._instances.values()), {}
        first: Exception | None = None
        for instance in instances:
            try:
                await instance.close()
            except Exception as exc:  # the others must still be closed; raised below
                first = first or exc
        if first is not None:
            raise first
