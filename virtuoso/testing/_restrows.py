"""Row faults: a trade page (or a depth body) with some rows wrong and the others intact.

Each fault spoils the page's middle row (or level), so a test can tell which it was; the
value a ``bad-values`` or ``missing`` fault uses turns with the request's ordinal.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from virtuoso.testing._wsfaults import GARBAGE

_TEN_YEARS_MS = 10 * 365 * 86_400_000
_RAW = {"id": "id", "price": "price", "qty": "qty", "time": "time"}
_AGG = {"id": "a", "price": "p", "qty": "q", "time": "T"}
_FIELDS = ("id", "price", "qty", "time")


class Spoiled(NamedTuple):
    """A page as served, the ids of the rows served wrong, and what was done."""

    rows: list[dict[str, Any]]
    ids: tuple[int, ...]
    detail: str


def spoil_page(rows: list[dict[str, Any]], action: str, turn: int) -> Spoiled:
    """``rows`` with the row fault ``action`` applied (``ids-repeat`` and ``unordered`` spoil no row)."""
    if not rows:
        return Spoiled(rows, (), "no rows to spoil")
    names = _AGG if "a" in rows[0] else _RAW
    middle = len(rows) // 2
    row = dict(rows[middle])
    real_id = int(row[names["id"]])
    if action == "ids-repeat":
        return Spoiled([*rows[: middle + 1], row, *rows[middle + 1 :]], (), f"id {real_id} sent twice")
    if action == "unordered":
        return Spoiled(rows[::-1], (), f"{len(rows)} rows in reverse order")
    detail = _spoil_row(row, names, action, turn, int(rows[0][names["id"]]))
    return Spoiled([*rows[:middle], row, *rows[middle + 1 :]], (real_id,), f"id {real_id}: {detail}")


def _spoil_row(row: dict[str, Any], names: dict[str, str], action: str, turn: int, first_id: int) -> str:
    if action == "missing":
        name = names[_FIELDS[turn % len(_FIELDS)]]
        del row[name]
        return f"no {name!r}"
    if action == "bad-values":
        name = names["price" if turn % 2 else "qty"]
        row[name] = GARBAGE[(turn // 2) % len(GARBAGE)]
        return f"{name} {row[name]}"
    if action == "ids-backwards":
        row[names["id"]] = first_id - 1
        return f"sent as id {first_id - 1}"
    name = names["time"]
    row[name] = int(row[name]) + (_TEN_YEARS_MS if turn % 2 else -_TEN_YEARS_MS)
    return f"{name} {row[name]}, ten years away"


def spoil_depth(body: dict[str, Any], action: str, turn: int) -> tuple[dict[str, Any], str] | None:
    """``body`` with one level spoiled (``missing``, ``bad-values``); None for faults that do not apply to a book."""
    if action not in ("missing", "bad-values"):
        return None
    side = "bids" if body["bids"] else "asks"
    levels = [list(level) for level in body[side]]
    if not levels:
        return None
    middle = len(levels) // 2
    if action == "missing":
        levels[middle] = levels[middle][:1]
        detail = f"{side} level {levels[middle][0]} has no size"
    else:
        value = GARBAGE[(turn // 2) % len(GARBAGE)]
        slot = turn % 2
        levels[middle][slot] = value
        detail = f"{side} level {middle}: {'size' if slot else 'price'} {value}"
    return {**body, side: levels}, detail
