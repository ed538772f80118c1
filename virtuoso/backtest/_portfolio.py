"""The portfolio: cash, a position per symbol with its average entry price, realized PnL and fees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from virtuoso.events import PositionChanged, Side

_DUST = 1e-12
"""A position this small (relative to the fill) after a fill is flat: float sums rarely land on 0 exactly."""


@dataclass(slots=True)
class Position:
    """Amount held (negative: short), average entry price of what is open, PnL realized so far (before fees)."""

    amount: float = 0.0
    average_price: float = 0.0
    realized_pnl: float = 0.0


class Portfolio:
    """Cash and positions, moved by fills only.

    >>> p = Portfolio(1_000.0)
    >>> p.apply_fill("BTC/USDT", "buy", 100.0, 2.0, fee=0.2).cash
    799.8
    >>> change = p.apply_fill("BTC/USDT", "sell", 110.0, 1.0, fee=0.11)
    >>> change.amount, change.average_price, change.realized_pnl, round(p.equity({"BTC/USDT": 120.0}), 2)
    (1.0, 100.0, 10.0, 1029.69)
    >>> p.realized_pnl, p.unrealized_pnl({"BTC/USDT": 120.0})
    (10.0, 20.0)
    """

    def __init__(self, initial_cash: float) -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.fees = 0.0
        self.positions: dict[str, Position] = {}

    def amount(self, symbol: str) -> float:
        """The amount held of ``symbol``."""
        position = self.positions.get(symbol)
        return position.amount if position is not None else 0.0

    def apply_fill(self, symbol: str, side: Side, price: float, amount: float, *, fee: float) -> PositionChanged:
        """Book one fill; the position it leaves."""
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position()
        signed = amount if side == "buy" else -amount
        _move(position, signed, price)
        self.cash -= signed * price + fee
        self.fees += fee
        return PositionChanged(
            symbol, position.amount, position.average_price, position.realized_pnl, self.cash, self.fees
        )

    @property
    def realized_pnl(self) -> float:
        """PnL realized so far, every symbol, before fees."""
        return sum((position.realized_pnl for position in self.positions.values()), 0.0)

    def unrealized_pnl(self, prices: Mapping[str, float]) -> float:
        """What the open positions would realize at ``prices`` (nothing where ``prices`` has no price)."""
        total = 0.0
        for symbol, position in self.positions.items():
            if position.amount and symbol in prices:
                total += position.amount * (prices[symbol] - position.average_price)
        return total

    def equity(self, prices: Mapping[str, float]) -> float:
        """Cash plus each position at ``prices`` (at its entry price when ``prices`` has none)."""
        total = self.cash
        for symbol, position in self.positions.items():
            if position.amount:
                total += position.amount * prices.get(symbol, position.average_price)
        return total


def _move(position: Position, signed: float, price: float) -> None:
    """Add ``signed`` (positive buys) at ``price``: extend, reduce, close or flip the position."""
    held = position.amount
    if held == 0 or (held > 0) == (signed > 0):
        total = held + signed
        position.average_price = (abs(held) * position.average_price + abs(signed) * price) / abs(total)
        position.amount = total
        return
    closed = min(abs(signed), abs(held))
    position.realized_pnl += closed * (price - position.average_price) * (1 if held > 0 else -1)
    total = held + signed
    if abs(total) <= _DUST * max(1.0, abs(signed)):
        position.amount, position.average_price = 0.0, 0.0
    elif (total > 0) != (held > 0):
        position.amount, position.average_price = total, price  # flipped: the rest opens at this price
    else:
        position.amount = total
