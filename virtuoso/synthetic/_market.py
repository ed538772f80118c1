"""The synthetic market: the mid, the takers and the book together, as the events of one session."""

from __future__ import annotations

import random
from collections.abc import Iterator

from virtuoso.events import Event, EventIdFactory, Payload, Side, Trade, stream_name
from virtuoso.synthetic._book import SyntheticBook
from virtuoso.synthetic._config import MarketConfig
from virtuoso.synthetic._processes import HawkesArrivals, MidPrice

FIRST_UPDATE_ID = 50_093_239_189
"""The update id of the opening snapshot."""
FIRST_TRADE_ID = 3_735_683_000
"""Trade ids count up from the one after this."""
_NS = 1_000_000_000


class SyntheticMarket:
    """A seeded market of one symbol: trades on ``<exchange>:<symbol>:trades`` and an L2 book (a
    ``BookSnapshot`` then ``BookDelta`` events by Binance spot's update-id rule) on ``<exchange>:<symbol>:book``.

    Each of the generator's parts draws from its own ``random.Random`` seeded by
    ``seed`` and the part's name, so the same config and seed give the same
    events, and no wall clock is read. ``docs/demo.md`` describes the model.

    >>> market = SyntheticMarket(MarketConfig(hours=0.01), seed=7)
    >>> events = list(market.events("s"))
    >>> events[0].type, events[0].payload.sequence, events[0].stream
    ('BookSnapshot', 50093239189, 'synthetic:BTC/USDT:book')
    >>> sorted({e.type for e in events})
    ['BookDelta', 'BookSnapshot', 'Trade']
    >>> events == list(SyntheticMarket(MarketConfig(hours=0.01), seed=7).events("s"))
    True
    """

    def __init__(self, config: MarketConfig | None = None, seed: int = 7) -> None:
        self.config = config if config is not None else MarketConfig()
        self.seed = seed
        self.trades_stream = stream_name(self.config.exchange, self.config.symbol, "trades")
        self.book_stream = stream_name(self.config.exchange, self.config.symbol, "book")

    def rng(self, part: str) -> random.Random:
        """The generator of one part of the model (``price``, ``arrivals``, ``takers``, ``book``, ``latency``)."""
        return random.Random(f"{self.seed}:{part}")

    def events(self, session: str) -> Iterator[Event]:
        """The session's market events in exchange-time order (trades strictly between book updates)."""
        stamp = _Stamper(session, self.rng("latency"))
        run = _Run(self, stamp)
        yield from run.opening()
        for step in range(1, self.config.duration_ns // self.config.step_ns + 1):
            yield from run.step(step)


class _Run:
    """One pass of the generator: its processes, book and trade ids."""

    def __init__(self, market: SyntheticMarket, stamp: _Stamper) -> None:
        config = market.config
        self.market = market
        self.config = config
        self.stamp = stamp
        self.mid = MidPrice(config, market.rng("price"))
        self.arrivals = HawkesArrivals(config, market.rng("arrivals"))
        self.takers = market.rng("takers")
        self.book = SyntheticBook(config, market.rng("book"), FIRST_UPDATE_ID)
        self.trade_id = FIRST_TRADE_ID

    def opening(self) -> Iterator[Event]:
        self.book.recentre(self.mid.price)
        yield self.stamp(self.market.book_stream, self.config.start_ns, self.book.snapshot())

    def step(self, step: int) -> Iterator[Event]:
        """Takers between the previous book update and this one, then the update."""
        step_ns, start_ns = self.config.step_ns, self.config.start_ns
        end_ns = start_ns + step * step_ns
        for at in self.arrivals.until(step * step_ns / _NS):
            ts = min(max(start_ns + round(at * _NS), end_ns - step_ns + 1), end_ns - 1)
            yield from self._taker(ts)
        self.book.recentre(self.mid.step(step_ns / _NS))
        delta = self.book.delta()
        if delta is not None:
            yield self.stamp(self.market.book_stream, end_ns, delta)

    def _taker(self, ts: int) -> Iterator[Event]:
        buy_odds = 0.5 + self.config.buy_bias * (1 if self.mid.drift > 0 else -1)
        side: Side = "buy" if self.takers.random() < buy_odds else "sell"
        prices, sizes = self.book.price_scale, self.book.size_scale
        for tick, units in self.book.take(side, self._units()):
            self.trade_id += 1
            trade = Trade(tick / prices, units / sizes, side, str(self.trade_id))
            yield self.stamp(self.market.trades_stream, ts, trade)

    def _units(self) -> int:
        """A taker's size in amount steps: Pareto above ``amount_min`` with tail ``amount_tail``, at most
        ``amount_max``."""
        config = self.config
        raw: float = config.amount_min * (1.0 - self.takers.random()) ** (-1.0 / config.amount_tail)
        return max(1, round(min(raw, config.amount_max) * self.book.size_scale))


class _Stamper:
    """Envelopes: one id factory per stream, and a seeded receive latency of 1-5 ms."""

    def __init__(self, session: str, rng: random.Random) -> None:
        self._session = session
        self._rng = rng
        self._ids: dict[str, EventIdFactory] = {}

    def __call__(self, stream: str, ts: int, payload: Payload) -> Event:
        ids = self._ids.get(stream)
        if ids is None:
            ids = self._ids[stream] = EventIdFactory(f"{self._session}:{stream}")
        latency = self._rng.randrange(1_000_000, 5_000_000)
        return Event(ids(ts), stream, ts, ts + latency, self._session, payload)


def synthetic_market_events(session: str, config: MarketConfig | None = None, seed: int = 7) -> Iterator[Event]:
    """The events of :class:`SyntheticMarket` ``(config, seed)`` for ``session`` (a shorthand)."""
    return SyntheticMarket(config, seed).events(session)
