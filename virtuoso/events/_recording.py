"""Recording payloads: what a live recorder says about the exchange's answers and its own channels.

Both live on the session's ``system:`` streams, never on a market stream: a
rejected answer is noted (why, how many, a short scrubbed sample), not stored;
a channel that failed and was started again says so, with the reason.
"""

from __future__ import annotations

from typing import ClassVar

from virtuoso.events._registry import Payload, event_type


@event_type
class PayloadRejected(Payload, frozen=True, gc=False):
    """``count`` answers (or items of answers) for ``stream`` were not recorded, for ``reason``.

    ``sample`` is one of them, truncated and with secrets scrubbed. A flood of the
    same reason is noted once, then summed into one event per interval.
    """

    TYPE: ClassVar[str] = "PayloadRejected"
    TOPIC: ClassVar[str] = "system.recording.rejected"

    stream: str
    reason: str
    count: int
    sample: str = ""


@event_type
class ChannelRestarted(Payload, frozen=True, gc=False):
    """Channel ``stream`` failed (``reason``) and starts again after ``delay_s``; ``restarts`` so far.

    ``stopped`` is True when it does not start again: a permanent error for its
    symbol (delisted, unknown), said in ``reason``.
    """

    TYPE: ClassVar[str] = "ChannelRestarted"
    TOPIC: ClassVar[str] = "system.recording.restarted"

    stream: str
    reason: str
    restarts: int
    delay_s: float = 0.0
    stopped: bool = False
