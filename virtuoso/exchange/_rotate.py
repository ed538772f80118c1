"""Session rotation: where a long recording ends one session and begins the next.

Boundaries are multiples of the period since the Unix epoch, so ``1d`` falls at
00:00 UTC and ``1h`` on the hour, by the recording's clock.

>>> period = rotation_period_ns("1h")
>>> next_boundary_ns(90 * 60 * NS, period) // NS
7200
>>> next_boundary_ns(7200 * NS, period) // NS
10800
>>> rotation_period_ns("off") is None
True
>>> part_name("binance BTC/USDT ws", 86_400 * NS)
'binance BTC/USDT ws @1970-01-02T00:00:00Z'
"""

from __future__ import annotations

import re
import time

NS = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_PERIOD = re.compile(r"^([1-9][0-9]*)([smhd])$")


def rotation_period_ns(text: str) -> int | None:
    """The period of ``[record] rotate`` in ns (``"1d"``, ``"1h"``, ``"30m"``, ``"90s"``); ``None`` for ``"off"``.

    A period must divide a day evenly, so boundaries fall at the same times every day.

    >>> rotation_period_ns("7m")
    Traceback (most recent call last):
    ...
    ValueError: rotate period '7m' does not divide a day evenly (use 1d, 12h, 1h, 30m, 15m, 5m, ...)
    """
    if text == "off":
        return None
    match = _PERIOD.match(text)
    if match is None:
        raise ValueError(f"expected 'off' or a period such as '1d', '1h', '30m', '90s', got {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if 86_400 % seconds if seconds <= 86_400 else seconds % 86_400:
        raise ValueError(f"rotate period {text!r} does not divide a day evenly (use 1d, 12h, 1h, 30m, 15m, 5m, ...)")
    return seconds * NS


def next_boundary_ns(now_ns: int, period_ns: int) -> int:
    """The first boundary strictly after ``now_ns``."""
    return (now_ns // period_ns + 1) * period_ns


def part_name(name: str, boundary_ns: int) -> str:
    """The name of the session that begins at ``boundary_ns``: the recording's name and the boundary in UTC."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boundary_ns // NS))
    return f"{name} @{stamp}"
