"""A seeded synthetic market for demos and tests: trades with bursty (self-exciting) arrivals around a
mid price that trends in regimes and mean-reverts, and a consistent L2 book as snapshot + deltas.

>>> from virtuoso.synthetic import MarketConfig, synthetic_market_events
>>> events = list(synthetic_market_events("session", MarketConfig(hours=0.05), seed=1))
>>> sorted({e.stream for e in events})
['synthetic:BTC/USDT:book', 'synthetic:BTC/USDT:trades']

See ``docs/demo.md`` for the model and its parameters.
"""

from virtuoso.synthetic._book import SyntheticBook
from virtuoso.synthetic._config import DEMO_START_NS, MarketConfig
from virtuoso.synthetic._market import FIRST_TRADE_ID, FIRST_UPDATE_ID, SyntheticMarket, synthetic_market_events
from virtuoso.synthetic._processes import HawkesArrivals, MidPrice

__all__ = [
    "DEMO_START_NS",
    "FIRST_TRADE_ID",
    "FIRST_UPDATE_ID",
    "HawkesArrivals",
    "MarketConfig",
    "MidPrice",
    "SyntheticBook",
    "SyntheticMarket",
    "synthetic_market_events",
]
