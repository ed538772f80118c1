"""Building blocks for backtest tests: market events, a scripted strategy, and the engine driven directly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from virtuoso.analysis import AnalyzerPipeline
from virtuoso.backtest import BacktestEngine, Strategy, VenueConfig
from virtuoso.events import (
    BookDelta,
    BookSnapshot,
    EquityMarked,
    Event,
    Level,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    Payload,
    PositionChanged,
    Trade,
)

SYMBOL = "BTC/USDT"
TRADES = "binance:BTC/USDT:trades"
BOOK = "binance:BTC/USDT:book"
T0 = 1_700_000_000_000_000_000
MS = 1_000_000
SECOND = 1_000 * MS

P = TypeVar("P", bound=Payload)
Action = Callable[[Strategy], object]

# Venue settings with every cost and rule off; tests switch on the one they are about.
FREE = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, "slippage_bps": 0.0, "latency": {"ms": 0.0}}


def venue(**settings: Any) -> VenueConfig:
    """A venue config: :data:`FREE` overridden by ``settings``."""
    return VenueConfig.from_mapping({**FREE, **settings})


def trade(ms: float, price: float, amount: float = 1.0, side: str = "buy") -> tuple[int, str, Payload]:
    """A recorded trade ``ms`` milliseconds after :data:`T0` (``side`` is the taker's)."""
    return (T0 + int(ms * MS), TRADES, Trade(price, amount, side, f"t{ms}"))  # type: ignore[arg-type]


def snapshot(
    ms: float, bids: Sequence[Level] = (), asks: Sequence[Level] = (), sequence: int = 10
) -> tuple[int, str, Payload]:
    """A book snapshot (Binance spot sync: the next delta starts at ``sequence + 1``)."""
    return (T0 + int(ms * MS), BOOK, BookSnapshot(tuple(bids), tuple(asks), sequence))


def delta(
    ms: float, bids: Sequence[Level] = (), asks: Sequence[Level] = (), sequence: int = 11
) -> tuple[int, str, Payload]:
    """A book delta with update ids ``sequence..sequence`` (chains onto ``sequence - 1``)."""
    return (T0 + int(ms * MS), BOOK, BookDelta(tuple(bids), tuple(asks), sequence, sequence))


def events(rows: Iterable[tuple[int, str, Payload]]) -> list[Event]:
    """Envelopes for ``rows``, at positions 1, 2, ... (as the store would give them)."""
    return [
        Event(f"e{i}", stream, ts, ts, "s", payload, position=i)
        for i, (ts, stream, payload) in enumerate(rows, start=1)
    ]


class Scripted(Strategy):
    """A test double of a user's strategy: runs ``plan[i]`` after the venue took the i-th market event (from 0).

    It records the order ids it got, its fills, and the books and signals it was shown.
    """

    def __init__(self, plan: dict[int, Action | Sequence[Action]] | None = None) -> None:
        super().__init__()
        self.plan = plan or {}
        self.seen = 0
        self.ids: list[str] = []
        self.fills: list[OrderFilled] = []
        self.books: list[tuple[int, list[Level], list[Level]]] = []
        self.signals: list[Payload] = []

    def on_event(self, event: Event) -> None:
        super().on_event(event)
        if event.causation is not None:
            return
        actions = self.plan.get(self.seen, ())
        self.seen += 1
        for action in actions if isinstance(actions, Sequence) else (actions,):
            result = action(self)
            if isinstance(result, str):
                self.ids.append(result)

    def on_book(self, event: Event, book: Any) -> None:
        self.books.append((event.position, book.bids(), book.asks()))

    def on_signal(self, event: Event, signal: Any) -> None:
        self.signals.append(signal)

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


@dataclass
class Run:
    """One backtest driven event by event: the engine and what it put out."""

    engine: BacktestEngine
    strategy: Strategy
    output: list[Event] = field(default_factory=list)

    @property
    def ledger(self) -> list[Event]:
        return self.engine.ledger

    def of(self, cls: type[P]) -> list[P]:
        """The ledger payloads of type ``cls``, in order."""
        return [e.payload for e in self.ledger if isinstance(e.payload, cls)]  # type: ignore[misc]

    def events_of(self, cls: type[Payload]) -> list[Event]:
        return [e for e in self.ledger if isinstance(e.payload, cls)]

    @property
    def fills(self) -> list[OrderFilled]:
        return self.of(OrderFilled)

    @property
    def cash(self) -> float:
        return self.engine.portfolio.cash

    @property
    def position(self) -> float:
        return self.engine.portfolio.amount(SYMBOL)

    def status(self, order_id: str) -> list[str]:
        """The ledger's story of one order, as payload type names."""
        kinds = (OrderSubmitted, OrderAccepted, OrderFilled, OrderCanceled, OrderRejected)
        return [type(e.payload).__name__ for e in self.ledger if isinstance(e.payload, kinds) and _id(e) == order_id]


def _id(event: Event) -> str:
    return event.payload.order_id  # type: ignore[attr-defined, no-any-return]


def run(
    strategy: Strategy,
    rows: Iterable[tuple[int, str, Payload]],
    config: VenueConfig | None = None,
    *,
    seed: int = 0,
    pipeline: AnalyzerPipeline | None = None,
    finish: bool = True,
) -> Run:
    """Drive a :class:`BacktestEngine` over ``rows`` (each event once, in order), then finish it."""
    output: list[Event] = []
    engine = BacktestEngine(
        strategy, config or venue(), symbol=SYMBOL, seed=seed, pipeline=pipeline, output=output.extend
    )
    result = Run(engine, strategy, output)
    engine.start()
    for event in events(rows):
        result.engine(event)
    if finish:
        result.engine.finish()
    return result


def marks(result: Run) -> list[tuple[int, EquityMarked]]:
    """The equity marks as ``(ms after T0, payload)``."""
    return [((e.ts_event - T0) // MS, e.payload) for e in result.ledger if isinstance(e.payload, EquityMarked)]


def positions(result: Run) -> list[PositionChanged]:
    return result.of(PositionChanged)
