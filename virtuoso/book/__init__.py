"""The L2 order book: levels, the venue rules that keep a book built from snapshot + deltas exact,
checkpoints, and the book at any time of a recorded session (see ``docs/book.md``)."""

from virtuoso.book._book import BookSide, OrderBook
from virtuoso.book._builder import (
    EXCHANGE_RULES,
    BookBuilder,
    BookState,
    checkpoint_stream,
    rule_for_stream,
    symbol_of,
)
from virtuoso.book._query import (
    DEFAULT_CHECKPOINT_EVERY,
    CheckpointReport,
    book_at,
    find_book_stream,
    latest_checkpoint,
    replay_until,
    write_checkpoints,
)
from virtuoso.book._sync import DepthSync, Judgement, SyncRule, Verdict
from virtuoso.book._synthetic import SYNTHETIC_START_NS, synthetic_book_events

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "EXCHANGE_RULES",
    "SYNTHETIC_START_NS",
    "BookBuilder",
    "BookSide",
    "BookState",
    "CheckpointReport",
    "DepthSync",
    "Judgement",
    "OrderBook",
    "SyncRule",
    "Verdict",
    "book_at",
    "checkpoint_stream",
    "find_book_stream",
    "latest_checkpoint",
    "replay_until",
    "rule_for_stream",
    "symbol_of",
    "synthetic_book_events",
    "write_checkpoints",
]
