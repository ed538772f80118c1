"""Grid files: the parameter values a sweep tries (lists, ranges), constraints between them, and settings.

A grid file is TOML::

    [sweep]
    strategy = "virtuoso.strategies:MovingAverageCross"
    metric = "sharpe"
    constraints = ["fast < slow"]

    [grid]
    timeframe = "1s"                       # one value: the same in every configuration
    fast = [2, 3, 5]                       # a list
    slow = {from = 4, to = 12, step = 4}   # a range, both ends included

    [venue]                                # optional: the simulated venue (docs/backtest.md)
    taker_fee_bps = 7.5

Constraints are comparisons of parameters and numbers (``+ - * / %``,
``and``/``or``/``not``), parsed and checked here, never evaluated by Python.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtuoso._toml import load_toml
from virtuoso.errors import ConfigError

Value = bool | int | float | str
_SWEEP_KEYS = frozenset(("strategy", "metric", "seed", "analyzers", "order", "constraints"))
_RANGE_KEYS = frozenset(("from", "to", "step"))
_MAX_RANGE = 100_000


@dataclass(frozen=True)
class Grid:
    """The parameter values of a sweep (in file order), its constraints and its settings.

    >>> grid = Grid.from_mapping({"grid": {"fast": [2, 3], "slow": {"from": 3, "to": 5}},
    ...                           "sweep": {"constraints": ["fast < slow"]}})
    >>> [(p["fast"], p["slow"]) for p in grid.points()]
    [(2, 3), (2, 4), (2, 5), (3, 4), (3, 5)]
    >>> grid.varying
    ('fast', 'slow')
    """

    params: dict[str, tuple[Value, ...]]
    constraints: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    """The ``[sweep]`` table less ``constraints``: strategy, metric, seed, analyzers, order."""
    venue: dict[str, Any] | None = None
    source: str = "grid"

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, source: str = "grid") -> Grid:
        """The grid of a parsed TOML document; one-line :class:`ConfigError` naming ``source`` and the key."""
        unknown = sorted(set(document) - {"sweep", "grid", "venue"})
        if unknown:
            raise ConfigError(f"{source}: unknown table {unknown[0]!r} (known: grid, sweep, venue)")
        sweep = _table(document, "sweep", source)
        bad = sorted(set(sweep) - _SWEEP_KEYS)
        if bad:
            raise ConfigError(f"{source}: [sweep] has no key {bad[0]!r} (known: {', '.join(sorted(_SWEEP_KEYS))})")
        params = {name: _values(source, name, raw) for name, raw in _table(document, "grid", source).items()}
        constraints = _constraints(source, sweep.get("constraints", []))
        for text in constraints:
            _Constraint(text, params, source)
        settings = {k: v for k, v in sweep.items() if k != "constraints"}
        venue = _table(document, "venue", source) if "venue" in document else None
        return cls(params, constraints, settings, venue, source)

    @property
    def varying(self) -> tuple[str, ...]:
        """The parameters with more than one value."""
        return tuple(name for name, values in self.params.items() if len(values) > 1)

    def points(self) -> Iterator[dict[str, Value]]:
        """Every combination of values (the last parameter varying fastest) that meets the constraints."""
        checks = [_Constraint(text, self.params, self.source) for text in self.constraints]
        names = list(self.params)
        for values in itertools.product(*self.params.values()):
            point = dict(zip(names, values, strict=True))
            if all(check(point) for check in checks):
                yield point


def load_grid(path: Path) -> Grid:
    """The grid in TOML file ``path``; one-line :class:`ConfigError` naming the file."""
    return Grid.from_mapping(load_toml(path, "grid"), source=str(path))


def _table(document: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return table


def _values(source: str, name: str, raw: Any) -> tuple[Value, ...]:
    where = f"{source}: grid.{name}"
    if isinstance(raw, dict):
        values = _range(where, raw)
    elif isinstance(raw, list):
        values = raw
    else:
        values = [raw]
    if not values:
        raise ConfigError(f"{where}: no values")
    for value in values:
        if not isinstance(value, bool | int | float | str):
            raise ConfigError(f"{where}: {value!r} is not a number, a string or a boolean")
    return tuple(dict.fromkeys(values))


def _range(where: str, raw: dict[str, Any]) -> list[Value]:
    """``{from, to, step=1}``: both ends included; floats are rounded to 12 places (no 0.30000000000000004)."""
    if set(raw) - _RANGE_KEYS or not {"from", "to"} <= set(raw):
        raise ConfigError(f"{where}: a range is {{from = A, to = B, step = S}} (step optional), not {raw!r}")
    start, stop, step = raw["from"], raw["to"], raw.get("step", 1)
    numbers = (start, stop, step)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise ConfigError(f"{where}: from, to and step must be numbers")
    if not step > 0 or stop < start:
        raise ConfigError(f"{where}: need step > 0 and from <= to, not from={start}, to={stop}, step={step}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > _MAX_RANGE:
        raise ConfigError(f"{where}: {count} values is too many (at most {_MAX_RANGE})")
    if all(isinstance(v, int) for v in numbers):
        return list(range(start, stop + 1, step))
    return [round(start + i * step, 12) for i in range(count)]


def _constraints(source: str, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f'{source}: sweep.constraints must be a list of strings like "fast < slow"')
    return tuple(raw)


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


class _Constraint:
    """One constraint, parsed once; called with a point, it says whether the point meets it."""

    def __init__(self, text: str, params: Mapping[str, object], source: str) -> None:
        self._where = f"{source}: constraint {text!r}"
        try:
            self._tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            raise ConfigError(f"{self._where}: not an expression") from None
        self._check(self._tree, params)

    def __call__(self, point: Mapping[str, Value]) -> bool:
        try:
            return bool(self._eval(self._tree, point))
        except (TypeError, ZeroDivisionError) as exc:
            raise ConfigError(f"{self._where}: {exc} at {dict(point)}") from None

    def _check(self, node: ast.AST, params: Mapping[str, object]) -> None:
        allowed: tuple[type[ast.AST], ...] = (
            ast.Compare,
            ast.BoolOp,
            ast.UnaryOp,
            ast.BinOp,
            ast.Name,
            ast.Constant,
            ast.Load,
        )
        allowed += (ast.And, ast.Or, ast.Not, ast.USub, *_COMPARE, *_ARITHMETIC)
        for child in ast.walk(node):
            if not isinstance(child, allowed):
                raise ConfigError(f"{self._where}: {type(child).__name__} is not allowed (compare parameters)")
            if isinstance(child, ast.Name) and child.id not in params:
                known = ", ".join(params) or "none"
                raise ConfigError(f"{self._where}: unknown parameter {child.id!r} (known: {known})")

    def _eval(self, node: ast.expr, point: Mapping[str, Value]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return point[node.id]
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, point)
            return not value if isinstance(node.op, ast.Not) else -value
        if isinstance(node, ast.BinOp):
            return _ARITHMETIC[type(node.op)](self._eval(node.left, point), self._eval(node.right, point))
        if isinstance(node, ast.BoolOp):
            values = (self._eval(v, point) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        assert isinstance(node, ast.Compare)
        return self._compare(node, point)

    def _compare(self, node: ast.Compare, point: Mapping[str, Value]) -> bool:
        left = self._eval(node.left, point)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self._eval(right_node, point)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
