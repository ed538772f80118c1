"""Loading the hftbacktest captures, and the exchange-side book that answers depth requests."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.conftest import require_data, shared_data
from virtuoso.book import DepthSync, OrderBook, SyncRule, Verdict
from virtuoso.events import BookDelta, BookSnapshot
from virtuoso.testing import load_captures
from virtuoso.testing._book import DepthState

SPOT = "hftbacktest/examples/spot/btcusdt_20240808.gz"
USDM = "hftbacktest/examples/usdm/btcusdt_20240808.gz"


def test_spot_capture_frames_keep_the_recorded_text() -> None:
    capture = load_captures(shared_data(), (require_data(SPOT),), max_messages=2000)

    assert len(capture.frames) == 2000
    assert set(capture.snapshots) == {"BTCUSDT"}
    snapshot_id = capture.snapshots["BTCUSDT"]["lastUpdateId"]
    depth = capture.depth("BTCUSDT")
    assert any(d.data["U"] <= snapshot_id + 1 <= d.data["u"] for d in depth[:10])  # Binance's sync point is near
    first = capture.frames[0]
    assert (first.market, first.stream, first.event, first.symbol) == (
        "spot",
        "btcusdt@depth@100ms",
        "depth",
        "BTCUSDT",
    )
    assert first.combined == '{"stream":"btcusdt@depth@100ms","data":' + first.raw + "}"
    assert first.data == json.loads(first.raw)  # the parsed data is the recorded text's
    assert [f.index for f in capture.frames[:3]] == [0, 1, 2]
    trades = capture.trades("BTCUSDT")
    first_id = trades[0].data["t"]
    assert [t.data["t"] for t in trades] == list(range(first_id, first_id + len(trades)))  # none lost or repeated


def test_futures_capture_is_keyed_as_linear() -> None:
    capture = load_captures(shared_data(), (require_data(USDM),), max_messages=200)

    assert set(capture.snapshots) == {"linear:BTCUSDT"}
    assert {frame.key for frame in capture.frames} == {"linear:BTCUSDT"}
    assert capture.depth("linear:BTCUSDT")[0].data["pu"] > 0


def test_cryptofeed_recordings_load_with_snapshots_named_by_their_url() -> None:
    files = ("cryptofeed/sample_data/BINANCE_FUTURES.ws.1.0", "cryptofeed/sample_data/BINANCE_FUTURES.http.0.0")
    capture = load_captures(shared_data(), tuple(require_data(name) for name in files))

    assert set(capture.snapshots) == {"linear:SUSHIUSDT", "linear:AKROUSDT", "linear:KEEPUSDT", "linear:CTKUSDT"}
    assert {frame.market for frame in capture.frames} == {"linear"}
    assert {frame.event for frame in capture.frames} == {"depth", "bookTicker", "aggTrade", "kline_1m"}
    assert capture.frames[0].ts_ns > 1_626_000_000 * 10**9
    stamps = [frame.ts_ns for frame in capture.frames]
    assert stamps == sorted(stamps)


def test_depth_state_moves_the_recorded_book_forward_exactly() -> None:
    capture = load_captures(shared_data(), (require_data(SPOT),), max_messages=3000)
    updates = capture.depth("BTCUSDT")
    state = DepthState(capture.snapshots["BTCUSDT"], updates, futures=False)

    assert state.body(5)["lastUpdateId"] == 50093239218
    state.advance_to(updates[100].index)
    body = state.body(1000)

    expected = rebuilt(capture.snapshots["BTCUSDT"], [u.data for u in updates[:101]])
    assert body["lastUpdateId"] == updates[100].data["u"]
    assert [(float(p), float(s)) for p, s in body["bids"][:300]] == expected.bids(300)
    assert [(float(p), float(s)) for p, s in body["asks"][:300]] == expected.asks(300)
    prices = [Decimal(p) for p, _ in body["bids"]]
    assert prices == sorted(prices, reverse=True)


def rebuilt(snapshot: dict[str, object], updates: list[dict[str, object]]) -> OrderBook:
    """The book by the library's own DepthSync + OrderBook, independently of DepthState."""
    book = OrderBook(floats(snapshot["bids"]), floats(snapshot["asks"]))
    sync = DepthSync(SyncRule.SPOT)
    sync.on_snapshot(BookSnapshot((), (), int(str(snapshot["lastUpdateId"]))))
    for update in updates:
        delta = BookDelta((), (), int(str(update["U"])), int(str(update["u"])))
        if sync.on_delta(delta).verdict is Verdict.APPLY:
            book.apply(floats(update["b"]), floats(update["a"]))
    return book


def floats(levels: object) -> list[tuple[float, float]]:
    assert isinstance(levels, list)
    return [(float(price), float(size)) for price, size in levels]
