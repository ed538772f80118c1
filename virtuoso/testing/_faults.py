"""Fault schedules: which REST request or WebSocket message goes wrong, and how.

The text grammar (``--faults``), rules separated by commas::

    rest:PATH#WHICH=ACTION      the WHICH-th request(s) to PATH (``*`` = any path)
    ws:ACTION@N[:ARG]           the N-th WebSocket message (1-based, counted over the server)

    WHICH   N | N-M | N+ | *          one request, a range, N and every later one, all
    ACTION  429[:S] | 418[:S]         rate limited / IP banned, ``Retry-After: S`` (default 1)
            500 | 502 | 503 | 504     a server error
            slow:S                    answer after S seconds (longer than the client's timeout)
            malformed                 a 200 whose body is not JSON
            truncated                 the connection closes halfway through the body
            empty                     a 200 with an empty body
            html                      a 200 whose body is an HTML error page
            object                    a JSON object where a list is expected (a list where an object is)
            missing                   one trade row (or book level) lacks a field
            bad-values                one trade's (or level's) price or amount is NaN, inf, 0 or negative
            ids-backwards             one trade row carries an id lower than the page's first
            ids-repeat                one trade row is sent twice
            unordered                 the page's rows come in reverse order
            far-time                  one trade's time is ten years away from now
    ws ACTION disconnect[:K]          close the connection after message N; withhold the next K
                                      messages of its streams (lost while disconnected)
              skip                    withhold message N
              skip-depth              withhold the N-th depth update (counted over depth updates)
              malformed               send a frame that is not JSON instead of message N
              wrong-shape             send message N as valid JSON with its id and a value field missing
              garbage                 send message N with a price or amount NaN, inf, 0 or negative
              cut                     send half of message N's WebSocket frame, then drop the connection
              stall:S                 hold the connection open and silent S seconds before message N
              reconnect               close the connection cleanly after message N (the venue's
                                      forced reconnect: nothing is lost)
              reset                   depth update ids restart lower from message N (a depth update)
              pause                   hold message N (and every player) until ``resume()``
                                      is called (Python API: lets a test act at a known point)

Example: ``rest:/api/v3/aggTrades#3=429:2,rest:*#5-6=503,ws:disconnect@500,ws:skip-depth@40``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from virtuoso.errors import UsageError

REST_STATUS_ACTIONS = ("429", "418", "500", "502", "503", "504")
REST_BODY_ACTIONS = ("malformed", "truncated", "empty", "html", "object")
"""Faults that spoil a whole answer body: nothing in it reaches the client in a usable form."""
REST_ROW_ACTIONS = ("missing", "bad-values", "ids-backwards", "ids-repeat", "unordered", "far-time")
"""Faults inside a trade page (or a depth body): some rows are wrong, the others are served correctly."""
REST_ACTIONS = (*REST_STATUS_ACTIONS, "slow", *REST_BODY_ACTIONS, *REST_ROW_ACTIONS)
WS_ACTIONS = (
    "disconnect",
    "skip",
    "skip-depth",
    "malformed",
    "wrong-shape",
    "garbage",
    "cut",
    "stall",
    "reconnect",
    "reset",
    "pause",
)
_TIMED = ("429", "418", "slow")  # the REST actions that take seconds (Retry-After, or the delay)
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

    @property
    def spec(self) -> str:
        """The rule in the text grammar (parsing it gives this fault back)."""
        which = "*" if self.first == 1 and self.last is None else f"{self.first}+" if self.last is None else None
        if which is None:
            which = str(self.first) if self.last == self.first else f"{self.first}-{self.last}"
        argument = f":{self.seconds!r}" if self.action in _TIMED else ""
        return f"rest:{self.path}#{which}={self.action}{argument}"


@dataclass(frozen=True, slots=True)
class WsFault:
    """A WebSocket fault at message (or, for ``skip-depth``, depth update) number ``at``.

    ``count``: the messages a ``disconnect`` withholds; ``seconds``: how long a ``stall`` lasts.
    """

    action: str
    at: int
    count: int = 0
    seconds: float = 0.0

    @property
    def spec(self) -> str:
        """The rule in the text grammar (parsing it gives this fault back)."""
        argument = f":{self.count}" if self.count else f":{self.seconds!r}" if self.action == "stall" else ""
        return f"ws:{self.action}@{self.at}{argument}"


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """The faults a :class:`~virtuoso.testing.LoopbackExchange` injects, by request or message number.

    >>> schedule = FaultSchedule.parse("rest:/api/v3/aggTrades#3=429:2,ws:disconnect@500:10,ws:stall@9:2.5")
    >>> schedule.rest_fault("/api/v3/aggTrades", 3)
    RestFault(path='/api/v3/aggTrades', first=3, last=3, action='429', seconds=2.0)
    >>> schedule.rest_fault("/api/v3/aggTrades", 4) is None
    True
    >>> schedule.ws
    (WsFault(action='disconnect', at=500, count=10, seconds=0.0), WsFault(action='stall', at=9, count=0, seconds=2.5))
    >>> FaultSchedule.parse(schedule.spec) == schedule
    True
    """

    rest: tuple[RestFault, ...] = ()
    ws: tuple[WsFault, ...] = ()
    _by_number: dict[tuple[bool, int], tuple[WsFault, ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def __post_init__(self) -> None:
        for fault in self.ws:
            key = (fault.action == "skip-depth", fault.at)
            self._by_number[key] = (*self._by_number.get(key, ()), fault)

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

    @property
    def spec(self) -> str:
        """The schedule in the text grammar."""
        return ",".join([*(rule.spec for rule in self.rest), *(rule.spec for rule in self.ws)])

    def rest_fault(self, path: str, ordinal: int) -> RestFault | None:
        """The first rule that applies to the ``ordinal``-th request (1-based) to ``path``, if any."""
        return next((fault for fault in self.rest if fault.matches(path, ordinal)), None)

    def ws_fault(self, action: str, at: int) -> WsFault | None:
        """The ``action`` rule for message (or depth update) number ``at``, if any."""
        found = self._by_number.get((action == "skip-depth", at), ())
        return next((fault for fault in found if fault.action == action), None)

    def ws_at(self, number: int, depth_number: int) -> tuple[WsFault, ...]:
        """Every rule for message ``number`` (and ``skip-depth`` for depth update ``depth_number``, if > 0)."""
        at_message = self._by_number.get((False, number), ())
        return at_message + self._by_number.get((True, depth_number), ()) if depth_number else at_message


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


def _seconds(rule: str, argument: str, *, required: bool, name: str = "slow") -> float:
    if not argument:
        if required:
            raise UsageError(f"fault rule {rule!r}: {name} needs seconds ({name}:S)")
        return _DEFAULT_RETRY_AFTER
    try:
        value = float(argument)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise UsageError(f"fault rule {rule!r}: {argument!r} is not a number of seconds")
    return value


def _ws_rule(rule: str) -> WsFault:
    action, at, where = rule[len("ws:") :].partition("@")
    number, _, argument = where.partition(":")
    if not at or action not in WS_ACTIONS:
        raise UsageError(f"fault rule {rule!r} is not ws:ACTION@N with ACTION one of {', '.join(WS_ACTIONS)}")
    if action == "stall":
        seconds = _seconds(rule, argument, required=True, name="stall@N")
        return WsFault(action, _number(rule, number, where), seconds=seconds)
    if argument and action != "disconnect":
        raise UsageError(f"fault rule {rule!r}: only disconnect takes a count (disconnect@N:K)")
    try:
        count = int(argument) if argument else 0
    except ValueError:
        raise UsageError(f"fault rule {rule!r}: {where!r} is not N or N:K") from None
    if count < 0:
        raise UsageError(f"fault rule {rule!r}: {where!r} is not N or N:K")
    return WsFault(action, _number(rule, number, where), count)


def _number(rule: str, number: str, where: str) -> int:
    try:
        return _positive(number)
    except ValueError:
        raise UsageError(f"fault rule {rule!r}: {where!r} is not N or N:K") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value
