"""Times on the command line (``--at``, ``--from``, ``--to``): ISO 8601, or an epoch number whose unit is
said or cannot be mistaken.

A bare ``1723161540`` could be seconds (2024) or milliseconds (1970): read the wrong way it
silently selects another day, so a bare number is accepted only in the range where it can
only be milliseconds (13 digits: years 2001 to 5138), and every other bare number is
refused with a line naming the accepted forms.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from virtuoso.errors import UsageError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"\.(\d+)")
_NUMBER = re.compile(r"(\d+)(s|ms|us|ns)?")
_NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_MS_RANGE = (10**12, 10**14)
"""Bare numbers in this range can only be epoch milliseconds (2001-09-09 .. 5138-11-16)."""
FORMS = "an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, "
FORMS += "...us, ...ns; a bare 13-digit number is milliseconds)"


def parse_time(text: str, option: str = "--at") -> int:
    """``text`` as ns since the epoch; :class:`UsageError` naming ``option`` and the accepted forms if it is
    not one of them (see the module).

    >>> parse_time("1723161300000"), parse_time("1723161300s"), parse_time("2024-08-08T23:55:00Z")
    (1723161300000000000, 1723161300000000000, 1723161300000000000)
    >>> parse_time("2024-08-08T23:55:00.000000001")
    1723161300000000001
    >>> parse_time("1723161300")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    virtuoso.errors.UsageError: --at '1723161300' is ambiguous: 10 digits read as seconds would be 2024-08-08T...
    """
    stripped = text.strip()
    number = _NUMBER.fullmatch(stripped)
    if number is not None:
        return _epoch(stripped, int(number.group(1)), number.group(2), option)
    try:
        return _iso(stripped)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time; accepted: {FORMS}") from None


def _epoch(text: str, value: int, unit: str | None, option: str) -> int:
    if unit is not None:
        return value * _NS_PER[unit]
    if value == 0 or _MS_RANGE[0] <= value < _MS_RANGE[1]:
        return value * _NS_PER["ms"]
    guess = ""
    for name in ("s", "us", "ns"):
        ns = value * _NS_PER[name]
        if _MS_RANGE[0] * _NS_PER["ms"] <= ns < _MS_RANGE[1] * _NS_PER["ms"]:
            moment = datetime.fromtimestamp(ns // 10**9, UTC).isoformat().replace("+00:00", "Z")
            guess = f": {len(text)} digits read as {_UNIT_NAMES[name]} would be {moment}"
    return _refuse(option, text, guess)


_UNIT_NAMES = {"s": "seconds", "us": "microseconds", "ns": "nanoseconds"}


def _refuse(option: str, text: str, guess: str) -> int:
    raise UsageError(f"{option} {text!r} is ambiguous{guess}; accepted: {FORMS}")


def _iso(text: str) -> int:
    extra_ns = 0
    fraction = _FRACTION.search(text)
    if fraction is not None and len(fraction.group(1)) > 6:
        digits = fraction.group(1)[:9].ljust(9, "0")
        extra_ns = int(digits[6:])
        text = text[: fraction.start()] + "." + digits[:6] + text[fraction.end() :]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000 + extra_ns
