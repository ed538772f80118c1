"""What a WebSocket fault sends in place of a frame: broken text, a wrong shape, garbage values, half a frame."""

from __future__ import annotations

import struct
from typing import Any

import msgspec

from virtuoso.testing._capture import Frame

BROKEN_FRAME = '{"stream":"broken","data":{"e":"trade","E":'
GARBAGE = ("NaN", "Infinity", "-Infinity", "0", "-1.5")
"""The values ``garbage`` puts in a price or an amount, in turn (a depth level's size is never 0: that is valid)."""
_DROPPED = {"trade": ("t", "p"), "aggTrade": ("a", "p"), "depth": ("U", "b"), "bookTicker": ("u", "b")}
_VALUES = {"trade": ("p", "q"), "aggTrade": ("p", "q"), "bookTicker": ("b", "B", "a", "A")}


def wire_text(frame: Frame, data: dict[str, Any], *, combined: bool) -> str:
    """``data`` as ``frame``'s stream would carry it, raw or combined."""
    raw = msgspec.json.encode(data).decode()
    return f'{{"stream":"{frame.stream}","data":{raw}}}' if combined else raw


def wrong_shape(frame: Frame) -> dict[str, Any]:
    """The frame's payload without its id and one value field (other events: without ``e`` and ``s``)."""
    dropped = _DROPPED.get(frame.event, ("e", "s"))
    return {name: value for name, value in frame.data.items() if name not in dropped}


def garbage(frame: Frame, turn: int) -> dict[str, Any]:
    """The frame's payload with one price or amount replaced by ``GARBAGE[turn % 5]``."""
    data = dict(frame.data)
    value = GARBAGE[turn % len(GARBAGE)]
    if frame.event == "depth":
        side = "b" if data.get("b") else "a"
        levels = [list(level) for level in data.get(side, [])] or [["1.0", "1.0"]]
        slot = (turn // len(GARBAGE)) % 2 if value != "0" else 0  # size 0 is a valid removal: spoil the price
        levels[0][slot] = value
        data[side] = levels
        return data
    names = _VALUES.get(frame.event, ())
    if names:
        data[names[(turn // len(GARBAGE)) % len(names)]] = value
    return data


def half_frame(text: str) -> bytes:
    """A server's unmasked text frame header announcing all of ``text``, followed by half of it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload[: size // 2]
