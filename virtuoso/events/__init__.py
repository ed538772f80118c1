"""Typed events: payload structs, the envelope, the type registry and upcasters.

>>> from virtuoso.events import REGISTRY, Trade
>>> REGISTRY.class_for("Trade") is Trade
True
"""

from virtuoso.events._analysis import ConfluenceScore, IndicatorValue, Signal, Stance
from virtuoso.events._checked import (
    CheckedEvents,
    EventRun,
    FieldColumn,
    Problem,
    TradeColumns,
    check_events,
    checked_trades,
    first_problem,
)
from virtuoso.events._envelope import Event, EventIdFactory, encode_payload, events_of, stream_name
from virtuoso.events._market import Bar, BookDelta, BookSnapshot, Level, Quote, Side, Ticker, Trade, trades_of
from virtuoso.events._markets import Market, MarketsLoaded, MarketsSource, MarketType, markets_hash
from virtuoso.events._orders import (
    EquityMarked,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderKind,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    TimeInForce,
)
from virtuoso.events._recording import ChannelRestarted, PayloadRejected
from virtuoso.events._registry import REGISTRY, Kind, Payload, TypeRegistry, Upcaster, event_type
from virtuoso.events._resilience import BreakerState, BreakerStateChanged, ComponentHealth, HealthReported, HealthStatus
from virtuoso.events._rules import RULES, event_problem, payload_problem
from virtuoso.events._system import FileImported, Gap, Note, SessionEnded, SessionResumed, SessionStarted

__all__ = [
    "REGISTRY",
    "RULES",
    "Bar",
    "BookDelta",
    "BookSnapshot",
    "BreakerState",
    "BreakerStateChanged",
    "ChannelRestarted",
    "CheckedEvents",
    "ComponentHealth",
    "ConfluenceScore",
    "EquityMarked",
    "Event",
    "EventIdFactory",
    "EventRun",
    "FieldColumn",
    "FileImported",
    "Gap",
    "HealthReported",
    "HealthStatus",
    "IndicatorValue",
    "Kind",
    "Level",
    "Liquidity",
    "Market",
    "MarketType",
    "MarketsLoaded",
    "MarketsSource",
    "Note",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderKind",
    "OrderRejected",
    "OrderSubmitted",
    "Payload",
    "PayloadRejected",
    "PositionChanged",
    "Problem",
    "Quote",
    "SessionEnded",
    "SessionResumed",
    "SessionStarted",
    "Side",
    "Signal",
    "Stance",
    "Ticker",
    "TimeInForce",
    "Trade",
    "TradeColumns",
    "TypeRegistry",
    "Upcaster",
    "check_events",
    "checked_trades",
    "encode_payload",
    "event_problem",
    "event_type",
    "events_of",
    "first_problem",
    "markets_hash",
    "payload_problem",
    "stream_name",
    "trades_of",
]
