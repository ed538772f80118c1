"""The market rules and fees the simulated venue applies: configured, recorded in the log, or the defaults.

Per symbol, the rules (tick size, amount step, minimum amount and notional) are

1. the venue config's ``markets`` entry for the symbol, when it has one (an explicit setting wins);
2. else the market of the latest ``MarketsLoaded`` event replayed so far, unless ``use_recorded_markets``
   is off;
3. else the config's ``default_market``.

A recorded market marked inactive (suspended, delisted) takes no orders, unless the config has explicit rules for it.

Fees are the recorded market's ``maker_fee_bps``/``taker_fee_bps`` when it has them (and neither
``use_recorded_markets`` nor ``use_recorded_fees`` is off), else the config's. Markets are keyed by symbol
alone: a backtest trades one venue's symbols.
"""

from __future__ import annotations

from virtuoso.backtest._config import MarketRules, VenueConfig
from virtuoso.events import Liquidity, Market, MarketsLoaded

Fees = dict[Liquidity, float]
"""Fee rates (fractions of the notional) by liquidity."""


class MarketRulebook:
    """The rules and fee rates in force for each symbol, as the replay reaches ``MarketsLoaded`` events.

    >>> from virtuoso.events import markets_hash
    >>> book = MarketRulebook(VenueConfig(taker_fee_bps=10.0, markets={"ETH/USDT": MarketRules(tick_size=0.5)}))
    >>> book.rules_for("BTC/USDT").tick_size, book.fees_for("BTC/USDT")["taker"]
    (0.0, 0.001)
    >>> btc = Market(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=0.1, taker_fee_bps=4.0)
    >>> eth = Market(symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=0.01)
    >>> book.on_markets(MarketsLoaded("binance", (btc, eth), markets_hash((btc, eth))))
    >>> book.rules_for("BTC/USDT").tick_size, book.fees_for("BTC/USDT")["taker"], book.rules_for("ETH/USDT").tick_size
    (0.1, 0.0004, 0.5)
    """

    def __init__(self, config: VenueConfig) -> None:
        self._config = config
        self._use_rules = config.use_recorded_markets
        self._use_fees = config.use_recorded_markets and config.use_recorded_fees
        self._default_fees: Fees = {"maker": config.maker_fee_bps / 10_000, "taker": config.taker_fee_bps / 10_000}
        self._recorded: dict[str, Market] = {}
        self._rules: dict[str, MarketRules] = {}
        self._fees: dict[str, Fees] = {}

    def on_markets(self, loaded: MarketsLoaded) -> None:
        """Put the markets of ``loaded`` in force (those it does not name keep theirs)."""
        if not self._use_rules:
            return
        for market in loaded.markets:
            self._recorded[market.symbol] = market
        self._rules.clear()
        self._fees.clear()

    def recorded(self, symbol: str) -> Market | None:
        """The recorded market of ``symbol`` in force now (``None`` before any, or when the log is ignored)."""
        return self._recorded.get(symbol)

    def halted(self, symbol: str) -> bool:
        """Whether the recorded market of ``symbol`` in force now is inactive (and no explicit rules override it)."""
        market = self._recorded.get(symbol)
        return market is not None and not market.active and symbol not in self._config.markets

    def rules_for(self, symbol: str) -> MarketRules:
        """The rules an order for ``symbol`` must meet now."""
        rules = self._rules.get(symbol)
        if rules is None:
            rules = self._rules[symbol] = self._resolve_rules(symbol)
        return rules

    def _resolve_rules(self, symbol: str) -> MarketRules:
        explicit = self._config.markets.get(symbol)
        if explicit is not None:
            return explicit
        market = self._recorded.get(symbol)
        if market is None:
            return self._config.default_market
        return MarketRules(
            tick_size=market.tick_size, amount_step=market.amount_step,
            min_amount=market.min_amount, min_notional=market.min_notional,
        )  # fmt: skip

    def fees_for(self, symbol: str) -> Fees:
        """The fee rates of ``symbol`` now."""
        fees = self._fees.get(symbol)
        if fees is None:
            fees = self._fees[symbol] = self._resolve_fees(symbol)
        return fees

    def _resolve_fees(self, symbol: str) -> Fees:
        market = self._recorded.get(symbol) if self._use_fees else None
        if market is None:
            return self._default_fees
        maker, taker = market.maker_fee_bps, market.taker_fee_bps
        return {
            "maker": self._default_fees["maker"] if maker is None else maker / 10_000,
            "taker": self._default_fees["taker"] if taker is None else taker / 10_000,
        }
