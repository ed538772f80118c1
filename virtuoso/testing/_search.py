"""The hypothesis searches behind ``check_analyzer``: one pass over every property, then a shrink per failure."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import hypothesis
from hypothesis import Phase, find
from hypothesis import strategies as st
from hypothesis.errors import Flaky, NoSuchExample

from virtuoso.testing._properties import PROPERTIES, Property
from virtuoso.testing._report import Coverage, Example, Failure
from virtuoso.testing._runs import Harness


class _OutOfBudget(BaseException):
    # A BaseException, so that hypothesis passes it through instead of shrinking it as a failure.
    pass


@dataclass
class Search:
    """Runs the properties of one analyzer over drawn examples."""

    harness: Harness
    drawn: st.SearchStrategy[Example]
    settings: hypothesis.settings
    max_shrinks: int

    def explore(self, names: Sequence[str]) -> tuple[dict[str, Failure], Coverage]:
        """The first failure of each property over one pass of examples (drawing costs more than checking),
        and how many of the examples made the analyzer emit."""
        found: dict[str, Failure] = {}
        counts = [0, 0, 0]  # examples, productive, outputs

        def check_all(example: Example) -> bool:
            outputs = self._outputs(example)
            counts[0], counts[1], counts[2] = counts[0] + 1, counts[1] + (outputs > 0), counts[2] + outputs
            for name in names:
                problem = None if name in found else self.verdict(PROPERTIES[name][0], example)
                if problem is not None:
                    found[name] = Failure(example, problem)
            return len(found) == len(names)

        with suppress(NoSuchExample):
            find(self.drawn, check_all, settings=hypothesis.settings(self.settings, phases=[Phase.generate]))
        return found, Coverage(*counts)

    def _outputs(self, example: Example) -> int:
        try:
            return sum(len(step.outputs) for step in self.harness.trace(example.start_ns, example.inputs))
        except Exception:  # a property reports it; coverage only counts
            return 0

    def shrink(self, name: str) -> Failure | None:
        """The smallest failure of property ``name`` hypothesis finds, or ``None`` when it finds none again."""
        failures: list[Failure] = []
        calls = iter(range(self.max_shrinks))

        def fails(example: Example) -> bool:
            if next(calls, None) is None:
                raise _OutOfBudget
            problem = self.verdict(PROPERTIES[name][0], example)
            if problem is not None:
                failures.append(Failure(example, problem))
            return problem is not None

        try:
            smallest = find(self.drawn, fails, settings=self.settings)
        except _OutOfBudget:
            # Hypothesis only moves on to a failing example smaller than the last: the last one is the best so far.
            return failures[-1] if failures else None
        except (NoSuchExample, Flaky):
            return None  # not found again (a rare or flaky failure): the first one found stands
        return next((f for f in reversed(failures) if f.example is smallest), None)

    def verdict(self, check: Property, example: Example) -> str | None:
        """``check`` on ``example``; an exception the analyzer raises is a failure, with where it was raised."""
        try:
            return check(self.harness, example)
        except Exception as e:  # the analyzer's own failure is this property's failure
            where = traceback.extract_tb(e.__traceback__)[-1]
            return f"raised {type(e).__name__}: {e} (at {where.filename}:{where.lineno} in {where.name})"
