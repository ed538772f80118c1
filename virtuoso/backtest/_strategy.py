"""The Strategy API: callbacks a backtest calls, and the orders, cancels and reads a strategy makes.

A strategy is a class: :class:`Strategy` with a frozen :class:`StrategyConfig`
(its parameters, hashed into the run's manifest) and the callbacks it cares
about. Everything it can do goes through the methods of the base class, which
the engine binds when the backtest starts; time is the exchange time of the
event being handled (:attr:`Strategy.now_ns`).

>>> class BuyTheFirstTrade(Strategy):
...     def on_trade(self, event, trade):
...         if not self.position() and not self.open_orders():
...             self.buy(0.01)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from virtuoso.errors import ConfigError, UsageError
from virtuoso.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    ConfluenceScore,
    Event,
    IndicatorValue,
    OrderFilled,
    Side,
    Signal,
    TimeInForce,
    Trade,
)
from virtuoso.store import config_hash

if TYPE_CHECKING:
    from virtuoso.backtest._engine import BacktestEngine
    from virtuoso.backtest._orders import Order
    from virtuoso.book import OrderBook


class StrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of strategy parameters: frozen, built from a mapping (a TOML table or ``--param`` pairs), hashed.

    ``symbol`` is the one the strategy trades (``""``: the session's only traded symbol).

    >>> class Params(StrategyConfig, frozen=True, kw_only=True):
    ...     period: int = 20
    >>> Params.from_mapping({"period": "9"}).period, Params().hash() == Params(period=20).hash()
    (9, True)
    >>> Params.from_mapping({"perod": 9})
    Traceback (most recent call last):
    virtuoso.errors.ConfigError: strategy parameters: unknown parameter 'perod' (known: period, symbol)
    """

    symbol: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The parameters as plain values (what the run manifest records)."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values

    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`as_dict`."""
        return config_hash(self.as_dict())

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StrategyConfig:
        """The config of ``values``; text values (``--param period=9``) are converted to the field's type,
        and text for a list field is split at commas (``--param timeframes=1m,5m``)."""
        known = sorted(cls.__struct_fields__)
        for name in values:
            if name not in known:
                raise ConfigError(f"strategy parameters: unknown parameter {name!r} (known: {', '.join(known)})")
        lists = {field.name for field in msgspec.structs.fields(cls) if _is_collection(field.type)}
        split = {
            name: [part.strip() for part in value.split(",") if part.strip()]
            if name in lists and isinstance(value, str) else value
            for name, value in values.items()
        }  # fmt: skip
        try:
            return msgspec.convert(split, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"strategy parameters: {exc}") from None


def _is_collection(kind: Any) -> bool:
    """Whether a field of type ``kind`` holds several values (a list, tuple or set, optional or not)."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple, set, frozenset):
        return True
    return origin in (typing.Union, types.UnionType) and any(_is_collection(arg) for arg in typing.get_args(kind))


_SIGNALS = (Signal, ConfluenceScore, IndicatorValue)


class Strategy:
    """Base class of strategies: override the callbacks you need; act through the methods below.

    Callbacks, in the order of the log (exchange time): :meth:`on_start`, then
    for each event :meth:`on_event`, which by default calls :meth:`on_trade`,
    :meth:`on_bar`, :meth:`on_book` (after the venue's book took the update) or
    :meth:`on_signal` (analyzer outputs: ``Signal``, ``ConfluenceScore``,
    ``IndicatorValue``); :meth:`on_fill` for each fill of its orders; then
    :meth:`on_stop`. ``analyzers`` names the analyzers the strategy needs (an
    ``--analyzers`` value, see ``docs/analysis.md``).
    """

    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    analyzers: ClassVar[str] = "none"

    def __init__(self, config: StrategyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise UsageError(f"{type(self).__name__} takes a {self.Config.__name__}, not {type(self.config).__name__}")
        self._engine: BacktestEngine | None = None

    @classmethod
    def analyzers_for(cls, config: StrategyConfig) -> str | list[dict[str, Any]]:
        """The analyzers a backtest of this strategy runs unless told otherwise (``analyzers`` by default)."""
        return cls.analyzers

    # -- callbacks ---------------------------------------------------------------------

    def on_start(self) -> None:
        """Called once, before the first event."""

    def on_event(self, event: Event) -> None:
        """Called for every market event and analyzer output; dispatches to the typed callbacks."""
        payload = event.payload
        if isinstance(payload, Trade):
            self.on_trade(event, payload)
        elif isinstance(payload, Bar):
            self.on_bar(event, payload)
        elif isinstance(payload, (BookSnapshot, BookDelta)):
            book = self.book(_symbol_of(event.stream))
            if book is not None:
                self.on_book(event, book)
        elif isinstance(payload, _SIGNALS):
            self.on_signal(event, payload)

    def on_trade(self, event: Event, trade: Trade) -> None:
        """A recorded trade."""

    def on_bar(self, event: Event, bar: Bar) -> None:
        """A bar (recorded, or from the ``bars`` analyzer)."""

    def on_book(self, event: Event, book: OrderBook) -> None:
        """The book of the event's symbol, after the update ``event`` carried."""

    def on_signal(self, event: Event, signal: Signal | ConfluenceScore | IndicatorValue) -> None:
        """An analyzer output."""

    def on_fill(self, fill: OrderFilled) -> None:
        """One of this strategy's orders (partly) filled."""

    def on_stop(self) -> None:
        """Called once, after the last event (orders sent now never arrive; open orders stay open)."""

    # -- actions -----------------------------------------------------------------------

    def buy(
        self, amount: float, price: float | None = None, *, symbol: str = "", time_in_force: TimeInForce = "GTC"
    ) -> str:
        """Submit a buy (market without ``price``, limit with it); the order's id."""
        return self.submit("buy", amount, price, symbol=symbol, time_in_force=time_in_force)

    def sell(
        self, amount: float, price: float | None = None, *, symbol: str = "", time_in_force: TimeInForce = "GTC"
    ) -> str:
        """Submit a sell (market without ``price``, limit with it); the order's id."""
        return self.submit("sell", amount, price, symbol=symbol, time_in_force=time_in_force)

    def submit(
        self, side: Side, amount: float, price: float | None = None, *, symbol: str = "",
        time_in_force: TimeInForce = "GTC",
    ) -> str:  # fmt: skip
        """Submit an order; it reaches the venue after the latency, which may still reject it (see the log)."""
        return self._bound().submit(side, amount, price, symbol or self.symbol, time_in_force)

    def cancel(self, order_id: str) -> None:
        """Cancel an order (it reaches the venue after the latency, like an order)."""
        self._bound().cancel(order_id)

    def cancel_all(self, symbol: str = "") -> None:
        """Cancel every open order (of ``symbol`` when given)."""
        for order in self.open_orders(symbol):
            self.cancel(order.id)

    # -- reads -------------------------------------------------------------------------

    @property
    def symbol(self) -> str:
        """The symbol this strategy trades."""
        return self._bound().symbol

    @property
    def now_ns(self) -> int:
        """The exchange time of the event being handled."""
        return self._bound().now_ns

    @property
    def cash(self) -> float:
        """Cash, quote currency (what resting buy orders reserve included)."""
        return self._bound().portfolio.cash

    def position(self, symbol: str = "") -> float:
        """The amount held of ``symbol`` (the strategy's symbol by default); negative when short."""
        return self._bound().portfolio.amount(symbol or self.symbol)

    def equity(self) -> float:
        """Cash plus positions at their last prices."""
        engine = self._bound()
        return engine.portfolio.equity(engine.venue.prices())

    def book(self, symbol: str = "") -> OrderBook | None:
        """The venue's current book of ``symbol`` (``None`` when the session records none). Read-only."""
        return self._bound().venue.book(symbol or self.symbol)

    def last_price(self, symbol: str = "") -> float | None:
        """The last recorded trade price of ``symbol`` (its last bar's close when it has no trades)."""
        venue, wanted = self._bound().venue, symbol or self.symbol
        last = venue.last_prices.get(wanted)
        return last if last is not None else venue.prices().get(wanted)

    def open_orders(self, symbol: str = "") -> list[Order]:
        """Orders sent and not yet filled, canceled or rejected (``symbol``'s when given), oldest first."""
        return self._bound().venue.open_orders(symbol)

    def _bound(self) -> BacktestEngine:
        if self._engine is None:
            raise UsageError(f"{type(self).__name__} is not running in a backtest")
        return self._engine


def _symbol_of(stream: str) -> str:
    parts = stream.split(":")
    return parts[1] if len(parts) >= 3 else ""
