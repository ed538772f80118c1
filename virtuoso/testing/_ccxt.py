"""The ccxt config that points ``binance`` (REST and ccxt.pro WebSocket) at the loopback exchange.

ccxt deep-merges ``urls`` given to the constructor into its own (checked with ccxt 4.5.90), so the
config lists every URL of ccxt's ``urls['api']``, ``urls['test']`` and ``urls['demo']`` rewritten:
``https://api.binance.com/api/v3`` becomes ``http://127.0.0.1:<port>/api/v3`` (the path is kept,
so futures paths stay ``/fapi/v1``), spot WebSocket URLs become ``ws://127.0.0.1:<port>/stream/ws`` and
USDT-M ones ``ws://127.0.0.1:<port>/fapi/ws``. Anything else (COIN-M, options, ws-api) points at
paths the loopback exchange answers with 404, so nothing can reach the internet.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

_URL_SETS = ("api", "test", "demo")
# ccxt.pro tells spot from futures frames by "/stream" in the connection URL (true of Binance's
# wss://stream.binance.com), so the spot URL must contain it and the futures one must not.
_WS_PATHS = {"spot": "/stream/ws", "margin": "/stream/ws", "linear": "/fapi/ws"}
_OPTIONS = {
    "fetchCurrencies": False,  # would call sapi with keys; markets need only the three exchangeInfo calls
    "fetchMargins": False,
}


def ccxt_config(rest_url: str, ws_url: str, **extra: Any) -> dict[str, Any]:
    """``{"urls": ..., "options": ..., "enableRateLimit": False}`` plus ``extra`` (e.g. ``timeout``).

    An ``options`` dict in ``extra`` is merged into ours (e.g. ``options={"tradesLimit": 50_000}``).
    """
    urls = _ccxt_urls()
    options = {**_OPTIONS, **extra.pop("options", {})}
    config: dict[str, Any] = {
        "urls": {name: _rewrite(urls[name], rest_url, ws_url) for name in _URL_SETS if name in urls},
        "options": options,
        "enableRateLimit": False,
    }
    config.update(extra)
    return config


@functools.cache
def _ccxt_urls() -> dict[str, Any]:
    import ccxt.pro  # type: ignore[import-untyped]  # noqa: PLC0415  (ccxt ships no types; slow to import)

    exchange = ccxt.pro.binance()
    urls: dict[str, Any] = exchange.urls
    return urls


def _rewrite(value: Any, rest_url: str, ws_url: str, kind: str = "") -> Any:
    if isinstance(value, dict):
        return {key: _rewrite(item, rest_url, ws_url, f"{kind}/{key}" if kind else key) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme == "https":
        return rest_url + parts.path
    if parts.scheme == "wss":
        return ws_url + _WS_PATHS.get(kind.removeprefix("ws/"), "/unserved/" + kind)
    return value
