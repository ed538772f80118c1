"""The recorder's guards: each stream's calls through a circuit breaker and a retry policy.

Until ``virtuoso.resilience`` is part of the build, calls go through unguarded.
"""

from __future__ import annotations

from virtuoso.exchange._config import RecordConfig
from virtuoso.exchange._session import GuardsFor


def guards_for(config: RecordConfig) -> GuardsFor | None:
    """The guard factory maker of ``config``'s ``[resilience]`` settings (``None``: unguarded calls)."""
    return None
