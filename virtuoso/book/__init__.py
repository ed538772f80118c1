"""The L2 order book: levels, and the venue rules that keep a book built from snapshot + deltas exact."""

from virtuoso.book._sync import DepthSync, Judgement, SyncRule, Verdict

__all__ = ["DepthSync", "Judgement", "SyncRule", "Verdict"]
