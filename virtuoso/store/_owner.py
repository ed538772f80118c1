"""Which process owns an open session, and whether that process still lives.

A session records ``host:pid:start`` of the process that opened it, where
``start`` is the process start time from ``/proc`` (so a recycled pid is not
mistaken for the original owner). On hosts without ``/proc`` the start is empty
and liveness falls back to ``os.kill(pid, 0)``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of ``pid`` from /proc, or None when it has no entry."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def owner_token() -> str:
    """``host:pid:start`` of the current process."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    return f"{socket.gethostname()}:{pid}:{stat[1] if stat else ''}"


def owner_alive(token: str) -> bool:
    """Whether the process named by ``token`` may still be running.

    A process on another host cannot be checked and counts as alive.
    """
    host, _, rest = token.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return host != socket.gethostname()
    pid = int(pid_text)
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        return state not in ("Z", "X") and (not start or started == start)
    if Path("/proc/self/stat").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
