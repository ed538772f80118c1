"""Delivering one frame to one WebSocket connection, with the faults scheduled or drawn for it.

Order for one message: the connection's age (the venue's forced reconnect), then ``pause``,
``stall``, ``reset``; then a fault that replaces the frame (``skip``, ``skip-depth``,
``malformed``, ``wrong-shape``, ``garbage``, ``cut``) or the frame itself; then ``disconnect``
or ``reconnect`` after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from virtuoso.testing._capture import Frame
from virtuoso.testing._faults import WsFault
from virtuoso.testing._served import AppliedFault
from virtuoso.testing._wsfaults import BROKEN_FRAME, garbage, half_frame, wire_text, wrong_shape

if TYPE_CHECKING:
    from virtuoso.testing._ws import Connection

Sleep = Callable[[float], Awaitable[None]]
_REPLACING = ("skip", "skip-depth", "malformed", "wrong-shape", "garbage", "cut")
_NS_PER_HOUR = 3_600_000_000_000


async def deliver(conn: Connection, frame: Frame, frames: Iterator[Frame], sleep: Sleep) -> bool:
    """Send (or spoil, or withhold) ``frame``; False once the connection is closed."""
    playback = conn.playback
    if playback.max_age_ns is not None:
        if conn.opened_ns is None:
            conn.opened_ns = frame.ts_ns
        elif frame.ts_ns - conn.opened_ns >= playback.max_age_ns:
            await _aged_out(conn, frame, frame.ts_ns - conn.opened_ns)
            return False
    playback.messages += 1
    number = playback.messages
    depth_number = 0
    if frame.event == "depth":
        playback.depth_updates += 1
        depth_number = playback.depth_updates
    faults = playback.faults_for(frame, number, depth_number) if playback.faulty else ()
    if not faults:
        if playback.offsets:
            frame = playback.renumbered(frame)
        await conn.send(frame.combined if conn.combined else frame.raw)
        playback.sent(frame)
        return True
    return await _faulted(conn, frame, faults, (number, frames, sleep))


async def _aged_out(conn: Connection, frame: Frame, age_ns: int) -> None:
    """Close the connection before ``frame``: it has been open ``age_ns`` of playback time, its lifetime."""
    hours = age_ns / _NS_PER_HOUR
    detail = f"open {hours:.2f} h of playback time"
    aged = AppliedFault("ws:age", "reconnect", detail, frame.key, frame.stream, connection=conn.number)
    conn.playback.served.faults.append(aged)
    await conn.close(1000, "loopback: connection lifetime reached")


async def _faulted(
    conn: Connection, frame: Frame, faults: tuple[WsFault, ...], context: tuple[int, Iterator[Frame], Sleep]
) -> bool:
    """Apply ``faults`` to ``frame``; ``context``: the message number, the player's frames, the sleep."""
    number, frames, sleep = context
    playback = conn.playback
    where = f"ws#{number}"
    actions = {fault.action: fault for fault in faults}
    if "pause" in actions:
        paused = AppliedFault(where, "pause", frame.stream, frame.key, frame.stream, frame=frame.index)
        playback.served.faults.append(paused)
        playback.resumed.clear()
    await playback.resumed.wait()
    if "stall" in actions:
        await _stall(conn, frame, actions["stall"], where, sleep)
    if "reset" in actions:
        _reset(conn, frame, where)
    frame = playback.renumbered(frame)
    replacing = next((fault for fault in faults if fault.action in _REPLACING), None)
    if replacing is not None:
        return await _replace(conn, frame, replacing, where)
    await conn.send(frame.combined if conn.combined else frame.raw)
    playback.sent(frame)
    if "disconnect" in actions:
        await _disconnect(conn, actions["disconnect"], frames, (where, frame))
        return False
    if "reconnect" in actions:
        closed = AppliedFault(
            where, "reconnect", "closed cleanly", frame.key, frame.stream, connection=conn.number, frame=frame.index
        )
        playback.served.faults.append(closed)
        await conn.close(1000, "loopback fault: reconnect")
        return False
    return True


async def _stall(conn: Connection, frame: Frame, fault: WsFault, where: str, sleep: Sleep) -> None:
    detail = f"silent {fault.seconds:g} s before {frame.stream}"
    stalled = AppliedFault(where, "stall", detail, frame.key, frame.stream, connection=conn.number, frame=frame.index)
    conn.playback.served.faults.append(stalled)
    try:
        await sleep(fault.seconds)
    finally:
        chaos = conn.playback.chaos
        if chaos is not None:
            chaos.spent(frame.market, frame.topic, frame.index)


def _reset(conn: Connection, frame: Frame, where: str) -> None:
    ids = conn.playback.reset(frame.key)
    depth_ids: tuple[tuple[int, int], ...] = ()
    if ids is None:
        detail = f"{frame.key} has no depth stream"
    else:
        detail, depth_ids = f"next depth update id {ids[0]} -> {ids[1]}", (ids,)
    reset = AppliedFault(where, "reset", detail, frame.key, frame.stream, (), depth_ids, frame=frame.index)
    conn.playback.served.faults.append(reset)


async def _replace(conn: Connection, frame: Frame, fault: WsFault, where: str) -> bool:
    """Apply a fault that takes the frame's place; False if it closed the connection."""
    playback = conn.playback
    action = fault.action
    withheld = playback.spoiled(frame, f"{action}@{fault.at}")
    detail = {"skip": "withheld", "skip-depth": "withheld"}.get(action, "sent corrupted")
    applied = AppliedFault(
        where, action, detail, frame.key, frame.stream, withheld.trade_ids, withheld.depth_ids, conn.number, frame.index
    )
    playback.served.faults.append(applied)
    playback.served.withheld.append(withheld)
    if action in ("skip", "skip-depth"):
        return True
    if action == "cut":
        conn.abort(half_frame(frame.combined if conn.combined else frame.raw))
        return False
    if action == "malformed":
        text = BROKEN_FRAME
    else:
        data = wrong_shape(frame) if action == "wrong-shape" else garbage(frame, fault.at)
        text = wire_text(frame, data, combined=conn.combined)
    await conn.send(text)
    return True


async def _disconnect(conn: Connection, fault: WsFault, frames: Iterator[Frame], at: tuple[str, Frame]) -> None:
    """Close after ``at``'s frame; the next ``fault.count`` frames of the connection's streams are lost."""
    where, frame = at
    playback = conn.playback
    lost: list[Frame] = []
    while len(lost) < fault.count:
        upcoming = next(frames, None)
        if upcoming is None:
            break
        if upcoming.topic in conn.topics and upcoming.index > playback.cursors.get(
            (upcoming.market, upcoming.topic), -1
        ):
            lost.append(playback.renumbered(upcoming))
    detail = f"withheld {len(lost)}"
    ids = tuple(int(f.data["t" if f.event == "trade" else "a"]) for f in lost if f.event in ("trade", "aggTrade"))
    applied = AppliedFault(where, "disconnect", detail, frame.key, frame.stream, ids, (), conn.number, frame.index)
    playback.served.faults.append(applied)
    if lost:
        playback.withhold(lost, f"disconnect@{fault.at}")
    await conn.close(1001, "loopback fault: disconnect")
