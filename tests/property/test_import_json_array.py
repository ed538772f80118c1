"""The incremental JSON array reader of ccxt-json agrees with ``json.loads`` on any array, however laid out."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.importers._source import json_array_items

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(values, max_size=12),
    indent=st.none() | st.integers(min_value=0, max_value=3),
    blank=st.sampled_from(["", "\n", "  \n\t"]),
)
def test_items_and_their_first_lines(items: list[Any], indent: int | None, blank: str) -> None:
    text = blank + json.dumps(items, indent=indent) + blank
    read = list(json_array_items(io.BytesIO(text.encode()), "x.json"))

    assert [value for _, value in read] == items
    lines = [line for line, _ in read]
    assert lines == sorted(lines)
    for line, value in read:
        # The item's own text starts on that line.
        first = json.dumps(value, indent=indent).split("\n")[0]
        assert first in text.split("\n")[line - 1]
