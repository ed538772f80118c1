"""ledger_frames: the orders, fills, positions and equity frames of a run's events."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.unit.backtest._ledger import BTC, ETH, MINUTE, T0, Ledger, round_trip
from virtuoso.backtest._frames import FILL_COLUMNS, ORDER_COLUMNS, POSITION_COLUMNS, ledger_frames
from virtuoso.events import Trade


def order_lifecycles() -> Ledger:
    """A filled order (two partial fills), a partly filled then canceled one, a rejected one, a resting one."""
    ledger = Ledger()
    ledger.submit(T0, "o1", "buy", 2.0, 100.0)
    ledger.accept(T0 + 1_000, "o1")
    ledger.fill(T0 + 2_000, "o1", "buy", 100.0, 0.5, fee=0.05, remaining=1.5, liquidity="maker")
    ledger.submit(T0 + 3_000, "o2", "sell", 1.0, 120.0, tif="IOC")
    ledger.fill(T0 + 4_000, "o1", "buy", 99.0, 1.5, fee=0.1, remaining=0.0, liquidity="maker")
    ledger.fill(T0 + 5_000, "o2", "sell", 120.0, 0.25, fee=0.03, remaining=0.75)
    ledger.cancel(T0 + 5_000, "o2", 0.75, "IOC remainder")
    ledger.submit(T0 + 6_000, "o3", "buy", 5.0)
    ledger.reject(T0 + 7_000, "o3", "insufficient cash")
    ledger.submit(T0 + 8_000, "o4", "buy", 1.0, 90.0)
    ledger.accept(T0 + 9_000, "o4")
    return ledger


def test_orders_status_filled_average_price_and_reason() -> None:
    orders = ledger_frames(order_lifecycles().events).orders.set_index("order_id")
    assert list(orders.index) == ["o1", "o2", "o3", "o4"]
    assert list(orders["status"]) == ["filled", "canceled", "rejected", "open"]
    assert list(orders["filled"]) == [2.0, 0.25, 0.0, 0.0]
    assert orders.loc["o1", "average_price"] == pytest.approx((0.5 * 100.0 + 1.5 * 99.0) / 2.0)
    assert orders.loc["o2", "average_price"] == 120.0
    assert math.isnan(orders.loc["o3", "average_price"])
    assert list(orders["fees"]) == pytest.approx([0.15, 0.03, 0.0, 0.0])
    assert list(orders["reason"]) == ["", "IOC remainder", "insufficient cash", ""]


def test_orders_keep_the_submission() -> None:
    orders = ledger_frames(order_lifecycles().events).orders
    first, market = orders.iloc[0], orders.iloc[2]
    assert (first["symbol"], first["side"], first["kind"], first["amount"], first["price"]) == (
        BTC,
        "buy",
        "limit",
        2.0,
        100.0,
    )
    assert (market["kind"], market["time_in_force"]) == ("market", "GTC")
    assert math.isnan(market["price"])
    assert orders.iloc[1]["time_in_force"] == "IOC"
    assert list(orders["submitted_ns"]) == [T0, T0 + 3_000, T0 + 6_000, T0 + 8_000]
    assert list(orders["arrives_ns"]) == [T0 + 1_000, T0 + 4_000, T0 + 7_000, T0 + 9_000]
    assert orders.iloc[0]["submitted"] == pd.Timestamp("2024-08-09T00:00:00", tz="UTC")
    assert str(orders["submitted"].dtype) == "datetime64[ns, UTC]"


def test_fills_in_event_order_with_notional() -> None:
    fills = ledger_frames(order_lifecycles().events).fills
    assert list(fills["order_id"]) == ["o1", "o1", "o2"]
    assert list(fills["ts_ns"]) == [T0 + 2_000, T0 + 4_000, T0 + 5_000]
    assert list(fills["notional"]) == pytest.approx([50.0, 148.5, 30.0])
    assert list(fills["remaining"]) == [1.5, 0.0, 0.75]
    assert list(fills["liquidity"]) == ["maker", "maker", "taker"]
    assert fills["ts"].iloc[2] == pd.Timestamp(T0 + 5_000, unit="ns", tz="UTC")
    assert list(fills.columns) == list(FILL_COLUMNS)


def test_positions_one_row_per_change() -> None:
    positions = ledger_frames(round_trip().events).positions
    assert list(positions.columns) == list(POSITION_COLUMNS)
    assert positions[["amount", "average_price", "realized_pnl", "cash", "fees"]].values.tolist() == [
        [1.0, 100.0, 0.0, 899.9, 0.1],
        [0.0, 0.0, 10.0, 1009.79, 0.21],
    ]
    assert list(positions["ts_ns"]) == [T0 + 1_000, T0 + 2 * MINUTE + 1_000]


def test_equity_indexed_by_utc_time_with_a_column_pair_per_symbol() -> None:
    ledger = Ledger()
    ledger.mark(T0, 1000.0, 1000.0, {BTC: 100.0})
    ledger.mark(T0 + MINUTE, 1001.0, 900.0, {BTC: 101.0, ETH: 10.0}, {BTC: 1.0})
    ledger.mark(T0 + 2 * MINUTE, 1003.0, 890.0, {BTC: 102.0, ETH: 11.0}, {BTC: 1.0, ETH: 0.5})
    equity = ledger_frames(ledger.events).equity
    assert list(equity.columns) == [
        "ts_ns", "equity", "cash", "realized_pnl", "unrealized_pnl",
        f"price:{BTC}", f"price:{ETH}", f"position:{BTC}", f"position:{ETH}",
    ]  # fmt: skip
    assert equity.index.name == "ts"
    assert str(equity.index.dtype) == "datetime64[ns, UTC]"
    assert equity.index[1] == pd.Timestamp("2024-08-09T00:01:00", tz="UTC")
    assert list(equity["equity"]) == [1000.0, 1001.0, 1003.0]
    assert math.isnan(equity[f"price:{ETH}"].iloc[0])
    assert list(equity[f"position:{ETH}"]) == [0.0, 0.0, 0.5]
    assert list(equity[f"position:{BTC}"]) == [0.0, 1.0, 1.0]


def test_other_event_types_are_ignored() -> None:
    ledger = round_trip()
    ledger.add(f"binance:{BTC}:trades", T0, Trade(100.0, 1.0, "buy", "t1"))
    frames = ledger_frames(ledger.events)
    assert (len(frames.orders), len(frames.fills), len(frames.positions), len(frames.equity)) == (2, 2, 2, 4)


def test_empty_input_gives_empty_frames_with_columns_and_dtypes() -> None:
    frames = ledger_frames([])
    for frame, schema in (
        (frames.orders, ORDER_COLUMNS),
        (frames.fills, FILL_COLUMNS),
        (frames.positions, POSITION_COLUMNS),
    ):
        assert frame.empty
        assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
            name: str(pd.Series([], dtype=dtype).dtype) for name, dtype in schema.items()
        }
    assert list(frames.equity.columns) == ["ts_ns", "equity", "cash", "realized_pnl", "unrealized_pnl"]
    assert [str(t) for t in frames.equity.dtypes] == ["int64", "float64", "float64", "float64", "float64"]
    assert str(frames.equity.index.dtype) == "datetime64[ns, UTC]"
    assert frames.symbols() == []


def test_symbols_from_the_marks_else_the_fills() -> None:
    assert ledger_frames(round_trip().events).symbols() == [BTC]
    ledger = Ledger()
    ledger.fill(T0, "o1", "buy", 10.0, 1.0, symbol=ETH)
    assert ledger_frames(ledger.events).symbols() == [ETH]
