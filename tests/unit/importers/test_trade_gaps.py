"""Trade-id gaps found a block at a time agree with the row-by-row check: same gaps, same rows, same state after."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from virtuoso.events import Gap
from virtuoso.importers._output import Continuity, Output

LOW, HIGH = -(2**63), 2**63 - 1
_ids = st.one_of(st.integers(100, 130), st.sampled_from([LOW, LOW + 1, HIGH - 1, HIGH, 0, -5]))


def _row_by_row(blocks: list[list[int]], resumed: dict[str, tuple[int, int]]) -> tuple[list[tuple[int, Gap]], dict]:
    out, continuity = Output("s", "k"), Continuity()
    continuity.resume(resumed)
    continuity.attach(out)
    found = []
    for block_number, block in enumerate(blocks):
        for row, trade_id in enumerate(block):
            continuity.trade("t", "g", trade_id, 1_000 * block_number + row, 0)
            found.extend((block_number * 1_000 + row, e.payload) for e in out.take())
    return found, continuity.cursors()


def _bulk(blocks: list[list[int]], resumed: dict[str, tuple[int, int]]) -> tuple[list[tuple[int, Gap]], dict]:
    continuity = Continuity()
    continuity.resume(resumed)
    found = []
    for block_number, block in enumerate(blocks):
        times = np.arange(len(block), dtype=np.int64) + 1_000 * block_number
        gaps = continuity.trade_gaps("t", "g", np.array(block, dtype=np.int64), times)
        found.extend((block_number * 1_000 + row, gap) for row, gap in gaps)
    return found, continuity.cursors()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_ids, min_size=1, max_size=15), min_size=1, max_size=3),
    st.one_of(st.just({}), st.builds(lambda i: {"t": (i, 7)}, st.integers(95, 125))),
)
def test_gaps_of_a_block_are_the_gaps_row_by_row(blocks: list[list[int]], resumed: dict) -> None:
    assert _bulk(blocks, resumed) == _row_by_row(blocks, resumed)
