"""Deterministic mode's reorder buffer: results leave in input order, whichever worker finished first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from virtuoso.events import Event
from virtuoso.processing._reports import DeadLetter


class WithFailures(list[Event | DeadLetter]):
    """A run's result holding dead letters among its derived events (in the order they happened)."""


Result = Event | Sequence[Event] | DeadLetter | None
"""One input's result: what its handler returned (derived events or ``None``), its dead letter, or, for a run
of events (the processor numbers runs, not events), a :class:`WithFailures` list."""

_MISSING = object()


class ReorderBuffer:
    """Holds each input's result until every earlier input's result is out.

    Inputs are numbered from 0 in submission order; workers store the result of
    input ``seq`` in ``parked[seq]``. :meth:`release` hands the results that are
    next in order to ``emit`` (the derived events, gathered in a list) and
    ``fail`` (dead letters), keeping their relative order: the derived events
    before a dead letter are emitted before it is reported.

    >>> out = []
    >>> buffer = ReorderBuffer(out.extend, out.append)
    >>> buffer.parked[1] = ["b"]; buffer.parked[2] = None
    >>> buffer.release(); out
    []
    >>> buffer.parked[0] = ["a"]
    >>> buffer.release(); out
    ['a', 'b']
    >>> buffer.next_seq, len(buffer.parked)
    (3, 0)
    """

    __slots__ = ("_emit", "_fail", "next_seq", "parked")

    def __init__(self, emit: Callable[[list[Event]], object], fail: Callable[[DeadLetter], object]) -> None:
        self._emit = emit
        self._fail = fail
        self.parked: dict[int, Result] = {}
        """Results waiting for an earlier one, by input number."""
        self.next_seq = 0
        """The number of the first input whose result has not been released."""

    def release(self) -> None:
        """Hand out every result that is next in input order."""
        take = self.parked.pop
        seq = self.next_seq
        derived: list[Event] = []
        while (result := take(seq, _MISSING)) is not _MISSING:
            seq += 1
            if result is None:
                continue
            if isinstance(result, Event):
                derived.append(result)
            elif isinstance(result, DeadLetter):
                self.next_seq = seq
                derived = self._failed(derived, result)
            elif isinstance(result, WithFailures):
                self.next_seq = seq
                for item in result:
                    if isinstance(item, DeadLetter):
                        derived = self._failed(derived, item)
                    else:
                        derived.append(item)
            else:
                derived += result  # type: ignore[arg-type]
        self.next_seq = seq
        if derived:
            self._emit(derived)

    def _failed(self, derived: list[Event], letter: DeadLetter) -> list[Event]:
        """Emit the derived events before ``letter``, then report it; a fresh list for what follows."""
        if derived:
            self._emit(derived)
        self._fail(letter)
        return []
