"""Fault schedules: which REST request or WebSocket message goes wrong, and how.

The text grammar (``--faults``), rules separated by commas::

    rest:PATH#WHICH=ACTION      the WHICH-th request(s) to PATH (``*`` = any path)
    ws:ACTION@N                 the N-th WebSocket message (1-based, counted over the server)

    WHICH   N | N-M | N+ | *          one request, a range, N and every later one, all
    ACTION  429[:S] | 418[:S]         rate limited / IP banned, ``Retry-After: S`` (default 1)
            500 | 502 | 503 | 504     a server error
            slow:S                    answer after S seconds (longer than the client's timeout)
            malformed                 a 200 whose body is not JSON
            truncated                 the connection closes halfway through the body
    ws ACTION disconnect[:K]          close the connection after message N; withhold the next K
                                      messages of its streams (lost while disconnected)
              skip                    withhold message N
              skip-depth              withhold the N-th depth update (counted over depth updates)
              malformed               send a broken frame instead of message N
              pause                   hold message N (and every player) until ``resume()``
                                      is called (Python API: lets a test act at a known point)

Example: ``rest:/api/v3/aggTrades#3=429:2,rest:*#5-6=503,ws:disconnect@500,ws:skip-depth@40``.
"""

from __future__ import annotations

from dataclasses import dataclass

from virtuoso.errors import UsageError

REST_ACTIONS = ("429", "418", "500", "502", "503", "504", "slow", "malformed", "truncated")
WS_ACTIONS = ("disconnect", "skip", "skip-depth", "malformed", "pause")
_TIMED = ("429", "418", "slow")  # the actions that take seconds (Retry-After, or the delay)
_DEFAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class RestFault:
    """A REST fault for requests ``first..last`` (``last`` None: no end) to ``path`` (``*``: any)."""

    path: str
    first: int
    last: int | None
    action: str
    seconds: float = 0.0

    def matches(self, path: str, ordinal: int) -> bool:
        """True if the ``ordinal``-th request to ``path`` gets this fault."""
        in_range = self.first <= ordinal and (self.last is None or ordinal <= self.last)
        return in_range and self.path in ("*", path)

    @property
    def status(self) -> int:
        """The HTTP status the fault answers with (200 for body faults and slow answers)."""
        return int(self.action) if self.action.isdigit() else 200


@dataclass(frozen=True, slots=True)
class WsFault:
    """A WebSocket fault at message (or, for ``skip-depth``, depth update) number ``at``."""

    action: str
    at: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """The faults a :class:`~virtuoso.testing.LoopbackExchange` injects, by request or message number.

    >>> schedule = FaultSchedule.parse("rest:/api/v3/aggTrades#3=429:2,ws:disconnect@500:10")
    >>> schedule.rest_fault("/api/v3/aggTrades", 3)
    RestFault(path='/api/v3/aggTrades', first=3, last=3, action='429', seconds=2.0)
    >>> schedule.rest_fault("/api/v3/aggTrades", 4) is None
    True
    >>> schedule.ws
    (WsFault(action='disconnect', at=500, count=10),)
    """

    rest: tuple[RestFault, ...] = ()
    ws: tuple[WsFault, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> FaultSchedule:
        """Parse the text grammar of the module docstring; a bad rule raises UsageError naming it."""
        rest: list[RestFault] = []
        ws: list[WsFault] = []
        for rule in (part.strip() for part in spec.split(",")):
            if rule.startswith("rest:"):
                rest.append(_rest_rule(rule))
            elif rule.startswith("ws:"):
                ws.append(_ws_rule(rule))
            elif rule:
                raise UsageError(f"fault rule {rule!r} must start with 'rest:' or 'ws:'")
        return cls(tuple(rest), tuple(ws))

    def rest_fault(self, path: str, ordinal: int) -> RestFault | None:
        """The first rule that applies to the ``ordinal``-th request (1-based) to ``path``, if any."""
        return next((fault for fault in self.rest if fault.matches(path, ordinal)), None)

    def ws_fault(self, action: str, at: int) -> WsFault | None:
        """The ``action`` rule for message (or depth update) number ``at``, if any."""
        return next((fault for fault in self.ws if fault.action == action and fault.at == at), None)


def _rest_rule(rule: str) -> RestFault:
    target, eq, action = rule[len("rest:") :].partition("=")
    path, hash_, which = target.rpartition("#")
    if not (eq and hash_ and path and action):
        raise UsageError(f"fault rule {rule!r} is not rest:PATH#WHICH=ACTION")
    first, last = _which(rule, which)
    name, _, argument = action.partition(":")
    if name not in REST_ACTIONS:
        raise UsageError(f"fault rule {rule!r}: unknown action {name!r} (one of {', '.join(REST_ACTIONS)})")
    if name not in _TIMED:
        if argument:
            raise UsageError(f"fault rule {rule!r}: {name} takes no ':' argument")
        return RestFault(path, first, last, name)
    return RestFault(path, first, last, name, _seconds(rule, argument, required=name == "slow"))


def _which(rule: str, which: str) -> tuple[int, int | None]:
    try:
        if which == "*":
            return 1, None
        if which.endswith("+"):
            return _positive(which[:-1]), None
        low, dash, high = which.partition("-")
        first = _positive(low)
        last = _positive(high) if dash else first
    except ValueError:
        raise UsageError(f"fault rule {rule!r}: {which!r} is not N, N-M, N+ or *") from None
    if last < first:
        raise UsageError(f"fault rule {rule!r}: empty range {which!r}")
    return first, last


def _seconds(rule: str, argument: str, *, required: bool) -> float:
    if not argument:
        if required:
            raise UsageError(f"fault rule {rule!r}: slow needs seconds (slow:S)")
        return _DEFAULT_RETRY_AFTER
    try:
        value = float(argument)
    except ValueError:
        value = -1.0
    if value < 0:
        raise UsageError(f"fault rule {rule!r}: {argument!r} is not a number of seconds")
    return value


def _ws_rule(rule: str) -> WsFault:
    action, at, where = rule[len("ws:") :].partition("@")
    number, _, count = where.partition(":")
    if not at or action not in WS_ACTIONS:
        raise UsageError(f"fault rule {rule!r} is not ws:ACTION@N with ACTION one of {', '.join(WS_ACTIONS)}")
    if count and action != "disconnect":
        raise UsageError(f"fault rule {rule!r}: only disconnect takes a count (disconnect@N:K)")
    try:
        return WsFault(action, _positive(number), int(count) if count else 0)
    except ValueError:
        raise UsageError(f"fault rule {rule!r}: {where!r} is not N or N:K") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value
