"""The EventBus and what sits on it: the EventPublisher adapters use, and the StoreRecorder sink.

Dispatch is synchronous and deterministic (priority, then subscription order);
asynchronous work goes through :mod:`virtuoso.processing`. A failing handler
becomes a :class:`HandlerFailed` event instead of stopping the others.
"""

from virtuoso.bus._bus import EventBus, TimeField
from virtuoso.bus._failures import FailurePolicy, HandlerFailed, describe_error, failure_event, handler_name
from virtuoso.bus._patterns import BatchHandler, Handler, Subscription, is_async_callable
from virtuoso.bus._publisher import CHANNELS, EventPublisher
from virtuoso.bus._recorder import StoreRecorder

__all__ = [
    "CHANNELS",
    "BatchHandler",
    "EventBus",
    "EventPublisher",
    "FailurePolicy",
    "Handler",
    "HandlerFailed",
    "StoreRecorder",
    "Subscription",
    "TimeField",
    "describe_error",
    "failure_event",
    "handler_name",
    "is_async_callable",
]
