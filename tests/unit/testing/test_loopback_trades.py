"""Binance's trade paging rules, as ``TradeList`` serves them."""

from __future__ import annotations

import pytest

from virtuoso.testing import TradeList
from virtuoso.testing._capture import agg_trade, rest_trade
from virtuoso.testing._trades import BinanceRequestError

# 20 trades, ids 100..119, two per millisecond starting at 5000 ms.
EVENTS = [{"t": 100 + i, "p": "10.50", "q": "2.000", "T": 5000 + i // 2, "m": i % 3 == 0, "M": True} for i in range(20)]
ROWS = [rest_trade(event) for event in EVENTS]
RELEASE = [i * 1_000_000 for i in range(20)]


def ids(rows: list[dict[str, object]], key: str = "id") -> list[object]:
    return [row[key] for row in rows]


def test_rows_take_binance_shapes() -> None:
    assert ROWS[0] == {
        "id": 100,
        "price": "10.50",
        "qty": "2.000",
        "quoteQty": "21",
        "time": 5000,
        "isBuyerMaker": True,
        "isBestMatch": True,
    }
    assert agg_trade(ROWS[1]) == {
        "a": 101,
        "p": "10.50",
        "q": "2.000",
        "f": 101,
        "l": 101,
        "T": 5000,
        "m": False,
        "M": True,
    }


def test_recent_trades_are_the_last_limit_visible() -> None:
    trades = TradeList(ROWS)

    assert ids(trades.page("trades", {"limit": "3"}, 20)) == [117, 118, 119]
    assert ids(trades.page("trades", {"limit": "3"}, 10)) == [107, 108, 109]
    assert len(trades.page("trades", {}, 20)) == 20  # default 500


def test_from_id_is_inclusive_and_limited_by_what_is_visible() -> None:
    trades = TradeList(ROWS)

    assert ids(trades.page("historicalTrades", {"fromId": "105", "limit": "4"}, 20)) == [105, 106, 107, 108]
    assert ids(trades.page("historicalTrades", {"fromId": "118", "limit": "4"}, 20)) == [118, 119]
    assert ids(trades.page("historicalTrades", {"fromId": "105", "limit": "4"}, 7)) == [105, 106]
    assert trades.page("historicalTrades", {"fromId": "130"}, 20) == []


def test_agg_trades_page_by_inclusive_time_window() -> None:
    trades = TradeList([agg_trade(row) for row in ROWS])

    assert ids(trades.page("aggTrades", {"startTime": "5002", "limit": "3"}, 20), "a") == [104, 105, 106]
    assert ids(trades.page("aggTrades", {"startTime": "5002", "endTime": "5003"}, 20), "a") == [104, 105, 106, 107]
    assert ids(trades.page("aggTrades", {"endTime": "5001", "limit": "3"}, 20), "a") == [101, 102, 103]
    assert ids(trades.page("aggTrades", {"fromId": "118"}, 20), "a") == [118, 119]


def test_visibility_follows_release_times() -> None:
    trades = TradeList(ROWS, RELEASE)

    assert trades.visible(None) == 20
    assert trades.visible(0) == 1
    assert trades.visible(4_500_000) == 5


@pytest.mark.parametrize(
    ("endpoint", "query", "code"),
    [
        ("aggTrades", {"startTime": "0", "endTime": "3600001"}, -1127),
        ("aggTrades", {"fromId": "1", "startTime": "0"}, -1128),
        ("trades", {"limit": "1001"}, -1130),
        ("trades", {"limit": "0"}, -1130),
        ("historicalTrades", {"fromId": "x"}, -1100),
    ],
)
def test_binance_refusals(endpoint: str, query: dict[str, str], code: int) -> None:
    with pytest.raises(BinanceRequestError) as raised:
        TradeList(ROWS).page(endpoint, query, 20)
    assert raised.value.code == code


def test_a_one_hour_window_is_allowed() -> None:
    assert len(TradeList([agg_trade(r) for r in ROWS]).page("aggTrades", {"startTime": "0", "endTime": "3600000"}, 20))
