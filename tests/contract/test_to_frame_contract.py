"""``virtuoso.export.to_frame``: the same typed frames on both backends, whatever the chunk size."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from tests.contract.test_event_store_contract import SID, A, B, note, read_all, trade
from virtuoso.errors import SessionError, UsageError
from virtuoso.events import Note, Trade
from virtuoso.export import frame_of, to_frame
from virtuoso.store import EventFilter, EventStore, SessionInfo

pytestmark = pytest.mark.asyncio


async def two_sessions(store: EventStore, session: SessionInfo) -> None:
    """Trades and notes in ``session``, and trades of another session interleaved with them."""
    await store.begin_session("other", "tests", started_ns=1, session_id="s-other")
    for block in range(3):
        await store.append([trade(n, A) for n in range(10 * block, 10 * block + 6)] + [note(block)])
        await store.append([trade(n, B, session="s-other") for n in range(10 * block, 10 * block + 4)])


async def test_one_type_is_that_types_frame_of_the_session(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    events = await read_all(store, EventFilter(session=SID, types=("Trade",)))

    frame = await to_frame(store, session=SID, types="Trade", chunk_size=4)

    assert_frame_equal(frame, frame_of(events, Trade))
    assert len(frame) == 18
    assert set(frame["session"]) == {SID}
    assert frame["position"].is_monotonic_increasing


async def test_the_chunk_size_does_not_change_the_frame(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    whole = await to_frame(store, session=SID, types=[Trade], chunk_size=10_000)

    for chunk_size in (1, 3, 7):
        assert_frame_equal(await to_frame(store, session=SID, types=[Trade], chunk_size=chunk_size), whole)


async def test_several_types_share_one_frame_in_position_order(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    events = await read_all(store, EventFilter(session=SID, types=("Trade", "Note")))

    frame = await to_frame(store, session=SID, types=("Note", "Trade"), chunk_size=5)

    assert list(frame["position"]) == [e.position for e in events]
    assert list(frame["type"]) == [e.type for e in events]
    notes = frame[frame["type"] == "Note"]
    assert notes["price"].isna().all()
    assert list(notes["message"]) == ["note 0", "note 1", "note 2"]
    assert list(notes["data"]) == ['{"n":"0"}', '{"n":"1"}', '{"n":"2"}']
    assert frame.loc[frame["type"] == "Trade", "message"].isna().all()


async def test_without_types_every_event_of_the_selection_is_there(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    everything = await read_all(store)

    frame = await to_frame(store, chunk_size=6)

    assert list(frame["id"]) == [e.id for e in everything]
    assert set(frame["type"]) == {"SessionStarted", "Trade", "Note"}


async def test_streams_and_times_narrow_the_selection(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)

    frame = await to_frame(store, streams=[B], start_ns=2_000 + 100 * 10, end_ns=2_000 + 100 * 21, types="Trade")

    assert list(frame["trade_id"].astype(int) - 3_735_683_259) == [10, 11, 12, 13, 20]
    assert set(frame["session"]) == {"s-other"}


async def test_a_session_prefix_is_enough_an_unknown_one_is_an_error(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    assert len(await to_frame(store, session="s-ot", types=Trade)) == 12
    with pytest.raises(SessionError, match="no session with id 'nope'"):
        await to_frame(store, session="nope")


async def test_nothing_selected_gives_an_empty_frame_with_the_columns(store: EventStore, session: SessionInfo) -> None:
    frame = await to_frame(store, session=SID, types="Note")

    assert len(frame) == 0
    assert list(frame.columns) == list(frame_of([], Note).columns)
    assert str(frame["position"].dtype) == "int64"


async def test_an_unknown_type_is_a_usage_error(store: EventStore, session: SessionInfo) -> None:
    with pytest.raises(UsageError, match="unknown event type 'Trades'"):
        await to_frame(store, types=["Trade", "Trades"])


async def test_times_are_utc_datetimes_of_the_ns_integers(store: EventStore, session: SessionInfo) -> None:
    await two_sessions(store, session)
    frame = await to_frame(store, session=SID, types=Trade)

    assert (frame["time_event"] == pd.to_datetime(frame["ts_event"], unit="ns", utc=True)).all()
    assert (frame["time_recv"] - frame["time_event"] == pd.Timedelta(7, "ns")).all()


async def test_types_found_give_their_columns_in_order_of_their_first_event(
    store: EventStore, session: SessionInfo
) -> None:
    await store.append([trade(n, A) for n in range(3)])
    await store.end_session(SID, ended_ns=10_000)  # columnar: sealed, the session's two lifecycle events in one blob

    frame = await to_frame(store, session=SID, chunk_size=2)

    assert list(dict.fromkeys(frame["type"])) == ["SessionStarted", "Trade", "SessionEnded"]
    payload = list(frame.columns[list(frame.columns).index("type") + 1 :])
    assert payload.index("config_hash") < payload.index("trade_id") < payload.index("status")
