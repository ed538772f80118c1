"""Every error Virtuoso raises on purpose derives from :class:`VirtuosoError`.

The tree::

    VirtuosoError
    ├── EventError                  an event cannot be encoded or decoded
    │   ├── UnknownEventType        a stored type name has no registered class
    │   └── EventDecodeError        a stored payload does not match its type
    ├── StoreError                  the event log refused or failed an operation
    │   ├── ConcurrencyError        expected stream version did not match
    │   ├── AppendOnlyError         something tried to change or delete an event
    │   ├── SessionError            unknown session, or a session in the wrong state
    │   ├── StoreClosedError        the store was used after close()
    │   └── DatabaseError           the file cannot be used as an event log
    │       ├── NotAnEventLogError  a SQLite file that is not ours
    │       ├── CorruptDatabaseError  not SQLite, or damaged
    │       └── SchemaVersionError  written by a newer Virtuoso
    ├── UsageError                  a caller passed arguments that cannot work
    └── ImportFormatError           a file being imported is malformed at a line

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


class DatabaseError(StoreError):
    """The file cannot be used as an event log."""


class NotAnEventLogError(DatabaseError):
    """A valid SQLite database that was not created by Virtuoso."""


class CorruptDatabaseError(DatabaseError):
    """The file is not a SQLite database, or SQLite reports it damaged."""


class SchemaVersionError(DatabaseError):
    """The database was written by a newer Virtuoso than this one."""


class UsageError(VirtuosoError):
    """Arguments that cannot work together (reported before anything is done)."""


class ImportFormatError(VirtuosoError):
    """A file being imported is malformed: ``str(error)`` is ``file:line: what is wrong``."""

    def __init__(self, path: str, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path = path
        self.line = line
        self.what = what
