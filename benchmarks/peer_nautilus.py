"""The NautilusTrader side of the peer cases: its ``BacktestEngine`` on the benchmark's trades.

Imported only when ``nautilus_trader`` is installed (the ``bench-peers`` extra; see
``test_peer_nautilus.py``). The trades are the benchmark workload's events turned
into NautilusTrader ``TradeTick`` objects once (untimed): the same prices, sizes,
aggressor sides, trade ids and times, on NautilusTrader's own BTCUSDT spot
instrument for Binance (``TestInstrumentProvider.btcusdt_binance()``: cents and
micro-BTC, like the workload). Each round builds a fresh engine (a cash account at
a ``BINANCE`` venue with 1,000,000 USDT, netting, the instrument, the ticks, one
strategy) untimed; the timed part is ``engine.run()``, the call a user makes.

Two strategies:

* :class:`NoOp` subscribes to the trade ticks and counts them: the engine's cost of
  delivering a tick (the counterpart of a replay to a no-op subscriber).
* :class:`RunningMean` is ``benchmarks.test_backtest.RunningMean`` written for
  NautilusTrader: the same exponential running mean of the price, the same band,
  a market buy of 0.01 when flat and above the band, a market sell when long and
  below it. Fills come from NautilusTrader's matching engine on the trade ticks.
"""

from __future__ import annotations

import warnings

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import BTC, USDT
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, TradeId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

from virtuoso.events import Event, Trade

VENUE = Venue("BINANCE")
INITIAL_USDT = 1_000_000


def instrument() -> Instrument:
    """NautilusTrader's BTCUSDT spot instrument on Binance (price precision 2, size precision 6)."""
    return TestInstrumentProvider.btcusdt_binance()


def trade_ticks(events: list[Event], on: Instrument) -> list[TradeTick]:
    """The trades among ``events`` as NautilusTrader trade ticks of ``on``: same values, same times."""
    ticks = []
    price_precision, size_precision = on.price_precision, on.size_precision
    for event in events:
        trade = event.payload
        if not isinstance(trade, Trade):
            continue
        aggressor = AggressorSide.BUYER if trade.side == "buy" else AggressorSide.SELLER
        ticks.append(
            TradeTick(
                on.id,
                Price(trade.price, price_precision),
                Quantity(trade.amount, size_precision),
                aggressor,
                TradeId(trade.trade_id),
                event.ts_event,
                event.ts_recv,
            )
        )
    return ticks


class NoOp(Strategy):
    """Subscribes to the instrument's trade ticks and counts them."""

    def __init__(self, instrument_id: InstrumentId) -> None:
        super().__init__()
        self.instrument_id = instrument_id
        self.ticks = 0

    def on_start(self) -> None:
        self.subscribe_trade_ticks(self.instrument_id)

    def on_trade_tick(self, tick: TradeTick) -> None:
        self.ticks += 1


class RunningMean(NoOp):
    """``benchmarks.test_backtest.RunningMean`` in NautilusTrader: the same mean, band and orders."""

    def __init__(self, instrument_id: InstrumentId, alpha: float = 0.001, band_bps: float = 0.5) -> None:
        super().__init__(instrument_id)
        self.alpha, self.band = alpha, band_bps / 10_000
        self.quantity = Quantity.from_str("0.010000")
        self.mean = 0.0
        self.long = False

    def on_trade_tick(self, tick: TradeTick) -> None:
        self.ticks += 1
        price = tick.price.as_double()
        mean = self.mean = self.mean + self.alpha * (price - self.mean) if self.mean else price
        if not self.long and price > mean * (1 + self.band):
            self.submit_order(self.order_factory.market(self.instrument_id, OrderSide.BUY, self.quantity))
            self.long = True
        elif self.long and price < mean * (1 - self.band):
            self.submit_order(self.order_factory.market(self.instrument_id, OrderSide.SELL, self.quantity))
            self.long = False


def engine_with(ticks: list[TradeTick], on: Instrument, strategy: NoOp) -> BacktestEngine:
    """A fresh engine holding the venue, the instrument, the ticks and ``strategy``, ready to ``run()``."""
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True)))
    engine.add_venue(
        VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=None,
        starting_balances=[Money(INITIAL_USDT, USDT), Money(0, BTC)],
    )
    engine.add_instrument(on)
    engine.add_data(ticks)
    engine.add_strategy(strategy)
    return engine


def run(engine: BacktestEngine) -> None:
    """``engine.run()``, quiet: NautilusTrader 1.221 calls pandas' deprecated ``Timestamp.utcnow`` (a warning
    under pandas 3, which the benchmarks' pytest settings would turn into an error)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Timestamp\.utcnow")
        engine.run()


def fills(engine: BacktestEngine) -> int:
    """The fills of the engine's run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Timestamp\.utcnow")
        return len(engine.trader.generate_order_fills_report())
