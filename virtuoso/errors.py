"""Every error Virtuoso raises on purpose derives from :class:`VirtuosoError`.

The tree::

    VirtuosoError
    ├── EventError                  an event cannot be encoded or decoded
    │   ├── UnknownEventType        a stored type name has no registered class
    │   ├── EventDecodeError        a stored payload does not match its type
    │   └── InvalidEventError       an event's values break the log's rules (NaN price, time 0, ...)
    ├── StoreError                  the event log refused or failed an operation
    │   ├── ConcurrencyError        expected stream version did not match
    │   ├── AppendOnlyError         something tried to change or delete an event
    │   ├── SessionError            unknown session, or a session in the wrong state
    │   ├── StoreClosedError        the store was used after close()
    │   ├── StoreBusyError          another process holds the log's write lock (worth retrying)
    │   ├── StoreIOError            the disk failed a read or write (worth retrying)
    │   ├── StoreFullError          the disk (or a file size limit) is full: the write was undone
    │   └── DatabaseError           the file cannot be used as an event log
    │       ├── NotAnEventLogError  a SQLite file that is not ours
    │       ├── CorruptDatabaseError  not SQLite, or damaged
    │       └── SchemaVersionError  written by a newer Virtuoso
    ├── ClockError                  a replay clock asked to go back in time
    ├── ProcessorError              the event processor refused an event or stopped
    │   └── ProcessorClosedError    an event was submitted to a processor not running
    ├── ContainerError              the service container cannot build, find or dispose a service
    │   ├── RegistrationError       a registration that cannot be injected, or replaced too late
    │   ├── DependencyCycleError    services that need each other (names the cycle)
    │   ├── ResolutionError         a service cannot be built here (names the resolution chain)
    │   │   ├── MissingRegistrationError  nothing is registered for a needed type
    │   │   ├── ScopeError          a scoped service outside a scope, or injected into a singleton
    │   │   └── AsyncFactoryError   resolve() met an async factory that has not run: use aresolve()
    │   └── DisposalError           disposers failed (every other one still ran)
    ├── UsageError                  a caller passed arguments that cannot work
    │   └── ConfigError             a config file's value is wrong (names the file, table and key)
    ├── ReplayError                 a replay's output differs from what its run committed
    ├── BacktestError               a backtest could not run to its end
    │   └── StrategyError           a strategy raised while handling an event
    ├── ImportFormatError           a file being imported is malformed at a line
    └── ExchangeError               an exchange call failed (a ccxt error, translated)
        ├── TransientExchangeError  worth retrying later
        │   ├── ExchangeNetworkError  the connection failed or broke
        │   ├── ExchangeTimeout     no answer in time
        │   ├── ExchangeUnavailable  the exchange says it is down or overloaded
        │   ├── RateLimited         too many requests (``retry_after_s`` when known)
        │   ├── ExchangeMaintenance  the exchange is under maintenance
        │   └── CircuitOpenError    our breaker refuses calls until ``reopens_at_ns``
        └── PermanentExchangeError  retrying cannot help
            ├── AuthenticationFailed  bad or missing credentials
            ├── PermissionDenied    the credentials lack a permission
            ├── BadSymbol           no such market on the exchange
            ├── BadRequest          the exchange rejected the arguments
            ├── NotSupported        the exchange has no such operation
            └── ExchangeResponseError  a response ccxt could not make sense of

Errors carry enough context (path, position, type name) to be shown to a user as
one line: ``str(error)`` is that line.
"""

from __future__ import annotations


class VirtuosoError(Exception):
    """Base of every error Virtuoso raises deliberately."""


class EventError(VirtuosoError):
    """An event cannot be encoded or decoded."""


class UnknownEventType(EventError):
    """A stored event names a type (or schema version) no class is registered for."""

    def __init__(self, type_name: str, schema: int, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"unknown event type {type_name!r} (schema {schema}){where}")
        self.type_name = type_name
        self.schema = schema
        self.position = position


class EventDecodeError(EventError):
    """A stored payload is malformed for its declared type."""

    def __init__(self, type_name: str, position: int | None, reason: str) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"cannot decode {type_name} event{where}: {reason}")
        self.type_name = type_name
        self.position = position
        self.reason = reason


class InvalidEventError(EventError):
    """An event's values break the rules every event must pass to enter the log (``virtuoso.events.event_problem``)."""

    def __init__(self, stream: str, type_name: str, reason: str, where: str = "") -> None:
        at = f" ({where})" if where else ""
        super().__init__(f"invalid {type_name} on {stream}: {reason}{at}")
        self.stream = stream
        self.type_name = type_name
        self.reason = reason


class StoreError(VirtuosoError):
    """The event log refused or failed an operation."""


class ConcurrencyError(StoreError):
    """A stream's current version differs from the version the caller expected."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream!r} is at version {actual}, expected {expected}; nothing written")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class AppendOnlyError(StoreError):
    """Something tried to update or delete a stored event."""


class SessionError(StoreError):
    """An unknown session, or a session in a state that forbids the operation."""


class StoreClosedError(StoreError):
    """The store was used after it was closed."""


class StoreBusyError(StoreError):
    """Another connection holds the log's write lock past the busy timeout; a later attempt may succeed."""


class StoreIOError(StoreError):
    """SQLite reported a disk I/O error; nothing of the failed transaction was committed."""


class StoreFullError(StoreError):
    """The disk (or file size limit) holding the log is full; what was committed before is intact."""


class DatabaseError(StoreError):
    """The file cannot be used as an event log."""


class NotAnEventLogError(DatabaseError):
    """A valid SQLite database that was not created by Virtuoso."""


class CorruptDatabaseError(DatabaseError):
    """The file is not a SQLite database, or SQLite reports it damaged."""


class SchemaVersionError(DatabaseError):
    """The database was written by a newer Virtuoso than this one."""


class ClockError(VirtuosoError):
    """A clock was asked to do something time cannot do (a replay clock going backwards)."""


class ProcessorError(VirtuosoError):
    """The event processor refused an event, or stopped because a callback of its owner raised."""


class ProcessorClosedError(ProcessorError):
    """An event was submitted to a processor that is not running (not started, closing or closed)."""


class UsageError(VirtuosoError):
    """Arguments that cannot work together (reported before anything is done)."""


class ConfigError(UsageError):
    """A config file (or a flag overriding it) holds a value that cannot work: ``str(error)`` names the key."""


class ReplayError(VirtuosoError):
    """A replay's output differs from what its run committed (the analyzers are not deterministic)."""


class BacktestError(VirtuosoError):
    """A backtest could not run to its end."""


class StrategyError(BacktestError):
    """A strategy raised while handling an event (the message names the strategy and the event)."""


class ContainerError(VirtuosoError):
    """The service container cannot build, find or dispose a service, or was used after closing."""


class RegistrationError(ContainerError):
    """A registration whose parameters cannot be injected, or that replaces one already in use."""


class DependencyCycleError(ContainerError):
    """Registered services need each other; ``cycle`` lists them, the first repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


class ResolutionError(ContainerError):
    """A service cannot be built where it was asked for; the message names the resolution chain.

    ``service`` is the service that failed; ``chain`` lists the services that needed it,
    nearest first, so ``chain[-1]`` is the one the caller resolved.
    """

    def __init__(self, service: str, problem: str) -> None:
        super().__init__(problem)
        self.service = service
        self.problem = problem
        self.chain: list[str] = []

    def needed_by(self, dependent: str) -> None:
        """Record that ``dependent`` needed the service (called while the resolution unwinds)."""
        self.chain.append(dependent)

    def __str__(self) -> str:
        if not self.chain:
            return self.problem
        return f"{self.problem} (needed by {' <- '.join(self.chain)})"


class MissingRegistrationError(ResolutionError):
    """Nothing is registered for a type (and name) that a service needs."""

    def __init__(self, service: str) -> None:
        super().__init__(service, f"no registration for {service}")


class ScopeError(ResolutionError):
    """A scoped service resolved outside a scope, or injected into a singleton that would outlive it."""

    def __init__(self, service: str, singleton: str | None = None) -> None:
        if singleton is None:
            problem = f"{service} is scoped: resolve it inside `async with container.scope()`"
        else:
            problem = f"{service} is scoped and cannot be injected into singleton {singleton}, which would outlive it"
        super().__init__(service, problem)
        self.singleton = singleton


class AsyncFactoryError(ResolutionError):
    """``resolve()`` needs an instance that only an async factory, not yet run, can make."""

    def __init__(self, service: str) -> None:
        super().__init__(service, f"{service} has an async factory that has not run yet: use `await aresolve(...)`")


class DisposalError(ContainerError):
    """Disposing instances failed; every other instance was still disposed.

    ``failures`` pairs each failed instance's description with its exception, in
    disposal order; the first exception is also the ``__cause__``.
    """

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        names = ", ".join(f"{what} ({type(error).__name__}: {error})" for what, error in failures)
        super().__init__(f"disposing {len(failures)} instance(s) failed: {names}")
        self.failures = failures


class ImportFormatError(VirtuosoError):
    """A file being imported is malformed: ``str(error)`` is ``file:line: what is wrong``."""

    def __init__(self, path: str, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path = path
        self.line = line
        self.what = what


class ExchangeError(VirtuosoError):
    """An exchange call failed; ``exchange`` and ``operation`` say which (``binance``, ``fetch_trades``).

    ``str(error)`` is ``exchange operation: message``, with credentials removed from the message.
    Raised ``from`` the original ccxt exception, which stays in ``__cause__``.
    """

    def __init__(self, message: str, *, exchange: str = "", operation: str = "") -> None:
        where = " ".join(part for part in (exchange, operation) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.exchange = exchange
        self.operation = operation
        self.message = message


class TransientExchangeError(ExchangeError):
    """A failure that may go away: retry policies retry these, and breakers count them."""


class ExchangeNetworkError(TransientExchangeError):
    """The connection to the exchange failed or broke."""


class ExchangeTimeout(TransientExchangeError):
    """The exchange did not answer in time."""


class ExchangeUnavailable(TransientExchangeError):
    """The exchange says it is unavailable or overloaded."""


class RateLimited(TransientExchangeError):
    """Too many requests; ``retry_after_s`` is how long the exchange asked us to wait, when it said."""

    def __init__(
        self, message: str, *, exchange: str = "", operation: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, exchange=exchange, operation=operation)
        self.retry_after_s = retry_after_s


class ExchangeMaintenance(TransientExchangeError):
    """The exchange is under maintenance."""


class CircuitOpenError(TransientExchangeError):
    """A circuit breaker refuses calls until ``reopens_at_ns`` (clock time, ns) after repeated failures."""

    def __init__(self, message: str, *, exchange: str = "", operation: str = "", reopens_at_ns: int = 0) -> None:
        super().__init__(message, exchange=exchange, operation=operation)
        self.reopens_at_ns = reopens_at_ns


class PermanentExchangeError(ExchangeError):
    """A failure retrying cannot fix: never retried, and it does not open a breaker."""


class AuthenticationFailed(PermanentExchangeError):
    """The exchange rejected the credentials (or they are missing)."""


class PermissionDenied(PermanentExchangeError):
    """The credentials are valid but lack a permission the operation needs."""


class BadSymbol(PermanentExchangeError):
    """The exchange has no such market."""


class BadRequest(PermanentExchangeError):
    """The exchange rejected the request's arguments."""


class NotSupported(PermanentExchangeError):
    """The exchange (or ccxt's binding of it) has no such operation."""


class ExchangeResponseError(PermanentExchangeError):
    """The exchange answered with something ccxt could not parse."""
