"""Endless playback: the capture served lap after lap, each lap's ids and times shifted to follow the last.

Lap ``L`` adds ``L`` times a per-stream shift to every trade id (``t``; ``a``, ``f``, ``l``),
depth update id (``U``, ``u``, ``pu``; ``u`` of ``bookTicker``) and time (``E``, ``T``, a
kline's ``t``/``T``, and the local receive time). The shifts are the span of the data, so
ids stay consecutive across a lap boundary. A ``bookTicker``'s ``u`` moves by the depth
shift, or by its own span if the capture ends with tickers ahead of the last depth update
(so it never goes backwards; it then drifts ahead of the depth ids by that much a lap).

Prices are not shifted, so between two laps the book would jump: lap ``L >= 1`` starts with
one **bridge** depth update (ids ``u + 1`` of the lap before) that takes the book from where
the lap before left it back to the capture's snapshot. Nothing is materialized: a lap's
frame is rendered when it is served.

Frames are numbered by an **ordinal**: ``L * size + index`` with ``size = frames + 1``; slot
``size - 1`` of lap ``L - 1`` is lap ``L``'s bridge. Lap 0 ordinals are the capture indices.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from virtuoso.testing._capture import Capture, Frame

LAP_GAP_MS = 1_000
"""The pause between two laps, in exchange and receive time."""
_ZERO = "0.00000000"


class Laps:
    """The shifts of a capture played ``count`` times (None: endlessly)."""

    def __init__(self, capture: Capture, count: int | None) -> None:
        self.count = count
        frames = capture.frames
        self.size = len(frames) + 1
        span_ns = frames[-1].ts_ns - frames[0].ts_ns if frames else 0
        self.time_ms = -(-span_ns // 1_000_000) + LAP_GAP_MS
        self.time_ns = self.time_ms * 1_000_000
        self._capture = capture
        self._shifts: dict[tuple[str, str], dict[str, int]] = {}
        self._depth_shift: dict[str, int] = {}
        self._ticker_shift: dict[str, int] = {}
        self._bridges: dict[tuple[str, bool], dict[str, Any]] = {}
        if count != 1:
            self._measure(capture)

    @property
    def looping(self) -> bool:
        """True if more than one lap is served."""
        return self.count != 1

    def lap_of(self, ordinal: int) -> int:
        """The lap of a frame ordinal."""
        return max(0, ordinal) // self.size

    def ordinal(self, lap: int, index: int) -> int:
        """The ordinal of capture frame ``index`` in ``lap``."""
        return lap * self.size + index

    def depth_shift(self, key: str) -> int:
        """How much a lap adds to ``key``'s depth update ids."""
        return self._depth_shift.get(key, 0)

    # -- rendering -----------------------------------------------------------------

    def render(self, frame: Frame, lap: int, offset: int = 0) -> Frame:
        """``frame`` as served in ``lap``, its depth ids moved by ``offset`` more (a sequence reset)."""
        if lap == 0 and offset == 0:
            return frame
        data: dict[str, Any] = msgspec.json.decode(frame.raw)
        self._shift(data, frame, lap, offset)
        return frame.moved(self.ordinal(lap, frame.index), frame.ts_ns + lap * self.time_ns, data)

    def _shift(self, data: dict[str, Any], frame: Frame, lap: int, offset: int) -> None:
        for name, shift in self._shifts.get((frame.key, frame.event), {}).items():
            if name in data:
                data[name] += shift * lap
        shifts = self._ticker_shift if frame.event == "bookTicker" else self._depth_shift
        ids = shifts.get(frame.key, 0) * lap + offset
        if ids and frame.event in ("depth", "bookTicker"):
            for name in ("U", "u", "pu"):
                if name in data:
                    data[name] += ids
        if lap:
            _shift_times(data, self.time_ms * lap)

    def bridge(self, key: str, lap: int, first: Frame, offset: int = 0) -> Frame:
        """The depth update that opens ``lap`` (>= 1) for ``key``: the book back to the capture's snapshot.

        ``first`` is the symbol's first depth frame of the capture.
        """
        template = self._bridge_levels(key, lap >= 2)
        shift = self._depth_shift[key] * lap + offset
        data: dict[str, Any] = {"e": "depthUpdate", "E": 0, "s": first.symbol}
        first_data = first.data
        if "T" in first_data:
            data["T"] = 0
        update_id = self._first_id(first_data) + shift - 1
        data.update({"U": update_id, "u": update_id})
        if "pu" in first_data:
            data["pu"] = update_id - 1
        data.update(b=template["b"], a=template["a"])
        for name in ("E", "T"):
            if name in data:
                data[name] = first_data[name] + self.time_ms * lap
        ts_ns = first.ts_ns + lap * self.time_ns
        return first.moved(self.ordinal(lap, 0) - 1, ts_ns, data)

    @staticmethod
    def _first_id(data: dict[str, Any]) -> int:
        return int(data["pu"]) + 1 if "pu" in data else int(data["U"])

    # -- measuring -----------------------------------------------------------------

    def _measure(self, capture: Capture) -> None:
        streams: dict[tuple[str, str], list[Frame]] = {}
        for frame in capture.frames:
            pair = streams.setdefault((frame.key, frame.event), [frame, frame])
            pair[1] = frame
        for (key, event), (first, last) in streams.items():
            self._shifts[(key, event)] = _id_shifts(event, first.data, last.data)
            if event == "depth":
                self._depth_shift[key] = _depth_shift(first.data, last.data, bridged=key in capture.snapshots)
        for (key, event), (first, last) in streams.items():
            if event == "bookTicker":  # it may run a little ahead of the last depth update of a lap
                ticker_span = int(last.data["u"]) - int(first.data["u"]) + 1
                self._ticker_shift[key] = max(self._depth_shift.get(key, 0), ticker_span)

    def _bridge_levels(self, key: str, later: bool) -> dict[str, Any]:
        """The bridge's levels: the book at the end of lap 0 (or of any later lap) against the snapshot."""
        cached = self._bridges.get((key, later))
        if cached is None:
            snapshot = self._capture.snapshots[key]
            end = _book_after(snapshot, self._capture.depth(key), every=later)
            cached = self._bridges[(key, later)] = {
                "b": _diff(end[0], dict(snapshot["bids"]), descending=True),
                "a": _diff(end[1], dict(snapshot["asks"]), descending=False),
            }
        return cached


def _id_shifts(event: str, first: dict[str, Any], last: dict[str, Any]) -> dict[str, int]:
    if event == "trade":
        return {"t": int(last["t"]) - int(first["t"]) + 1}
    if event == "aggTrade":
        span = int(last["l"]) - int(first["f"]) + 1
        return {"a": int(last["a"]) - int(first["a"]) + 1, "f": span, "l": span}
    return {}


def _depth_shift(first: dict[str, Any], last: dict[str, Any], *, bridged: bool) -> int:
    """The next lap's first update follows the last of this one (and a bridge update, with a snapshot to go back to)."""
    room = 1 if bridged else 0
    if "pu" in first:
        return int(last["u"]) + room - int(first["pu"])
    return int(last["u"]) + 1 + room - int(first["U"])


def _shift_times(data: dict[str, Any], shift_ms: int) -> None:
    for name in ("E", "T"):
        if isinstance(data.get(name), int):
            data[name] += shift_ms
    kline = data.get("k")
    if isinstance(kline, dict):
        for name in ("t", "T"):
            if isinstance(kline.get(name), int):
                kline[name] += shift_ms


def _book_after(snapshot: dict[str, Any], updates: list[Frame], *, every: bool) -> tuple[dict[str, str], ...]:
    """The snapshot's levels after ``updates`` (all of them, or, ``every`` False, those after its id)."""
    bids, asks = dict(snapshot["bids"]), dict(snapshot["asks"])
    last = int(snapshot["lastUpdateId"])
    for frame in updates:
        data = frame.data
        if not every and int(data["u"]) <= last:
            continue
        for side, levels in ((bids, data["b"]), (asks, data["a"])):
            for price, size in levels:
                if Decimal(size):
                    side[price] = size
                else:
                    side.pop(price, None)
    return bids, asks


def _diff(now: dict[str, str], target: dict[str, str], *, descending: bool) -> list[list[str]]:
    """The levels that turn side ``now`` into ``target``: removals (size 0) and changed sizes."""
    changed = {price: size for price, size in target.items() if now.get(price) != size}
    changed.update({price: _ZERO for price in now if price not in target})
    prices = sorted(changed, key=Decimal, reverse=descending)
    return [[price, changed[price]] for price in prices]
